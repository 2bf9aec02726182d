// ParseArgs: argv in, Config or an exit code out; never throws.
#include <gmock/gmock.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "tests/config/fixture.h"

namespace forge::config::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Outcome {
  std::optional<Config> cfg;
  int exit_code = -1;
  std::string out;
  std::string err;
};

class ParseArgsTest : public ::testing::Test {
 protected:
  Outcome Run(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    Outcome o;
    {
      CaptureFd out(STDOUT_FILENO), err(STDERR_FILENO);
      EXPECT_NO_THROW(o.cfg = ParseArgs(app_, loader_,
                                        static_cast<int>(argv.size()),
                                        argv.data(), &o.exit_code, env_));
      std::cout.flush();
      std::fflush(stdout);
      o.out = out.Text();
      o.err = err.Text();
    }
    return o;
  }

  forge::testing::TempDir dir_;
  Environment env_{{}, dir_.path()};
  CLI::App app_{"test program", "forge-test"};
  CLI::App* early_ = app_.add_subcommand("early", "added before the Loader");
  Loader loader_{app_};
};

// One line on stderr, nothing else.
void ExpectOneLine(const std::string& err) {
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

TEST_F(ParseArgsTest, BadFlagValueExitsTwoWithOneLine) {
  const Outcome o = Run({"forge-test", "--port", "abc"});
  EXPECT_FALSE(o.cfg.has_value());
  EXPECT_EQ(o.exit_code, 2);
  ExpectOneLine(o.err);
  EXPECT_EQ(o.err,
            "config: PORT=\"abc\" (from flag --port) is not an integer; "
            "allowed: integer 1..65535\n");
  EXPECT_EQ(o.out, "");
}

TEST_F(ParseArgsTest, BadEnvironmentValueExitsTwo) {
  env_.vars["SHM_NAME"] = "a/b";
  const Outcome o = Run({"forge-test"});
  EXPECT_EQ(o.exit_code, 2);
  ExpectOneLine(o.err);
  EXPECT_THAT(o.err, StartsWith("config: SHM_NAME=\"a/b\" (from environment)"));
}

TEST_F(ParseArgsTest, UnknownFlagExitsTwoWithOneLine) {
  const Outcome o = Run({"forge-test", "--bogus"});
  EXPECT_FALSE(o.cfg.has_value());
  EXPECT_EQ(o.exit_code, 2);
  ExpectOneLine(o.err);
  EXPECT_THAT(o.err, StartsWith("forge-test: "));
  EXPECT_THAT(o.err, HasSubstr("--bogus"));
  EXPECT_THAT(o.err, HasSubstr("run forge-test --help for the options"));
}

TEST_F(ParseArgsTest, MissingFlagValueExitsTwo) {
  const Outcome o = Run({"forge-test", "--port"});
  EXPECT_EQ(o.exit_code, 2);
  ExpectOneLine(o.err);
  EXPECT_THAT(o.err, HasSubstr("--port"));
}

TEST_F(ParseArgsTest, HelpExitsZeroAndListsEveryFlag) {
  const Outcome o = Run({"forge-test", "--help"});
  EXPECT_FALSE(o.cfg.has_value());
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.err, "");
  for (const char* flag : {"--port",
                           "--host",
                           "--workers",
                           "--range-size",
                           "--pool-capacity",
                           "--db-url",
                           "--shm-name",
                           "--key-length",
                           "--key-order",
                           "--empty-wait-ms",
                           "--max-batch",
                           "--debug",
                           "--http-threads",
                           "--keep-alive-max",
                           "--keep-alive-timeout",
                           "--listen-backlog",
                           "--log-format",
                           "--auth-token",
                           "--auth-protect-all",
                           "--config"}) {
    EXPECT_THAT(o.out, HasSubstr(flag));
  }
  EXPECT_THAT(o.out, HasSubstr("env PORT; default 8080; integer 1..65535"));
}

TEST_F(ParseArgsTest, GoodArgumentsGiveAConfig) {
  env_.vars["RANGE_SIZE"] = "77";
  const Outcome o = Run({"forge-test", "--port=9001", "--debug"});
  ASSERT_TRUE(o.cfg.has_value()) << o.err;
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.cfg->port, 9001);
  EXPECT_EQ(o.cfg->range_size, 77u);
  EXPECT_TRUE(o.cfg->debug);
  EXPECT_EQ(o.err, "");
}

