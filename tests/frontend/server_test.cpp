// HttpServer (frontend/server.h) in-process on a loopback listener, with a
// fake Backend: the connection loop, keep-alive, drain and httplib quirks.
#include "frontend/server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frontend/listener.h"
#include "tests/frontend/fake_backend.h"
#include "tests/frontend/tcp_probe.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/process.h"

namespace forge::frontend::testing {
namespace {

using forge::testing::Get;
using forge::testing::LoadOptions;
using forge::testing::RawRequest;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() { backend_.SetSnapshot(testing::HealthySnapshot()); }
  ~ServerTest() override { Stop(); }

  // Small defaults; tests change what they exercise.
  static ServerOptions Small() {
    ServerOptions o;
    o.pool.min_threads = 4;
    return o;
  }
  void Start(ServerOptions o = Small(), const Router* router = nullptr) {
    listener_ = BindListener("127.0.0.1", 0, 1024);
    o.listen_fd = listener_.fd;
    server_ =
        std::make_unique<HttpServer>(o, router != nullptr ? *router : router_);
    thread_ = std::thread([this] { served_ok_ = server_->Serve(); });
  }
  // Drains and returns how long Serve() took to return.
  milliseconds Stop() {
    if (!thread_.joinable()) return milliseconds(0);
    const auto start = Clock::now();
    server_->BeginDrain();
    thread_.join();
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  }
  int port() const { return listener_.port; }
  LoadOptions Load(std::size_t connections, std::size_t requests) const {
    return LoadOptions::On(port(), connections, requests, milliseconds(30000));
  }

  // A connected socket with nothing sent yet.
  int Connect() {
    const int fd = forge::testing::ConnectLoopback(port());
    EXPECT_GE(fd, 0);
    return fd;
  }

