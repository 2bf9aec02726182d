// Fuzz target: the configuration loader (config/).
//
// One input drives three entry points:
//   1. ParseDotEnv on the whole input (any bytes, NULs included);
//   2. ParseYamlFile on the whole input, with ${VAR} lookups answered;
//   3. Loader::Load, the path every program takes: the input is split at
//      NUL bytes into .env text, config.yml text and KEY=VALUE environment
//      lines, written into a scratch working directory (./.env and
//      ./config/config.yml) and loaded. CONFIG_PATH is dropped from the
//      fuzzed environment so inputs never name host files.
// Properties: only ConfigError escapes (never another exception, never a
// crash); every ConfigError is one line "config: ...; allowed: ...";
// a Config that loads holds only values its rules allow.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/dotenv.h"
#include "config/yaml_file.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using forge::config::Config;
using forge::config::ConfigError;
using forge::config::Environment;
namespace internal = forge::config::internal;

void CheckError(const ConfigError& e) {
  const std::string_view what = e.what();
  FUZZ_CHECK(forge::fuzz::OneLine(what), std::string(what));
  FUZZ_CHECK(what.starts_with("config: "), std::string(what));
  FUZZ_CHECK(what.find("; allowed: ") != std::string_view::npos,
             std::string(what));
}

bool PowerOfTwo(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// What a loaded Config may hold (docs/design.md §7 rules).
void CheckConfig(const Config& c) {
  const std::string port = std::to_string(c.port);
  FUZZ_CHECK(c.port >= 1 && c.port <= 65535, port);
  FUZZ_CHECK(c.workers >= 1 && c.workers <= 256, std::to_string(c.workers));
  // RANGE_SIZE is auto (sized between MIN and MAX) or fixed, never both.
  const bool automatic = c.range_size == Config::kAutoRangeSize;
  FUZZ_CHECK(automatic || (c.range_size >= 1 && c.range_size <= 1000000000),
             std::to_string(c.range_size));
  FUZZ_CHECK(c.range_size_min >= 1 && c.range_size_min <= c.range_size_max &&
                 c.range_size_max <= 1000000000,
             std::to_string(c.range_size_min) + ".." +
                 std::to_string(c.range_size_max));
  FUZZ_CHECK(PowerOfTwo(c.pool_capacity), std::to_string(c.pool_capacity));
  FUZZ_CHECK(c.key_length >= 1 && c.key_length <= 10,
             std::to_string(c.key_length));
  FUZZ_CHECK(c.empty_wait_ms >= 0 && c.empty_wait_ms <= 60000,
             std::to_string(c.empty_wait_ms));
  FUZZ_CHECK(c.max_batch >= 1 && c.max_batch <= 1000000,
             std::to_string(c.max_batch));
  FUZZ_CHECK(!c.shm_name.empty() && c.shm_name.size() <= 200, c.shm_name);
  FUZZ_CHECK(!c.db_url.empty(), c.db_url);
  FUZZ_CHECK(!c.host.empty(), c.host);
}

std::vector<std::string> SplitAtNul(std::string_view data, std::size_t parts) {
  std::vector<std::string> out;
  while (out.size() + 1 < parts) {
    const std::size_t nul = data.find('\0');
    if (nul == std::string_view::npos) break;
    out.emplace_back(data.substr(0, nul));
    data.remove_prefix(nul + 1);
  }
  out.emplace_back(data);
  out.resize(parts);
  return out;
}

// "KEY=VALUE" lines; CONFIG_PATH is dropped (it would name host files).
std::map<std::string, std::string> EnvLines(std::string_view text) {
  std::map<std::string, std::string> vars;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    const std::size_t eq = line.find('=');
    if (eq != std::string_view::npos && line.substr(0, eq) != "CONFIG_PATH") {
      vars.emplace(line.substr(0, eq), line.substr(eq + 1));
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return vars;
}

// A scratch working directory for this process, made once and removed at
// exit (a crash leaves it, next to the crashing input).
struct Scratch {
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
           "/forge-config-fuzz-XXXXXX";
    if (::mkdtemp(path.data()) == nullptr) std::abort();
    ::mkdir((path + "/config").c_str(), 0700);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

const std::string& ScratchDir() {
  static const Scratch scratch;
  return scratch.path;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

void FuzzDotEnv(const std::string& text) {
  try {
    internal::ParseDotEnv(text, "/fuzz/.env");
  } catch (const ConfigError& e) {
    CheckError(e);
  }
}

void FuzzYaml(const std::string& text) {
  const internal::Lookup lookup =
      [](const std::string& name) -> std::optional<std::string> {
    if (name.size() % 3 == 0) return std::nullopt;  // some names unset
    return "v-" + name;
  };
  try {
    internal::ParseYamlFile(text, "/fuzz/config.yml", lookup);
  } catch (const ConfigError& e) {
    CheckError(e);
  }
}

void FuzzLoader(std::string_view data) {
  static CLI::App app{"fuzz"};
  static const forge::config::Loader loader(app);  // no flags given
  const std::vector<std::string> parts = SplitAtNul(data, 3);
  WriteFile(ScratchDir() + "/.env", parts[0]);
  WriteFile(ScratchDir() + "/config/config.yml", parts[1]);
  Environment env;
  env.vars = EnvLines(parts[2]);
  env.cwd = ScratchDir();
  try {
    CheckConfig(loader.Load(env));
  } catch (const ConfigError& e) {
    CheckError(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  FuzzDotEnv(text);
  FuzzYaml(text);
  FuzzLoader(text);
  return 0;
}
