// Configuration errors at the process level (issue 4, item 7): every key of
// DESIGN.md §7 (and the frontend's HTTP/auth keys) with an invalid value,
// from each source (environment, flag, .env, config.yml), and broken
// config files. The real forge-broker, forge-frontend and forge-ctl stats
// must each exit 2 with exactly one line on stderr naming the key, the
// value (secrets masked), where it came from and what is allowed — before
// they touch a store, a segment or a port. config/ has the unit tests of
// the loader; this checks what a person running the programs sees.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shm/segment.h"
#include "tests/faults/fault_util.h"
#include "tests/support/process.h"

namespace forge::faults {
namespace {

using std::chrono::milliseconds;
using testing::Bin;
using testing::Env;
using testing::RunResult;
using testing::ShmName;
using testing::TempDir;

// One invalid value per key; `shown` is how the message must print it,
// `rule` a part of the allowed-values text it must contain.
struct BadValue {
  std::string key;  // environment name; config.yml uses it in lower case
  std::string flag;
  std::string value;
  std::string shown;
  std::string rule;
};

const std::vector<BadValue>& BadValues() {
  static const std::vector<BadValue> values = {
      {"PORT", "--port", "0", "\"0\"", "1..65535"},
      {"HOST", "--host", "bad host!", "\"bad host!\"", "host name"},
      {"WORKERS", "--workers", "257", "\"257\"", "1..256"},
      {"RANGE_SIZE", "--range-size", "1000000001", "\"1000000001\"",
       "1..1000000000"},
      {"POOL_CAPACITY", "--pool-capacity", "1000", "\"1000\"", "67108864"},
      {"DB_URL", "--db-url", "mysql://app:hunter2@db/forge",
       "\"mysql://app:***@db/forge\"", "sqlite:PATH"},
      {"SHM_NAME", "--shm-name", "a/b", "\"a/b\"", "A-Z a-z 0-9"},
      {"KEY_LENGTH", "--key-length", "11", "\"11\"", "1..10"},
      {"KEY_ORDER", "--key-order", "random", "\"random\"",
       "scrambled or sequential"},
      {"EMPTY_WAIT_MS", "--empty-wait-ms", "-1", "\"-1\"", "0..60000"},
      {"MAX_BATCH", "--max-batch", "0", "\"0\"", "1..1000000"},
      {"DEBUG_ENABLED", "--debug", "maybe", "\"maybe\"", "true, false"},
      {"HTTP_THREADS", "--http-threads", "0", "\"0\"", "1..4096"},
      {"KEEP_ALIVE_MAX", "--keep-alive-max", "1e3", "\"1e3\"", "1..1000000"},
      {"KEEP_ALIVE_TIMEOUT", "--keep-alive-timeout", "0", "\"0\"", "1..3600"},
      {"LISTEN_BACKLOG", "--listen-backlog", "65536", "\"65536\"", "1..65535"},
      {"LOG_FORMAT", "--log-format", "xml", "\"xml\"", "text or json"},
      {"AUTH_TOKEN", "--auth-token", "hunter2-hunter2", "\"***\"", "16..4096"},
      {"AUTH_PROTECT_ALL", "--auth-protect-all", "perhaps", "\"perhaps\"",
       "true, false"},
  };
  return values;
}

// The three programs, as argv prefixes.
const std::vector<std::vector<std::string>>& Programs() {
  static const std::vector<std::vector<std::string>> programs = {
      {"forge-broker"}, {"forge-frontend"}, {"forge-ctl", "stats"}};
  return programs;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

class ConfigProcessTest : public ::testing::Test {
 protected:
  // Valid values for what a program would need to start, minus `without`:
  // a program that wrongly accepts its config starts harmlessly here.
  Env BaseEnv(const std::string& without = "") const {
    Env env = {{"SHM_NAME", shm_.str()},
               {"DB_URL", "sqlite:" + (dir_ / "forge.db")},
               {"HOST", "127.0.0.1"},
               {"PORT", std::to_string(testing::FreePort())},
               {"WORKERS", "1"}};
    env.erase(without);
    return env;
  }

  RunResult RunProgram(const std::vector<std::string>& program, Env env,
                       const std::vector<std::string>& args = {}) const {
    std::vector<std::string> argv = {Bin(program[0])};
    argv.insert(argv.end(), program.begin() + 1, program.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Run(argv, std::move(env), milliseconds(5000), dir_.path());
  }

  // Exit 2, nothing on stdout, exactly one line on stderr holding every
  // one of `needles`; nothing was created.
  void ExpectOneLine(const RunResult& r,
                     const std::vector<std::string>& needles) const {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.back(), '\n');
    ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
    for (const std::string& needle : needles) {
      EXPECT_NE(r.err.find(needle), std::string::npos)
          << "'" << needle << "' missing from: " << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir_ / "forge.db"));
    EXPECT_FALSE(std::filesystem::exists(shm::Segment::ObjectPath(shm_.str())));
  }

  void ExpectBadValue(const RunResult& r, const BadValue& v,
                      const std::string& source) const {
    ExpectOneLine(r, {v.key + "=" + v.shown, source, "allowed:", v.rule});
    // Secrets never appear, not even in part.
    EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
  }

  void WriteFile(const std::string& path, const std::string& text) const {
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
  }

  TempDir dir_;
  ShmName shm_;
};

TEST_F(ConfigProcessTest, EveryKeyFromTheEnvironment) {
  for (const BadValue& v : BadValues()) {
    for (const auto& program : Programs()) {
      SCOPED_TRACE(program[0] + " with " + v.key + "=" + v.value);
      Env env = BaseEnv();
      env[v.key] = v.value;
      ExpectBadValue(RunProgram(program, env), v, "(from environment)");
    }
  }
}

TEST_F(ConfigProcessTest, EveryKeyFromAFlag) {
  for (const BadValue& v : BadValues()) {
    for (const auto& program : Programs()) {
      SCOPED_TRACE(program[0] + " with " + v.flag + "=" + v.value);
      ExpectBadValue(
          RunProgram(program, BaseEnv(v.key), {v.flag + "=" + v.value}), v,
          "(from flag " + v.flag + ")");
    }
  }
}

TEST_F(ConfigProcessTest, EveryKeyFromDotEnv) {
  const std::string path = dir_ / ".env";
  for (const BadValue& v : BadValues()) {
    WriteFile(path, "# written by the test\n" + v.key + "='" + v.value + "'\n");
    SCOPED_TRACE(".env with " + v.key + "=" + v.value);
    ExpectBadValue(RunProgram({"forge-broker"}, BaseEnv(v.key)), v,
                   "(from .env " + path + ":2)");
  }
}

TEST_F(ConfigProcessTest, EveryKeyFromTheDefaultConfigYml) {
  const std::string path = dir_ / "config/config.yml";
  for (const BadValue& v : BadValues()) {
    WriteFile(path, "# written by the test\n" + Lower(v.key) + ": \"" +
                        v.value + "\"\n");
    SCOPED_TRACE("config.yml with " + Lower(v.key) + ": " + v.value);
    ExpectBadValue(RunProgram({"forge-frontend"}, BaseEnv(v.key)), v,
                   "(from config.yml " + path + ":2)");
  }
}

TEST_F(ConfigProcessTest, MissingConfigYmlNamedByConfigPath) {
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    Env env = BaseEnv();
    env["CONFIG_PATH"] = dir_ / "nope.yml";
    ExpectOneLine(RunProgram(program, env),
                  {"CONFIG_PATH", "nope.yml", "(from environment)",
                   "does not exist", "allowed:"});
    ExpectOneLine(
        RunProgram(program, BaseEnv(), {"--config", "gone.yml"}),
        {"CONFIG_PATH", "gone.yml", "(from flag --config)", "allowed:"});
  }
}

// Root reads any file whatever its mode, so "unreadable" is a directory.
TEST_F(ConfigProcessTest, UnreadableConfigYml) {
  std::filesystem::create_directories(dir_ / "config.yml");
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    Env env = BaseEnv();
    env["CONFIG_PATH"] = "config.yml";
    ExpectOneLine(RunProgram(program, env), {"CONFIG_PATH", "cannot be read",
                                             "Is a directory", "allowed:"});
  }
}

