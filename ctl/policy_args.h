// ctl/policy_args.h — the key policy options of `forge-ctl namespace
// create` (--alphabet, --check, --prefix, --blocklist, --key-length) and
// the list argument of `namespace blocklist`, checked before the store is
// opened.
//
// Contract
//   * Every bad value throws BadArgument (store_access.h: exit 2) with one
//     line naming the option, the value and the rule (keys::kAlphabetRule,
//     kCheckRule, kPrefixRule, kBlocklistRule, KeyLengthProblem naming the
//     largest length, CheckProblem).
//   * A blocklist argument is `default`, `none`, or a FILE path (relative
//     to the working directory; `./default` for a file called default)
//     read with config's ReadFile (regular files up to 1 MiB, never
//     blocking) and parsed by keys::ParseBlocklistWords (errors name
//     FILE:line).
//   * A prefix that itself contains a word of the blocklist is refused
//     (every key of the namespace would be blocked): PrefixBlocked.
#pragma once

#include <optional>
#include <string>

#include "keys/blocklist.h"
#include "keys/key_codec.h"

namespace forge::ctl {

// The policy options as typed.
struct PolicyOptions {
  std::string alphabet{keys::kDefaultAlphabet};
  std::string check = "none";
  std::string prefix;
  std::optional<std::string> blocklist;  // nullopt: not given ("default")
};

// The policy `options` describe for keys of `length` digits (throws
// BadArgument, see the contract).
keys::KeyPolicy ParsePolicy(const PolicyOptions& options, int length);

// The list `text` names (`option` is how the message names the argument).
keys::BlocklistSpec ParseBlocklistArg(const std::string& text,
                                      const std::string& option);

// Throws BadArgument naming the word when `prefix` contains a word of
// `list` (`option` names the argument that chose the list).
void CheckPrefixAllowed(const std::string& prefix,
                        const keys::BlocklistSpec& list,
                        const std::string& option);

// "none", "default (312 words)", "custom (12 words)": a blocklist and its
// size, for a person.
std::string BlocklistText(const keys::BlocklistSpec& list);

}  // namespace forge::ctl
