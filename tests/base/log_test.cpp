// forge::log (base/log.h): line format, escaping, debug filtering, whole
// lines under concurrency.
#include "base/log.h"

#include <gmock/gmock.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/capture_fd.h"

namespace forge::log {
namespace {

using forge::testing::CaptureFd;
using ::testing::HasSubstr;

const std::string kTs = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Log, TextLine) {
  Init("forge-test", Format::kText, false);
  CaptureFd err(STDERR_FILENO);
  Info("hello world");
  Error("two\nlines");
  const auto lines = Lines(err.Text());
  ASSERT_EQ(lines.size(), 2u) << err.Text();
  const std::string pid = std::to_string(::getpid());
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(kTs + " INFO  forge-test\\[" + pid + "\\] hello world")))
      << lines[0];
  EXPECT_TRUE(std::regex_match(
      lines[1],
      std::regex(kTs + " ERROR forge-test\\[" + pid + "\\] two\\\\nlines")))
      << lines[1];
}

TEST(Log, TimestampIsUtcNow) {
  Init("forge-test", Format::kText, false);
  CaptureFd err(STDERR_FILENO);
  Warn("now");
  std::tm tm{};
  ASSERT_NE(strptime(err.Text().c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr);
  const auto logged = std::chrono::system_clock::from_time_t(timegm(&tm));
  const auto now = std::chrono::system_clock::now();
  EXPECT_LT(std::chrono::abs(now - logged), std::chrono::seconds(5));
}

TEST(Log, JsonLineEscapes) {
  Init("forge \"q\"", Format::kJson, false);
  CaptureFd err(STDERR_FILENO);
  Warn("q\" b\\ n\n t\t c\x01 bad\xff ok\xc3\xa9");
  const auto lines = Lines(err.Text());
  ASSERT_EQ(lines.size(), 1u) << err.Text();
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex(R"(\{"ts":")" + kTs +
                           R"(","level":"warn","prog":"forge \\"q\\"","pid":)" +
                           std::to_string(::getpid()) + R"(,"msg":".*"\})")))
      << lines[0];
  EXPECT_THAT(lines[0],
              HasSubstr(R"("msg":"q\" b\\ n\n t\t c\u0001 bad\ufffd ok)"
                        "\xc3\xa9\"}"));
}

TEST(Log, DebugOnlyWhenEnabled) {
  Init("forge-test", Format::kText, false);
  EXPECT_FALSE(DebugEnabled());
  {
    CaptureFd err(STDERR_FILENO);
    Debug("hidden");
    Write(Level::kDebug, "hidden too");
    EXPECT_EQ(err.Text(), "");
  }
  Init("forge-test", Format::kJson, true);
  EXPECT_TRUE(DebugEnabled());
  CaptureFd err(STDERR_FILENO);
  Debug("shown");
  EXPECT_THAT(err.Text(), HasSubstr(R"("level":"debug")"));
  EXPECT_THAT(err.Text(), HasSubstr(R"("msg":"shown")"));
}

TEST(Log, ConcurrentLinesStayWhole) {
  Init("forge-test", Format::kText, false);
  constexpr int kThreads = 4, kLines = 500;
  const std::string padding(300, 'x');  // long lines make tearing likely
  CaptureFd err(STDERR_FILENO);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t, &padding] {
        for (int i = 0; i < kLines; ++i) {
          Info("t" + std::to_string(t) + " i" + std::to_string(i) + " " +
               padding);
        }
      });
    }
  }
  const auto lines = Lines(err.Text());
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLines));
  const std::regex whole(kTs + R"( INFO  forge-test\[\d+\] t\d i\d+ x{300})");
  for (const std::string& line : lines) {
    ASSERT_TRUE(std::regex_match(line, whole)) << line;
  }
}

}  // namespace
}  // namespace forge::log