// An endless file is an error, not a program eating all memory.
TEST_F(ConfigProcessTest, EndlessConfigYml) {
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    ExpectOneLine(RunProgram(program, BaseEnv(), {"--config", "/dev/zero"}),
                  {"CONFIG_PATH", "/dev/zero", "cannot be read", "longer than",
                   "allowed:"});
  }
}

TEST_F(ConfigProcessTest, MalformedConfigYml) {
  const std::string path = dir_ / "config/config.yml";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"port: 8080\nhost: [127.0.0.1\n", "invalid YAML"},
      {"port:\n  nested: 1\n", "port"},
      {"colour: blue\n", "unknown key \"colour\""},
      {"port: 1\nport: 2\n", "port"},
      {"- just\n- a list\n", path},
  };
  for (const auto& [text, needle] : cases) {
    SCOPED_TRACE(text);
    WriteFile(path, text);
    for (const auto& program : Programs()) {
      SCOPED_TRACE(program[0]);
      ExpectOneLine(RunProgram(program, BaseEnv()),
                    {"config.yml " + path, needle, "allowed:"});
    }
  }
}

TEST_F(ConfigProcessTest, UnsetVariableInConfigYml) {
  const std::string path = dir_ / "config/config.yml";
  WriteFile(path, "shm_name: forge\ndb_url: ${FORGE_TEST_UNSET_VARIABLE}\n");
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    ExpectOneLine(RunProgram(program, BaseEnv("DB_URL")),
                  {"config.yml " + path + ":2", "${FORGE_TEST_UNSET_VARIABLE}",
                   "is not set", "allowed:"});
  }
}

TEST_F(ConfigProcessTest, MalformedDotEnv) {
  WriteFile(dir_ / ".env", "PORT=8080\nthis is not a setting\n");
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    ExpectOneLine(
        RunProgram(program, BaseEnv()),
        {".env " + (dir_ / ".env") + ":2", "malformed line", "allowed:"});
  }
}

TEST_F(ConfigProcessTest, UnknownFlag) {
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    const RunResult r = RunProgram(program, BaseEnv(), {"--no-such-flag"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace forge::faults
