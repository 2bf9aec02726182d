// GET /status in a real headless Chromium (CTest frontend.status_page,
// issue 17 §4): the real forge-broker and forge-frontend (tests/support
// Stack), a /get-key load in the background, and status_page.py driving
// Debian's chromium over the DevTools protocol. The script checks that its
// console-error detector catches a control page's error and exception, that
// the page shows the broker's pid and a rate above zero with no console
// error, and, once this test killed the broker, that it turns red with
// "broker down". Screenshots: $FORGE_ARTIFACTS_DIR/status-page.png and
// status-page-down.png (build/artifacts/). Fails, never skips, when
// chromium cannot start.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "tests/integration/background_load.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

constexpr milliseconds kDriverDeadline{40000};

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

TEST(StatusPage, ShowsTheBrokerAndARateThenTurnsDownWhenTheBrokerDies) {
  const std::string script = EnvOr("FORGE_STATUS_PAGE_PY", "");
  ASSERT_FALSE(script.empty()) << "FORGE_STATUS_PAGE_PY is not set (CTest "
                                  "sets it to tests/frontend/status_page.py)";
  const std::string artifacts =
      EnvOr("FORGE_ARTIFACTS_DIR", BinDir() + "/../artifacts");
  std::filesystem::create_directories(artifacts);

  // One worker: the page's polls all reach the worker that keeps the rates.
  Stack stack({{"WORKERS", "1"}, {"POOL_CAPACITY", "4096"}});
  ASSERT_TRUE(stack.Up()) << stack.Logs();
  const pid_t broker = stack.broker()->pid();

  ChaosLoadOptions light;  // one connection: a rate, not a benchmark
  light.port = stack.port();
  light.connections = 1;
  BackgroundLoad load(light);
  TempDir profile;  // a fresh --user-data-dir
  Process driver = Process::Start(
      {"/usr/bin/python3", script, "--chromium",
       EnvOr("FORGE_CHROMIUM", "chromium"), "--url",
       "http://127.0.0.1:" + std::to_string(stack.port()) + "/status", "--pid",
       std::to_string(broker), "--artifacts", artifacts, "--profile",
       profile.path(), "--deadline",
       std::to_string(kDriverDeadline.count() / 1000)});
  const auto up = [&] {
    return driver.Stdout().find("\nUP\n") != std::string::npos ||
           !driver.Running();
  };
  ASSERT_TRUE(WaitUntil(up, kDriverDeadline)) << driver.Stderr();
  ASSERT_NE(driver.Stdout().find("\nUP\n"), std::string::npos)
      << "status_page.py:\n"
      << driver.Stdout() << driver.Stderr() << stack.Logs();
  load.Finish();
  stack.broker()->Kill();  // SIGKILL by pid, reaped: no longer alive

  EXPECT_EQ(driver.Wait(kDriverDeadline), 0)
      << "status_page.py:\n"
      << driver.Stdout() << driver.Stderr() << stack.Logs();
  EXPECT_NE(driver.Stdout().find("status page ok"), std::string::npos)
      << driver.Stdout();
  std::cout << "status_page.py:\n" << driver.Stdout();  // steps, timings
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/status-page.png"));
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/status-page-down.png"));
}

}  // namespace
}  // namespace forge::testing
