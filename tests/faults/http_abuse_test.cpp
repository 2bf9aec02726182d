// HTTP abuse against a real forge-broker + forge-frontend (WORKERS=2;
// issue 4, item 6): oversized request lines and headers, endless headers,
// a body on GET, pipelining, slowloris, idle and half-closed connections,
// bad `count` values. Each must get the right 4xx or a timely close, and
// all the while a bystander client keeps getting 200s fast: every test
// runs one in the background and checks it in TearDown.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/faults/fault_util.h"
#include "tests/faults/raw_conn.h"
#include "tests/support/http_client.h"
#include "tests/support/stack.h"

namespace forge::faults {
namespace {

using std::chrono::milliseconds;
using testing::Env;
using testing::Get;
using testing::HttpResponse;
using testing::Process;
using testing::WaitUntil;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = milliseconds(15000);
constexpr auto kKeepAliveTimeout = milliseconds(1000);  // KEEP_ALIVE_TIMEOUT
constexpr auto kReadTimeout = milliseconds(5000);       // ServerOptions
// The bystander's p99 may not exceed this: a bound on hangs, not a speed
// test (the CI machine is small and shared).
constexpr auto kBystanderP99 = milliseconds(1000);
constexpr std::size_t kBystanderMin = 50;  // requests, at the least

std::vector<std::string> BodyLines(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A refusal: a 4xx with a one-line reason, or the server hung up.
void ExpectRefusedOrClosed(const std::vector<HttpResponse>& responses,
                           RawConn& conn, const std::vector<int>& allowed) {
  if (responses.empty()) {
    EXPECT_TRUE(conn.WaitClosed(kDeadline).has_value()) << "neither answer "
                                                           "nor close";
    return;
  }
  ASSERT_EQ(responses.size(), 1u);
  const HttpResponse& r = responses.front();
  EXPECT_NE(std::find(allowed.begin(), allowed.end(), r.status), allowed.end())
      << r.status << " " << r.body;
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 1) << r.body;
}

class HttpAbuseTest : public ::testing::Test, public testing::Stack {
 protected:
  HttpAbuseTest()
      : Stack({{"WORKERS", "2"},
               {"HTTP_THREADS", "4"},
               {"KEEP_ALIVE_TIMEOUT", "1"},
               {"EMPTY_WAIT_MS", "200"},
               {"POOL_CAPACITY", "4096"},
               {"RANGE_SIZE", "1000"}}) {}

  void SetUp() override {
    ASSERT_TRUE(Up({}, kDeadline)) << Logs();
    bystander_ = std::thread([this] { Bystander(); });
  }

  void TearDown() override {
    if (!bystander_.joinable()) return;
    // After the abuse too, the server keeps answering others.
    EXPECT_TRUE(WaitUntil(
        [&] {
          // relaxed: a progress count; the data is read after join().
          return done_.load(std::memory_order_relaxed) >= kBystanderMin;
        },
        kDeadline));
    // release: pairs with the bystander's acquire load.
    stop_.store(true, std::memory_order_release);
    bystander_.join();
    ExpectBystanderServedFast();
    EXPECT_TRUE(frontend()->Running()) << frontend()->Stderr();
  }

