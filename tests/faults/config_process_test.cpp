// Configuration errors at the process level (issue 4, item 7): every key of
// docs/design.md §7 (and the frontend's HTTP/auth keys) with an invalid value,
// from each source (environment, flag, .env, config.yml), and broken
// config files. The real forge-broker, forge-frontend and forge-ctl stats
// must each exit 2 with exactly one line on stderr naming the key, the
// value (secrets masked), where it came from and what is allowed — before
// they touch a store, a segment or a port. config/ has the unit tests of
// the loader; this checks what a person running the programs sees.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shm/segment.h"
#include "tests/faults/fault_util.h"
#include "tests/support/http_client.h"
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
    ExpectOneLine(RunProgram(program, env),
                  {"CONFIG_PATH", "cannot be read",
                   "is a directory, not a regular file", "allowed:"});
  }
}

// An endless file is an error, not a program eating all memory.
TEST_F(ConfigProcessTest, EndlessConfigYml) {
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    ExpectOneLine(RunProgram(program, BaseEnv(), {"--config", "/dev/zero"}),
                  {"CONFIG_PATH", "/dev/zero", "cannot be read",
                   "is a character device, not a regular file", "allowed:"});
  }
  // A regular file over 1 MiB too.
  WriteFile(dir_ / "big.yml", "# " + std::string(2 << 20, 'x') + "\n");
  ExpectOneLine(
      RunProgram({"forge-broker"}, BaseEnv(), {"--config", "big.yml"}),
      {"CONFIG_PATH", "big.yml", "longer than 1048576 bytes"});
}

// A FIFO where a config file is expected (issue 11 item 5): CONFIG_PATH,
// --config and .env each give one line and exit 2 at once; nothing waits
// for a writer.
TEST_F(ConfigProcessTest, FifoConfigFilesAreRefusedAtOnce) {
  const std::string fifo = dir_ / "fifo.yml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    Env env = BaseEnv();
    env["CONFIG_PATH"] = fifo;
    ExpectOneLine(RunProgram(program, env),
                  {"CONFIG_PATH=\"" + fifo + "\" (from environment)",
                   "is a FIFO, not a regular file"});
    ExpectOneLine(RunProgram(program, BaseEnv(), {"--config", fifo}),
                  {"(from flag --config)", "is a FIFO, not a regular file"});
  }
  ASSERT_EQ(::mkfifo((dir_ / ".env").c_str(), 0600), 0);
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0] + " with a FIFO .env");
    ExpectOneLine(RunProgram(program, BaseEnv()),
                  {".env " + (dir_ / ".env"), "is a FIFO, not a regular file"});
  }
}

// 10,000 ${X} references to a 100 KB X (issue 11 item 6) once took
// 6.8 GB: now the program stops after the first MiB, at once.
TEST_F(ConfigProcessTest, ExpansionBombStopsSmallAndFast) {
  WriteFile(dir_ / ".env", "X=" + std::string(100 * 1024, 'x') + "\n");
  std::string refs;
  for (int i = 0; i < 10000; ++i) refs += "${X}";
  WriteFile(dir_ / "config/config.yml", "db_url: sqlite:" + refs + "\n");
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    const auto start = std::chrono::steady_clock::now();
    ExpectOneLine(
        RunProgram(program, BaseEnv("DB_URL")),
        {"config.yml " + (dir_ / "config/config.yml") + ":1",
         "longer than 1048576 bytes after ${VAR} expansion", "allowed:"});
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              std::chrono::seconds(4));
  }
  rusage children{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &children), 0);
  EXPECT_LT(children.ru_maxrss, 64 * 1024) << "KiB, largest program";
}

// AUTH_PROTECT_ALL without a token would protect nothing (issue 11 item 3).
TEST_F(ConfigProcessTest, AuthProtectAllWithoutATokenExitsTwo) {
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    Env env = BaseEnv();
    env["AUTH_PROTECT_ALL"] = "true";
    ExpectOneLine(RunProgram(program, env),
                  {"AUTH_PROTECT_ALL=\"true\" (from environment)",
                   "needs AUTH_TOKEN", "allowed:"});
    WriteFile(dir_ / "config/config.yml", "auth_protect_all: true\n");
    ExpectOneLine(RunProgram(program, BaseEnv()),
                  {"AUTH_PROTECT_ALL=\"true\" (from config.yml", ":1)",
                   "needs AUTH_TOKEN"});
    std::filesystem::remove(dir_ / "config/config.yml");
  }
}

