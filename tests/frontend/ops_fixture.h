// tests/frontend/ops_fixture.h — the operations suite's stack: a real
// forge-broker (SQLite under data/ in the stack's directory) and
// forge-frontend (2 workers), with helpers to scrape /metrics through the
// real Prometheus parser and to stop a program cleanly.
//
// Contract
//   * A tests/support Stack; every test starts what it needs.
//   * SetUp fails (never skips) without python3 + prometheus_client.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "tests/frontend/python_tools.h"
#include "tests/support/http_client.h"
#include "tests/support/stack.h"

namespace forge::ops {

using std::chrono::milliseconds;
using testing::Env;
using testing::Exposition;
using testing::Get;
using testing::HttpResponse;
using testing::Process;
using testing::RawRequest;
using testing::WaitUntil;

inline constexpr auto kDeadline = milliseconds(20000);
inline constexpr int kWorkers = 2;
inline constexpr std::uint64_t kPoolCapacity = 1024;
inline constexpr const char* kToken = "ops-test-token-4f9c2a7e1b";

inline bool IsKey(const std::string& s) {
  return s.size() == 7 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0;
         });
}

inline std::size_t CountOf(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The lines of an answer body (one key per line for /get-keys).
inline std::vector<std::string> Lines(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

inline int Mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

class OpsProcessTest : public ::testing::Test, public testing::Stack {
 protected:
  OpsProcessTest()
      : Stack({{"WORKERS", std::to_string(kWorkers)},
               {"HTTP_THREADS", "4"},
               {"POOL_CAPACITY", std::to_string(kPoolCapacity)},
               {"EMPTY_WAIT_MS", "200"}},
              testing::StackOptions::SqliteFile("data/forge.db")) {}

  void SetUp() override {
    ASSERT_FALSE(testing::Python3().empty())
        << "these tests need python3 with prometheus_client: install "
           "python3-prometheus-client (scripts/install-deps.sh test)";
  }

  // Broker and frontend up, /healthz answering 200 (with the token when
  // `authorization` is given).
  void StartBoth(const Env& extra = {}, const std::string& authorization = "") {
    HoldBroker(extra);
    HoldFrontend(extra);
    ASSERT_TRUE(WaitUntil(
        [&] { return Request("/healthz", authorization).status == 200; },
        kDeadline))
        << Logs();
  }
  // GET on a fresh connection, with an Authorization header when given.
  HttpResponse Request(const std::string& target,
                       const std::string& authorization = "") {
    if (authorization.empty()) return Get(port(), target);
    return RawRequest(
        port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                    authorization + "\r\nConnection: close\r\n\r\n");
  }
  // GET /metrics, checked and parsed by prometheus_client.
  Exposition Scrape() {
    const HttpResponse r = Get(port(), "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.Header("Content-Type"),
              "text/plain; version=0.0.4; charset=utf-8");
    Exposition e = testing::ParseExposition(r.body);
    EXPECT_EQ(e.error, "") << r.body;
    return e;
  }
  bool WaitWorkersAttached() {
    return WaitUntil(
        [&] { return Scrape().Sum("forge_workers_alive") == kWorkers; },
        kDeadline);
  }
  // SIGTERM, then expect a clean exit; returns its stderr.
  static std::string Stop(Process& p) {
    p.Signal(SIGTERM);
    EXPECT_EQ(p.Wait(kDeadline), 0) << p.Stderr();
    return p.Stderr();
  }
};

}  // namespace forge::ops