  // A well-behaved client: one GET /get-key at a time until stopped.
  void Bystander() {
    // acquire: see TearDown.
    while (!stop_.load(std::memory_order_acquire)) {
      const auto t0 = Clock::now();
      const HttpResponse r = Get(port(), "/get-key", milliseconds(2000));
      latencies_.push_back(
          std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
      statuses_.push_back(r.status);
      if (r.status == 200) keys_.push_back(r.body);
      // relaxed: see TearDown.
      done_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void ExpectBystanderServedFast() {
    ASSERT_GE(statuses_.size(), kBystanderMin) << "the bystander stalled";
    EXPECT_EQ(std::count(statuses_.begin(), statuses_.end(), 200),
              static_cast<std::ptrdiff_t>(statuses_.size()))
        << "the bystander got a non-200 answer";
    std::sort(latencies_.begin(), latencies_.end());
    const milliseconds p99 = latencies_[latencies_.size() * 99 / 100];
    EXPECT_LT(p99, kBystanderP99)
        << "over " << latencies_.size() << " requests; max "
        << latencies_.back().count() << " ms";
    EXPECT_EQ(std::set<std::string>(keys_.begin(), keys_.end()).size(),
              keys_.size());
  }

  std::thread bystander_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> done_{0};  // bystander requests completed
  // Written by the bystander only, read after join().
  std::vector<milliseconds> latencies_;
  std::vector<int> statuses_;
  std::vector<std::string> keys_;
};

TEST_F(HttpAbuseTest, RequestLineOf64KiBIsRefused) {
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  c.Send("GET /get-key?pad=" + std::string(64 * 1024, 'a') +
         " HTTP/1.1\r\nHost: x\r\n\r\n");
  ExpectRefusedOrClosed(c.Read(1, kDeadline), c, {414});
}

TEST_F(HttpAbuseTest, HeaderOf100KiBIsRefused) {
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  c.Send("GET /get-key HTTP/1.1\r\nHost: x\r\nX-Big: " +
         std::string(100 * 1024, 'b') + "\r\n\r\n");
  ExpectRefusedOrClosed(c.Read(1, kDeadline), c, {400, 431});
}

TEST_F(HttpAbuseTest, FiveThousandHeadersAreRefused) {
  std::string request = "GET /get-key HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 5000; ++i) {
    request += "X-Header-" + std::to_string(i) + ": value\r\n";
  }
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  c.Send(request + "\r\n");
  ExpectRefusedOrClosed(c.Read(1, kDeadline), c, {400, 431});
}

// Headers that never end must not be buffered without bound: the server
// stops reading and hangs up long before 16 MiB went through.
TEST_F(HttpAbuseTest, EndlessHeadersAreCutOff) {
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("GET /get-key HTTP/1.1\r\nHost: x\r\n"));
  std::string chunk;
  for (int i = 0; i < 1000; ++i) chunk += "X-More: 0123456789abcdef\r\n";
  const auto start = Clock::now();
  std::size_t sent = 0;
  while (sent < 16u * 1024 * 1024 && c.Send(chunk)) sent += chunk.size();
  EXPECT_LT(sent, 16u * 1024 * 1024) << "the server read it all";
  EXPECT_TRUE(c.WaitClosed(kReadTimeout).has_value());
  EXPECT_LT(Clock::now() - start, kReadTimeout);
}

// The body is not read, so it must never be parsed as a second request.
TEST_F(HttpAbuseTest, BodyOnGetIsNeverParsedAsARequest) {
  const std::string smuggled = "GET /get-key HTTP/1.1\r\nHost: x\r\n\r\n";
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("GET /get-key HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled));
  const auto responses = c.Read(2, milliseconds(2000));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].status == 200 || responses[0].status == 400)
      << responses[0].status;
  EXPECT_EQ(responses[0].Header("Connection"), "close");
  EXPECT_TRUE(c.WaitClosed(kDeadline).has_value());
}

TEST_F(HttpAbuseTest, PipelinedRequestsAreAnsweredInOrder) {
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  std::string batch;
  for (const char* target :
       {"/get-keys?count=1", "/nowhere", "/get-keys?count=3", "/get-key"}) {
    batch += std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  ASSERT_TRUE(c.Send(batch));  // one write
  const auto r = c.Read(4, kDeadline);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(BodyLines(r[0].body).size(), 1u);
  EXPECT_EQ(r[1].status, 404);
  EXPECT_EQ(r[2].status, 200);
  EXPECT_EQ(BodyLines(r[2].body).size(), 3u);
  EXPECT_EQ(r[3].status, 200);
  EXPECT_EQ(r[3].body.size(), 7u);
}

// One byte every 300 ms: each read succeeds, yet the request as a whole
// must arrive within the read timeout, or the server hangs up.
TEST_F(HttpAbuseTest, SlowlorisIsClosedByTheReadTimeout) {
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  const std::string drip =
      "GET /get-key HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'z');
  const auto start = Clock::now();
  for (std::size_t i = 0; i < drip.size() && !c.closed() &&
                          Clock::now() - start < 2 * kReadTimeout;
       ++i) {
    if (!c.Send(drip.substr(i, 1))) break;
    // The client's pace: at most 300 ms, or until the server hangs up.
    c.WaitClosed(milliseconds(300));
  }
  const auto took = Clock::now() - start;
  EXPECT_TRUE(c.closed()) << "still open after twice the read timeout";
  EXPECT_LT(took, kReadTimeout + milliseconds(2000));
  EXPECT_GE(took, kReadTimeout - milliseconds(1000));
}

TEST_F(HttpAbuseTest, SilentConnectionsAreClosedAfterTheKeepAliveTimeout) {
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(std::make_unique<RawConn>(port()));
    ASSERT_TRUE(idle.back()->ok());
  }
  const auto start = Clock::now();
  for (auto& c : idle) {
    ASSERT_TRUE(c->WaitClosed(kKeepAliveTimeout + milliseconds(3000)));
  }
  EXPECT_GE(Clock::now() - start, kKeepAliveTimeout - milliseconds(200));
}

TEST_F(HttpAbuseTest, HalfClosedClientStillGetsItsAnswer) {
  RawConn c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("GET /get-keys?count=5 HTTP/1.1\r\nHost: x\r\n\r\n"));
  c.ShutdownWrite();
  const auto r = c.Read(1, kDeadline);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(BodyLines(r[0].body).size(), 5u);
  EXPECT_TRUE(c.WaitClosed(kDeadline).has_value());
}

TEST_F(HttpAbuseTest, BadCountValuesGet400WithTheReason) {
  for (const std::string value :
       {"%zz", "%", "%4", "1%00", "99999999999999999999", "-1", "1e3", "0x10",
        "0", "", "+5", "10001", "1.5", "%20%31"}) {
    const HttpResponse r = Get(port(), "/get-keys?count=" + value);
    EXPECT_EQ(r.status, 400) << "count=" << value << ": " << r.body;
    EXPECT_NE(r.body.find("count"), std::string::npos) << r.body;
    EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 1) << r.body;
  }
  // Percent-encoded digits are digits.
  const HttpResponse ok = Get(port(), "/get-keys?count=%31%30");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(BodyLines(ok.body).size(), 10u);
}

}  // namespace
}  // namespace forge::faults