  testing::FakeBackend backend_;
  Router router_{backend_, RouterLimits{1000}};
  Listener listener_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::atomic<bool> served_ok_{false};
};

// True when the peer closes `fd` within `timeout` (reads until EOF).
bool ClosedWithin(int fd, milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

// Reads from `fd` until the peer closes it or `timeout` passes. *reset:
// the close was a reset (ECONNRESET), not an orderly EOF.
std::string ReadUntilClosed(int fd, milliseconds timeout, bool* reset) {
  std::string in;
  const auto until = Clock::now() + timeout;
  *reset = false;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(until - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 ||
        ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return in;
    }
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    *reset = n < 0 && errno == ECONNRESET;
    return in;
  }
}

// Reads one whole response of a known body (enough for these tests).
bool ReadResponseEndingIn(int fd, const std::string& tail,
                          milliseconds timeout) {
  std::string in;
  const auto until = Clock::now() + timeout;
  char buf[4096];
  while (in.size() < tail.size() ||
         in.compare(in.size() - tail.size(), tail.size(), tail) != 0) {
    pollfd p{fd, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<milliseconds>(until - Clock::now());
    if (left.count() <= 0 ||
        ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

TEST_F(ServerTest, AnswersEveryRouteOverHttp) {
  Start();
  auto r = Get(port(), "/get-key");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "k000000");
  EXPECT_EQ(r.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(Get(port(), "/get-keys?count=2").body, "k000001\nk000002\n");
  EXPECT_EQ(Get(port(), "/nope").status, 404);
  EXPECT_EQ(Get(port(), "/get-keys?count=x").status, 400);
  r = RawRequest(port(), "DELETE /get-key HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET");
  EXPECT_EQ(backend_.requests(), 5u) << "each answered request is counted";
}

TEST_F(ServerTest, MalformedRequestGets400WithAReason) {
  Start();
  const auto r = RawRequest(port(), "NONSENSE\r\n\r\n");
  EXPECT_EQ(r.status, 400) << r.error;
  EXPECT_NE(r.body.find("malformed HTTP request"), std::string::npos);
}

TEST_F(ServerTest, RequestWithABodyIsAnsweredAndTheConnectionClosed) {
  Start();
  // Had the connection stayed open, "hello" would be parsed as a request.
  const auto r = RawRequest(
      port(),
      "POST /get-key HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(r.status, 405) << r.error;
  EXPECT_EQ(r.Header("Connection"), "close");
}

TEST_F(ServerTest, RangeHeaderIsIgnoredAndAMaximalOneDoesNotCrash) {
  Start();
  auto r = RawRequest(
      port(), "GET /get-key HTTP/1.1\r\nHost: x\r\nRange: bytes=0-2\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body.size(), 7u) << "never a partial key";
  // cpp-httplib parses Range with a recursive std::regex (~500 B of stack
  // per character): a full 8 KB header line needs ~4 MiB of stack.
  std::string ranges = "bytes=";
  while (ranges.size() < 8150) ranges += "-,";
  ranges.pop_back();
  r = RawRequest(port(), "GET /get-key HTTP/1.1\r\nHost: x\r\nRange: " +
                             ranges + "\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(Get(port(), "/healthz").status, 200) << "still serving";
}

TEST_F(ServerTest, ResponsesAreNeverCompressed) {
  Start();
  const auto r = RawRequest(
      port(),
      "GET /get-key HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("Content-Encoding"), "");
  EXPECT_EQ(r.body, "k000000");
}

TEST_F(ServerTest, KeepAliveServesManyRequestsAndClosesAfterTheMaximum) {
  ServerOptions o = Small();
  o.keep_alive_max = 3;
  Start(o);
  const auto load = forge::testing::RunLoad(Load(1, 7));
  EXPECT_EQ(load.completed, 7u) << load.Summary();
  EXPECT_EQ(load.server_closes, 2u) << "after requests 3 and 6";
  EXPECT_EQ(load.lost_in_flight, 0u) << load.Summary();
}

TEST_F(ServerTest, EveryConnectionIsServedWhileOthersStayOpen) {
  // 4 pre-started threads and 300 keep-alive clients: a fixed pool would
  // leave 296 of them waiting for the first 4 to disconnect (never).
  Start(Small());
  const auto load = forge::testing::RunLoad(Load(300, 3000));
  EXPECT_FALSE(load.timed_out) << load.Summary();
  EXPECT_EQ(load.Status(200), 3000u) << load.Summary();
  EXPECT_EQ(load.Starved(), 0u) << load.Summary();
}

TEST_F(ServerTest, IdleKeepAliveConnectionClosesAfterTheTimeout) {
  ServerOptions o = Small();
  o.keep_alive_timeout = std::chrono::seconds(1);
  Start(o);
  const int fd = Connect();
  const auto start = Clock::now();
  EXPECT_TRUE(ClosedWithin(fd, milliseconds(5000)));
  EXPECT_GE(Clock::now() - start, milliseconds(900));
  ::close(fd);
}

TEST_F(ServerTest, DrainClosesIdleConnectionsAfterTheGraceAndReturns) {
  Start();  // keep-alive timeout 5 s: the drain must not wait for it
  const int fd = Connect();
  // Make sure the connection was accepted before the drain begins.
  ASSERT_EQ(Get(port(), "/healthz").status, 200);
  const milliseconds took = Stop();
  EXPECT_TRUE(served_ok_);
  EXPECT_LT(took, kDrainIdleGrace + milliseconds(2000));
  EXPECT_TRUE(ClosedWithin(fd, milliseconds(1000)));
  ::close(fd);
  EXPECT_NE(Get(port(), "/healthz").error, "") << "no longer listening";
}

TEST_F(ServerTest, DrainDuringLoadAnswersEveryRequestInFlight) {
  Start();
  std::atomic<std::size_t> progress{0};
  std::thread drainer([&] {
    forge::testing::WaitUntil([&] { return progress.load() >= 500; },
                              milliseconds(30000));
    server_->BeginDrain();
  });
  LoadOptions options = Load(16, 10'000'000);
  options.reconnect = false;
  options.progress = &progress;
  const auto load = forge::testing::RunLoad(options);
  drainer.join();
  Stop();
  EXPECT_FALSE(load.timed_out) << load.Summary();
  EXPECT_GE(load.completed, 500u);
  EXPECT_EQ(load.lost_in_flight, 0u) << load.Summary();
  EXPECT_EQ(load.server_closes, 16u) << "each connection told to close";
  EXPECT_EQ(load.statuses.size(), 1u) << load.Summary();
}

// A connection the kernel queued before the drain is accepted and answered
// (with `Connection: close`), not reset when the listener closes.
TEST_F(ServerTest, DrainAnswersEveryConnectionStillInTheAcceptQueue) {
  ServerOptions o = Small();
  o.pool.min_threads = 1;  // one thread, so that the accept loop waits
  o.pool.max_threads = 1;
  // Every connection is handed to that thread as soon as it is accepted,
  // so the loop accepts exactly one and then waits (thread_pool.h).
  o.fast_path = false;
  Start(o);
  const std::string request = "GET /get-key HTTP/1.1\r\nHost: x\r\n\r\n";
  // An idle keep-alive connection holds the only thread.
  const int holder = Connect();
  ASSERT_EQ(::send(holder, request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  ASSERT_TRUE(ReadResponseEndingIn(holder, "k000000", milliseconds(5000)));
  // The next connection is accepted and waits for that thread; the rest
  // complete their handshake and send their request into the kernel's
  // accept queue.
  constexpr int kQueued = 6;
  std::vector<int> conns;
  for (int i = 0; i < 1 + kQueued; ++i) {
    conns.push_back(Connect());
    ASSERT_EQ(::send(conns.back(), request.data(), request.size(), 0),
              static_cast<ssize_t>(request.size()));
  }
  ASSERT_TRUE(forge::testing::WaitUntil(
      [&] { return AcceptQueueLength(listener_.fd) == kQueued; },
      milliseconds(10000)))
      << AcceptQueueLength(listener_.fd);
  Stop();  // the holder is closed after the idle grace; then the rest run
  EXPECT_TRUE(served_ok_);
  for (std::size_t i = 0; i < conns.size(); ++i) {
    bool reset = false;
    const std::string got =
        ReadUntilClosed(conns[i], milliseconds(5000), &reset);
    EXPECT_FALSE(reset) << "connection " << i;
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u)
        << "connection " << i << ": " << got;
    EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos)
        << "connection " << i << ": " << got;
    ::close(conns[i]);
  }
  ::close(holder);
  EXPECT_EQ(backend_.requests(), 1u + conns.size());
}

// A request that would wait for keys goes to a thread (the loop never
// blocks), and once answered the idle connection comes back to the loop: the
// pool's only thread is then free for another client.
TEST_F(ServerTest, ARequestThatWouldWaitIsAnsweredOnAThreadThatThenLetsGo) {
  ServerOptions o = Small();
  o.pool.min_threads = 1;
  o.pool.max_threads = 1;
  o.keep_alive_timeout = std::chrono::seconds(60);  // nobody times out here
  Start(o);
  const std::string get_key = "GET /get-key HTTP/1.1\r\nHost: x\r\n\r\n";
  backend_.SetMayWait(true);
  const int a = Connect();
  ASSERT_EQ(::send(a, get_key.data(), get_key.size(), 0),
            static_cast<ssize_t>(get_key.size()));
  ASSERT_TRUE(ReadResponseEndingIn(a, "k000000", milliseconds(5000)));
  backend_.SetMayWait(false);
  // Another connection needs the only thread (HTTP/1.0 is never hot): it is
  // answered only if connection `a` gave it back.
  const int b = Connect();
  const std::string old =
      "GET /get-key HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  ASSERT_EQ(::send(b, old.data(), old.size(), 0),
            static_cast<ssize_t>(old.size()));
  EXPECT_TRUE(ReadResponseEndingIn(b, "k000001", milliseconds(5000)));
  // `a` is served by the loop while `b` idles on the thread.
  ASSERT_EQ(::send(a, get_key.data(), get_key.size(), 0),
            static_cast<ssize_t>(get_key.size()));
  EXPECT_TRUE(ReadResponseEndingIn(a, "k000002", milliseconds(5000)));
  ::close(a);
  ::close(b);
}

// A client that reads a large answer a byte a second cannot hold the
// connection's thread past the whole-response deadline.
TEST_F(ServerTest, SlowReaderOfALargeAnswerIsCutAtTheResponseDeadline) {
  constexpr std::size_t kKeys = 1000000;  // 8 MB: more than any buffer
  const Router big(backend_, RouterLimits{kKeys});
  ServerOptions o = Small();
  o.response_timeout = std::chrono::seconds(2);
  o.write_timeout = std::chrono::seconds(60);  // progress alone is no limit
  Start(o, &big);
  // A fast reader gets all of it.
  const auto whole = Get(port(), "/get-keys?count=" + std::to_string(kKeys),
                         milliseconds(20000));
  ASSERT_EQ(whole.status, 200) << whole.error;
  EXPECT_EQ(whole.body.size(), kKeys * 8);

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 1;  // the kernel's minimum: the server's send blocks
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  const sockaddr_in addr = forge::testing::LoopbackAddress(port());
  ASSERT_EQ(
      ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = "GET /get-keys?count=" + std::to_string(kKeys) +
                              " HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto start = Clock::now();
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  // One byte a second until the server resets the connection.
  std::size_t got = 0;
  bool cut = false;
  while (!cut && Clock::now() - start < milliseconds(15000)) {
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 1000);
    cut = (p.revents & (POLLERR | POLLHUP)) != 0;
    char byte;
    if (!cut && ::recv(fd, &byte, 1, MSG_DONTWAIT) == 1) ++got;
    if (!cut) ::poll(nullptr, 0, 1000);
  }
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_TRUE(cut) << "still open after " << took.count() << " ms";
  EXPECT_GE(took, milliseconds(1500)) << "cut before the deadline";
  // Far below the 60 s it took when each send only had to make progress.
  EXPECT_LT(took, milliseconds(2000 + 5000)) << "long after the deadline";
  EXPECT_LT(got, kKeys * 8);
  ::close(fd);
  EXPECT_EQ(Get(port(), "/healthz").status, 200) << "still serving";
}

}  // namespace
}  // namespace forge::frontend::testing
