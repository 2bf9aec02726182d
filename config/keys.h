// config/keys.h — the table of configuration keys and their rules
// (internal to config/).
//
// Contract
//   * Keys() lists every key except CONFIG_PATH (which chooses config.yml
//     rather than living in it), in docs/design.md §7 order. Built once on
//     first use (thread-safe static), immutable afterwards.
//   * KeySpec::apply parses one raw string, checks the rule and stores the
//     typed value into a Config. On a bad value it returns a Status whose
//     message is the problem ("is out of range") and leaves the Config
//     untouched.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace forge::config::internal {

// An invalid value gives Code::kInvalidArgument and a phrase ("is out of
// range") that the loader puts into its one-line message.
using Apply = std::function<Status(std::string_view, Config&)>;

struct KeySpec {
  std::string env;           // PORT
  std::string yml;           // port
  std::string flag;          // --port
  std::string help;          // one phrase for --help
  std::string default_text;  // the default, as --help shows it
  std::string allowed;       // the rule, for messages and --help
  std::string type;          // --help placeholder: INT, ADDR, URL, ...
  // How a value is shown in messages; nullptr = as given. DB_URL hides
  // its password, AUTH_TOKEN everything.
  std::string (*mask)(std::string_view) = nullptr;
  bool is_switch = false;  // may be given without a value (--debug)
  Apply apply;
};

const std::vector<KeySpec>& Keys();

// Strict decimal in lo..hi: digits only, no sign, no spaces, no fraction,
// no overflow ("is not an integer", "is out of range").
Result<std::uint64_t> ParseUnsigned(std::string_view v, std::uint64_t lo,
                                    std::uint64_t hi);

// The AUTH_TOKEN rule (also each AUTH_TOKENS_FILE token's): 16..4096
// printable ASCII characters without spaces. The message never names a
// character of the token, only its length or a position.
inline constexpr std::size_t kTokenMin = 16;
inline constexpr std::size_t kTokenMax = 4096;
Status CheckToken(std::string_view v);

// Number of CPUs this process may run on, clamped to 1..256.
int CpuCount();

}  // namespace forge::config::internal