// sqlite://x.db would create /x.db, sqlite:~/x.db a directory "~".
TEST_F(ConfigProcessTest, SqliteUrlFormsThatMisleadAreRefused) {
  for (const std::string url :
       {"sqlite://forge-config-test.db", "sqlite:~/forge.db"}) {
    for (const auto& program : Programs()) {
      SCOPED_TRACE(program[0] + " with " + url);
      Env env = BaseEnv();
      env["DB_URL"] = url;
      ExpectOneLine(RunProgram(program, env),
                    {"DB_URL=\"" + url + "\"", "allowed: sqlite:PATH",
                     "sqlite:///ABSOLUTE/PATH"});
    }
  }
  EXPECT_FALSE(std::filesystem::exists("/forge-config-test.db"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "~"));
}

// LOG_FORMAT=json asks for JSON lines: a config error is one too, with the
// raw bytes of the bad value escaped (issue 11 item 8).
TEST_F(ConfigProcessTest, ConfigErrorIsAJsonLineWhenJsonIsAsked) {
  for (const auto& program : Programs()) {
    SCOPED_TRACE(program[0]);
    Env env = BaseEnv();
    env["LOG_FORMAT"] = "json";
    env["HOST"] = "bad\xff host";
    const RunResult r = RunProgram(program, env);
    ExpectOneLine(r, {"{\"ts\":\"", "\"level\":\"error\"",
                      "\"prog\":\"" + program[0] + "\"",
                      "\"msg\":\"config: HOST=\\\"bad\\ufffd host\\\" "
                      "(from environment)"});
    EXPECT_EQ(r.err.rfind("\"}\n"), r.err.size() - 3) << r.err;
  }
}

// The Go service's own files (issue 10 item 5): a directory holding its
// .env and config/config.yml, nothing else, runs both programs. Only the
// port is a free one, and CONFIG_PATH names the file (the Go README's
// value: the .env.example placeholder "path to config file.yml" names no
// file and is refused with the path it tried).
TEST_F(ConfigProcessTest, GoServiceFilesServeAKey) {
  const int port = testing::FreePort();
  WriteFile(dir_ / "config/config.yml",
            "# Configuration file\n\nPORT: ${PORT}\nRANGE_SIZE: ${RANGE_SIZE}"
            "\nDEBUG_ENABLED: ${DEBUG_ENABLED}\n");
  WriteFile(dir_ / ".env", "PORT=" + std::to_string(port) +
                               "\nRANGE_SIZE=1000\nDEBUG_ENABLED=false\n"
                               "CONFIG_PATH=\"./config/config.yml\"\n");
  const Env env = {{"SHM_NAME", shm_.str()}};
  testing::Process broker =
      testing::Process::Start({Bin("forge-broker")}, env, dir_.path());
  testing::Process frontend =
      testing::Process::Start({Bin("forge-frontend")}, env, dir_.path());
  testing::HttpResponse got;
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        got = testing::Get(port, "/get-key");
        return got.status == 200 || !broker.Running() || !frontend.Running();
      },
      milliseconds(20000)));
  EXPECT_EQ(got.status, 200) << broker.Stderr() << frontend.Stderr();
  EXPECT_EQ(got.body.size(), 7u) << got.body;
  EXPECT_NE(broker.Stderr().find("range_size=1000"), std::string::npos)
      << broker.Stderr();
  for (testing::Process* p : {&frontend, &broker}) {
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(milliseconds(10000)), 0) << p->Stderr();
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

// The broker's start line, retry warnings and store errors show DB_URL
// through the one redaction (issue 11 item 8): no password of the
// userinfo, no sslpassword.
TEST_F(ConfigProcessTest, BrokerMessagesNeverShowPasswords) {
  Env env = BaseEnv();
  env["DB_URL"] = "postgres://forge:PWSECRET@127.0.0.1:" +
                  std::to_string(testing::FreePort()) +
                  "/forge?sslmode=disable&sslpassword=SSLSECRET";
  testing::Process broker =
      testing::Process::Start({Bin("forge-broker")}, env, dir_.path());
  // Store errors are logged once when they start (then at most once a
  // minute), so one retry warning is what there is to read.
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return LinesWith(broker.Stderr(), "retrying").size() >= 1; },
      milliseconds(20000)))
      << broker.Stderr();
  broker.Signal(SIGTERM);
  EXPECT_EQ(broker.Wait(milliseconds(10000)), 0);
  const std::string err = broker.Stderr();
  EXPECT_EQ(err.find("SECRET"), std::string::npos) << err;
  const std::vector<std::string> start = LinesWith(err, "starting:");
  ASSERT_EQ(start.size(), 1u) << err;
  EXPECT_NE(start[0].find("db_url=postgres://forge:***@127.0.0.1"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("sslpassword=***"), std::string::npos) << err;
  const std::vector<std::string> retry = LinesWith(err, "retrying");
  ASSERT_FALSE(retry.empty()) << err;
  EXPECT_NE(retry[0].find("postgres://forge:***@127.0.0.1"), std::string::npos)
      << err;
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