TEST_F(ParseArgsTest, ConfigFlagsWorkAfterASubcommand) {
  CLI::App* late = app_.add_subcommand("late", "added after the Loader");
  Outcome o = Run({"forge-test", "late", "--shm-name", "x1"});
  ASSERT_TRUE(o.cfg.has_value()) << o.err;
  EXPECT_TRUE(late->parsed());
  EXPECT_EQ(o.cfg->shm_name, "x1");
}

TEST_F(ParseArgsTest, ConfigFlagsWorkAfterAnEarlierSubcommand) {
  Outcome o = Run({"forge-test", "early", "--port", "81"});
  ASSERT_TRUE(o.cfg.has_value()) << o.err;
  EXPECT_TRUE(early_->parsed());
  EXPECT_EQ(o.cfg->port, 81);
}

// Config errors in the asked-for log format (issue 11 item 8): when any
// layer asks for LOG_FORMAT=json, the one error line is a JSON object
// whose msg holds the text, with raw bytes escaped.
class JsonErrorTest : public ParseArgsTest {
 protected:
  void WriteFile(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(
        std::filesystem::path(dir_ / name).parent_path());
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  // One line, a JSON log object at level error from forge-test, whose msg
  // contains `msg_part` (JSON-escaped), and nothing outside printable ASCII.
  static void ExpectJsonError(const Outcome& o, const std::string& msg_part) {
    EXPECT_EQ(o.exit_code, 2);
    ExpectOneLine(o.err);
    EXPECT_THAT(o.err, StartsWith("{\"ts\":\""));
    EXPECT_THAT(o.err, HasSubstr("\",\"level\":\"error\",\"prog\":"
                                 "\"forge-test\",\"pid\":"));
    EXPECT_THAT(o.err, HasSubstr(",\"msg\":\"" + msg_part));
    EXPECT_THAT(o.err, ::testing::EndsWith("\"}\n"));
    for (const char c : o.err.substr(0, o.err.size() - 1)) {
      const auto b = static_cast<unsigned char>(c);
      EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "raw byte " << int{b} << o.err;
    }
  }
};

TEST_F(JsonErrorTest, FromTheEnvironmentWithRawBytesEscaped) {
  env_.vars["LOG_FORMAT"] = "json";
  env_.vars["SHM_NAME"] = "bad\xff\x01name";
  ExpectJsonError(Run({"forge-test"}),
                  "config: SHM_NAME=\\\"bad\\ufffd\\\\x01name\\\" (from "
                  "environment) contains the character");
}

TEST_F(JsonErrorTest, FromTheFlagEvenWhenAnotherFlagIsBad) {
  ExpectJsonError(Run({"forge-test", "--log-format=JSON", "--port", "x"}),
                  "config: PORT=\\\"x\\\" (from flag --port)");
  env_.vars["LOG_FORMAT"] = "json";
  ExpectJsonError(Run({"forge-test", "--bogus"}), "forge-test: ");
}

TEST_F(JsonErrorTest, FromDotEnvEvenWhenDotEnvIsMalformed) {
  WriteFile(".env", "LOG_FORMAT=json\nthis line is bad\n");
  ExpectJsonError(Run({"forge-test"}), "config: .env ");
}

TEST_F(JsonErrorTest, FromConfigYmlEvenWhenConfigYmlIsBad) {
  WriteFile("config/config.yml", "log_format: ${FMT}\ncolour: blue\n");
  env_.vars["FMT"] = "json";
  ExpectJsonError(Run({"forge-test"}), "config: config.yml " +
                                           (dir_ / "config/config.yml") +
                                           ":2: unknown key \\\"colour\\\"");
}

TEST_F(JsonErrorTest, HigherLayerWinsAndTextStaysPlain) {
  WriteFile("config/config.yml", "log_format: json\nport: 0\n");
  env_.vars["LOG_FORMAT"] = "text";
  const Outcome o = Run({"forge-test"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_THAT(o.err, StartsWith("config: PORT=\"0\""));
}

}  // namespace
}  // namespace forge::config::test
