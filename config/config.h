// config/config.h — the one configuration loader all programs use.
//
// Contract (docs/design.md §7)
//   * Precedence, highest first: command-line flag > environment variable >
//     `.env` in the working directory > config.yml (with ${VAR} expansion;
//     path from --config / CONFIG_PATH, else ./config/config.yml if it
//     exists) > built-in default.
//   * Every value is validated on load. A bad one throws ConfigError whose
//     what() is one line: the key, the value, where it came from, and what
//     is allowed. Programs print it and exit 2. Unknown keys in config.yml
//     and unknown DB_URL schemes are errors too.
//   * Empty values are errors (PORT= is rejected, not ignored). In
//     config.yml a null value (`port:` or `port: ~`) means "not set here".
//     Unknown variables in .env are allowed: they only feed ${VAR}.
//   * Keys in config.yml are the environment names in lower or upper case
//     (port or PORT, so the Go service's config.yml works unchanged).
//   * Settings that only make sense together are checked together:
//     AUTH_PROTECT_ALL=true without an AUTH_TOKEN is an error.
//   * Only regular files are read (a FIFO or a device named by CONFIG_PATH
//     or --config, or found as .env, is an error, never a wait), each at
//     most 1 MiB, and at most 1 MiB of config.yml values after ${VAR}
//     expansion.
//   * A DB_URL password never appears in a message (config/db_url.h
//     RedactDbUrl), nor does any part of AUTH_TOKEN (shown as "***").
//   * The error line is a JSON log line (base/log.h) when LOG_FORMAT
//     asks for json in any layer that can still be read, else plain text.
//   * Not thread-safe while loading (call it once in main); the returned
//     Config is a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "keys/blocklist.h"
#include "keys/key_codec.h"

namespace CLI {
class App;
}

namespace forge::config {

using KeyOrder = keys::KeyOrder;  // KEY_ORDER: keys/key_order.h
using LogFormat = log::Format;    // LOG_FORMAT: base/log.h

// One entry of config.yml's `namespaces:` map (issue 13): a namespace the
// broker creates at start when the store lacks it, and whose stored format
// must match (else the broker exits 2 naming the namespace and the field).
struct NamespaceDecl {
  std::string name;  // base::IsNamespaceName, never "default"
  int key_length = 7;
  KeyOrder key_order = KeyOrder::kScrambled;
  std::uint64_t pool_capacity = 0;  // ring slots; 0: NS_POOL_CAPACITY
  // Issue 14: alphabet, check, prefix (fixed at creation, must match the
  // store's like key_length) and the blocklist the namespace is created
  // with (default: the built-in list; a FILE's words are read at load).
  keys::KeyPolicy policy;
  keys::BlocklistSpec blocklist{keys::BlocklistKind::kDefault, {}};
};

// One line of AUTH_TOKENS_FILE: a bearer token that reaches only the
// listed namespaces.
struct ScopedToken {
  std::string token;
  std::vector<std::string> namespaces;
};

struct Config {
  // Frontend.
  std::string host = "0.0.0.0";
  int port = 8080;
  int workers = 0;  // the loader replaces 0 with the number of CPUs
  // WORKER_CPU_AFFINITY: auto (true) pins worker i to the i-th CPU and
  // steers connections to the worker of the CPU that processes their
  // packets, when WORKERS covers every CPU (frontend/cpu_steer.h); off
  // (false): one shared socket, workers float.
  bool worker_cpu_affinity = true;
  int empty_wait_ms = 100;
  int max_batch = 10000;
  int http_threads = 64;         // HTTP_THREADS, per worker
  int keep_alive_max = 1000;     // KEEP_ALIVE_MAX requests per connection
  int keep_alive_timeout_s = 5;  // KEEP_ALIVE_TIMEOUT seconds
  int listen_backlog = 4096;     // LISTEN_BACKLOG
  // AUTH_TOKEN: when set, /get-key and /get-keys need "Authorization:
  // Bearer <token>". Never logged; masked in every config message.
  std::string auth_token;
  bool auth_protect_all = false;  // AUTH_PROTECT_ALL: /healthz, /metrics too
  // AUTH_TOKENS_FILE: lines "TOKEN ns1,ns2"; read and checked at load into
  // scoped_tokens. Tokens are never logged.
  std::string auth_tokens_file;
  std::vector<ScopedToken> scoped_tokens;
  // Broker.
  // RANGE_SIZE: numbers per reservation; kAutoRangeSize (the default,
  // "auto"): the broker sizes each one to the demand it sees, between
  // RANGE_SIZE_MIN and RANGE_SIZE_MAX (broker/range_sizer.h).
  static constexpr std::uint64_t kAutoRangeSize = 0;
  std::uint64_t range_size = kAutoRangeSize;
  std::uint64_t range_size_min = 1000;
  std::uint64_t range_size_max = 1000000;
  // ENCODE_THREADS: threads the broker encodes on (its loop's included);
  // kAutoEncodeThreads (the default, "auto"): the CPUs, at most 4
  // (broker::AutoEncodeThreads).
  static constexpr std::uint32_t kAutoEncodeThreads = 0;
  std::uint32_t encode_threads = kAutoEncodeThreads;
  // BROKER_NICE: the broker's niceness, -20..19. Below the workers' 0 so
  // the one producer is not starved by the HTTP workers it feeds when CPUs
  // are busy (issue 18 §2: 503s at count=10000 on 2 cores); mostly asleep,
  // it costs nobody anything when idle.
  int broker_nice = -10;
  std::uint64_t pool_capacity = 65536;    // the default namespace's ring
  std::uint64_t ns_pool_capacity = 4096;  // NS_POOL_CAPACITY: other rings
  // config.yml `namespaces:`, by name.
  std::vector<NamespaceDecl> namespaces;
  // NAMESPACES: the namespaces this broker serves; empty: all of the
  // store's (found again every second).
  std::vector<std::string> serve_namespaces;
  std::string db_url = "sqlite:./data/forge.db";
  int key_length = 7;
  KeyOrder key_order = KeyOrder::kScrambled;
  // STORE_TIMEOUT_MS: the longest one store call may block (PostgreSQL
  // lock/statement/idle-in-transaction timeouts, SQLite busy timeout).
  int store_timeout_ms = 2000;
  // STORE_REQUIRE_SYNC: reserve only while the store commits synchronously
  // to a standby (issue 16); otherwise state store-unsafe.
  bool store_require_sync = false;
  // All programs.
  std::string shm_name = "mini-forge";
  // SHM_MODE: the mode the broker gives its segments, 0600 (owner only) or
  // 0660 (the owner's group may attach: workers, clients, forge-ctl).
  unsigned shm_mode = 0600;
  bool debug = false;
  LogFormat log_format = LogFormat::kText;
  std::string config_path;  // the config.yml actually read, or ""
};

// Where a value came from, for error messages.
enum class Source { kDefault, kYaml, kDotEnv, kEnv, kFlag };
const char* SourceName(Source s);  // "default", "config.yml", ".env", ...

// A bad configuration; what() is the one line printed (base/status.h).
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what)
      : Error(Code::kInvalidArgument, what) {}
};

