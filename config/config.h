// config/config.h — the one configuration loader all programs use.
//
// Contract (DESIGN.md §7)
//   * Precedence, highest first: command-line flag > environment variable >
//     `.env` in the working directory > config.yml (with ${VAR} expansion;
//     path from --config / CONFIG_PATH, else ./config/config.yml if it
//     exists) > built-in default.
//   * Every value is validated on load. A bad one throws ConfigError whose
//     what() is one line: the key, the value, where it came from, and what
//     is allowed. Programs print it and exit 2. Unknown keys in config.yml
//     and unknown DB_URL schemes are errors too.
//   * Not thread-safe while loading (call it once in main); the returned
//     Config is a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace CLI {
class App;
}

namespace forge::config {

enum class KeyOrder { kScrambled, kSequential };
enum class LogFormat { kText, kJson };

struct Config {
  // Frontend.
  std::string host = "0.0.0.0";
  int port = 8080;
  int workers = 0;  // the loader replaces 0 with the number of CPUs
  int empty_wait_ms = 100;
  int max_batch = 10000;
  int http_threads = 64;           // HTTP_THREADS, per worker
  int keep_alive_max = 1000;       // KEEP_ALIVE_MAX requests per connection
  int keep_alive_timeout_s = 5;    // KEEP_ALIVE_TIMEOUT seconds
  int listen_backlog = 4096;       // LISTEN_BACKLOG
  // Broker.
  std::uint64_t range_size = 1000;
  std::uint64_t pool_capacity = 65536;
  std::string db_url = "sqlite:./data/forge.db";
  int key_length = 7;
  KeyOrder key_order = KeyOrder::kScrambled;
  // All programs.
  std::string shm_name = "mini-forge";
  bool debug = false;
  LogFormat log_format = LogFormat::kText;
  std::string config_path;  // the config.yml actually read, or ""
};

// Where a value came from, for error messages.
enum class Source { kDefault, kYaml, kDotEnv, kEnv, kFlag };
const char* SourceName(Source s);  // "default", "config.yml", ".env", ...

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The process environment and working directory, injectable for tests.
struct Environment {
  std::map<std::string, std::string> vars;
  std::string cwd = ".";
  static Environment FromProcess();
};

// Usage in a main():
//   CLI::App app{"forge-broker"};
//   forge::config::Loader loader(app);      // registers --port, --config ...
//   CLI11_PARSE(app, argc, argv);            // (or try/catch ParseError)
//   Config cfg = loader.Load();              // throws ConfigError
class Loader {
 public:
  explicit Loader(CLI::App& app);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  Config Load(const Environment& env = Environment::FromProcess()) const;

 private:
  struct Flags;
  Flags* flags_;  // owned; values CLI11 writes into during parse
};

// Parses argv into `app` and loads the config. Returns nullopt when the
// program should exit now with *exit_code: 0 after --help, 2 after a CLI11
// or ConfigError (printed to stderr as one line).
std::optional<Config> ParseArgs(CLI::App& app, const Loader& loader, int argc,
                                char** argv, int* exit_code);

}  // namespace forge::config