// The process environment and working directory, injectable for tests.
struct Environment {
  std::map<std::string, std::string> vars;
  std::string cwd = ".";
  static Environment FromProcess();
};

// Usage in a main():
//   CLI::App app{"mini-forge key broker", "forge-broker"};
//   forge::config::Loader loader(app);  // registers --port ... --config
//   int code = 0;
//   auto cfg = forge::config::ParseArgs(app, loader, argc, argv, &code);
//   if (!cfg) return code;              // 0 after --help, 2 on bad input
// The Loader registers every flag on `app` itself (not on a subcommand)
// and sets app.fallthrough(), so subcommands accept the flags too. The
// Loader must outlive the parse (CLI11 writes into it).
class Loader {
 public:
  explicit Loader(CLI::App& app);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  Config Load(const Environment& env = Environment::FromProcess()) const;

  // Best effort, never throws: the LOG_FORMAT the first layer that has a
  // valid one asks for (flag, environment, .env, config.yml, read
  // leniently), else kText. For the format of an error line when Load
  // (or the command line) failed.
  LogFormat RequestedLogFormat(
      const Environment& env = Environment::FromProcess()) const;

 private:
  std::map<std::string, std::string> Given() const;  // flags on argv

  struct Flags;
  // Values CLI11 writes into during the parse: on the heap, so that the
  // addresses it holds stay put.
  std::unique_ptr<Flags> flags_;
};

// Parses argv into `app` and loads the config. Returns nullopt when the
// program should exit now with *exit_code: 0 after --help, 2 after a CLI11
// or ConfigError (printed to stderr as one line, a JSON object when
// RequestedLogFormat is json); otherwise *exit_code = 0.
// Never throws for bad input. Subcommands of `app` get fallthrough(), so the
// config flags work after a subcommand too (`forge-ctl stats --shm-name x`).
// Subcommand callbacks run inside parsing, before the config is loaded:
// check `sub->parsed()` after ParseArgs instead.
std::optional<Config> ParseArgs(
    CLI::App& app, const Loader& loader, int argc, char** argv, int* exit_code,
    const Environment& env = Environment::FromProcess());

}  // namespace forge::config
