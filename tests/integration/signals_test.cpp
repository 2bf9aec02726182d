// Fault suite, part 4 — signals (docs/design.md §2.5, §8): SIGTERM to the
// broker under load, SIGHUP to every process, and clients that hang up
// before their answer (the server's writes then fail with EPIPE/ECONNRESET:
// a SIGPIPE if it were not suppressed). SIGTERM to the frontend under
// load is tested in tests/frontend/frontend_process_test.cpp.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/background_load.h"
#include "tests/integration/fault_fixture.h"
#include "tests/support/chaos_client.h"
#include "tests/support/http_client.h"

namespace forge::testing {
namespace {

constexpr int kWorkers = 4;
constexpr std::size_t kLargeBatch = 10000;  // MAX_BATCH's default

class SignalsTest : public FaultFixture {
 protected:
  Env SignalEnv(const Env& extra = {}) const {
    // KEEP_ALIVE_TIMEOUT: a client starved for seconds on a loaded
    // machine must not find its idle connection closed.
    Env env = {{"WORKERS", std::to_string(kWorkers)},
               {"EMPTY_WAIT_MS", "100"},
               {"RANGE_SIZE", "10000"},
               {"KEEP_ALIVE_TIMEOUT", "60"}};
    for (const auto& [k, v] : extra) env[k] = v;
    return env;
  }

  void StartBoth(const Env& extra = {}) {
    const Env env = SignalEnv(extra);
    broker_.emplace(StartBroker(env));
    frontend_.emplace(StartFrontend(env));
    ASSERT_TRUE(WaitHealthy()) << frontend_->Stderr() << broker_->Stderr();
    ASSERT_TRUE(WaitWorkers(frontend_->pid(), kWorkers));
  }

  ChaosLoadOptions Load(std::size_t connections) const {
    ChaosLoadOptions o;
    o.port = port();
    o.connections = connections;
    return o;
  }

  // Waits until the load got `n` more 200 answers.
  bool WaitMoreAnswers(const BackgroundLoad& load, std::size_t n) {
    const std::size_t at = load.progress().ok.load();
    return WaitUntil([&] { return load.progress().ok.load() >= at + n; },
                     kFaultDeadline);
  }

  // Nothing but full 200/503 answers: no lost request, no hang.
  static void ExpectOnlyAnswers(const ChaosLoadResult& r) {
    EXPECT_EQ(r.lost.size(), 0u) << r.Summary();
    EXPECT_EQ(r.hangs, 0u) << r.Summary();
    EXPECT_EQ(r.malformed, 0u) << r.Summary();
    EXPECT_EQ(r.connect_failures, 0u) << r.Summary();
    EXPECT_EQ(r.Status(200) + r.Status(503), r.completed) << r.Summary();
  }

  // The load has it all: every key that left the ring reached a client.
  // Waits for the counters to settle (the broker may still be refilling).
  bool AllServedKeysReceived(std::size_t received) {
    return WaitUntil(
        [&] {
          const auto fill = RingFill();
          return fill && ServedTotal() == received &&
                 ProducedTotal() - *fill == received;
        },
        kFaultDeadline);
  }

  std::optional<Process> broker_;
  std::optional<Process> frontend_;
};

TEST_F(SignalsTest, BrokerSigtermUnderLoadLeavesTheRingToServeThen503s) {
  // A ring the load needs over a second to drain from low water, so the
  // broker is gone well before it runs dry.
  ASSERT_NO_FATAL_FAILURE(StartBoth({{"POOL_CAPACITY", "262144"}}));
  std::vector<std::string> keys;
  {
    BackgroundLoad load(Load(16));
    ASSERT_TRUE(WaitMoreAnswers(load, 2000));
    broker_->Signal(SIGTERM);
    ASSERT_EQ(broker_->Wait(kFaultDeadline), 0) << broker_->Stderr();
    const std::size_t keys_at_exit = load.progress().keys.load();
    const std::uint64_t fill_at_exit = RingFill().value_or(0);
    EXPECT_GT(fill_at_exit, 0u) << "the stopped broker left its ring";
    // The frontend serves what the ring holds, then answers 503.
    ASSERT_TRUE(WaitUntil([&] { return load.progress().unavailable > 0; },
                          kFaultDeadline));
    const ChaosLoadResult& r = load.Finish();
    std::cout << "phase 1: " << r.Summary() << "\n";
    ExpectOnlyAnswers(r);
    EXPECT_GE(r.keys.size(), keys_at_exit + fill_at_exit) << r.Summary();
    for (const std::string& body : r.bodies_503) {
      EXPECT_EQ(body.rfind("no broker is running", 0), 0u) << body;
    }
    EXPECT_EQ(RingFill().value_or(1), 0u);
    EXPECT_TRUE(AllServedKeysReceived(r.keys.size()));
    keys = r.keys;
  }
  // A new broker resumes; the frontend was never restarted.
  broker_.emplace(StartBroker(SignalEnv({{"POOL_CAPACITY", "262144"}})));
  ASSERT_TRUE(WaitBrokerRunning(*broker_)) << broker_->Stderr();
  {
    BackgroundLoad load(Load(16));
    ASSERT_TRUE(WaitMoreAnswers(load, 2000));
    const ChaosLoadResult& r = load.Finish();
    std::cout << "phase 2: " << r.Summary() << "\n";
    ExpectOnlyAnswers(r);
    keys.insert(keys.end(), r.keys.begin(), r.keys.end());
  }
  EXPECT_TRUE(frontend_->Running()) << frontend_->Stderr();
  const std::vector<std::uint64_t> numbers = Numbers(keys);
  EXPECT_EQ(Repeats(numbers), std::vector<std::uint64_t>{});
  broker_->Signal(SIGTERM);
  ASSERT_EQ(broker_->Wait(kFaultDeadline), 0) << broker_->Stderr();
  EXPECT_LT(numbers.back(), StoreCounter());
}

TEST_F(SignalsTest, SighupIsLoggedAndIgnoredByBrokerMasterAndWorker) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  const pid_t master = frontend_->pid();
  const std::vector<pid_t> workers = WorkerPids(master);
  BackgroundLoad load(Load(16));
  ASSERT_TRUE(WaitMoreAnswers(load, 1000));
  broker_->Signal(SIGHUP);
  frontend_->Signal(SIGHUP);
  ASSERT_EQ(::kill(workers[0], SIGHUP), 0);
  const auto logged = [](Process& p, pid_t pid) {
    return WaitUntil(
        [&] {
          return p.Stderr().find("[" + std::to_string(pid) +
                                 "] SIGHUP ignored") != std::string::npos;
        },
        kFaultDeadline);
  };
  EXPECT_TRUE(logged(*broker_, broker_->pid())) << broker_->Stderr();
  EXPECT_TRUE(logged(*frontend_, master)) << frontend_->Stderr();
  EXPECT_TRUE(logged(*frontend_, workers[0])) << frontend_->Stderr();
  ASSERT_TRUE(WaitMoreAnswers(load, 1000)) << "serving goes on";
  const ChaosLoadResult& r = load.Finish();
  ExpectOnlyAnswers(r);
  EXPECT_EQ(WorkerPids(master), workers) << "no worker restarted";
  EXPECT_TRUE(broker_->Running());
  EXPECT_TRUE(frontend_->Running());
}

// Sends GET `target` and hangs up without reading the whole answer. With
// `midway`, the client advertises a tiny receive window, waits for the
// first bytes of the answer (so the worker is writing it) and resets the
// connection; otherwise it closes at once, before any answer. Returns
// true if the answer it saw began as a 200.
bool HangUp(int port, const std::string& target, bool midway) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  if (midway) {
    const int small = 2048;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    const timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  const sockaddr_in addr = testing::LoopbackAddress(port);
  bool started_200 = false;
  const std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) ==
          0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()) &&
      midway) {
    char head[12];
    started_200 = ::recv(fd, head, sizeof(head), MSG_WAITALL) ==
                      static_cast<ssize_t>(sizeof(head)) &&
                  std::string(head, sizeof(head)) == "HTTP/1.1 200";
    const linger reset{1, 0};  // close() sends RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  }
  ::close(fd);
  return started_200;
}

TEST_F(SignalsTest, ClientsThatHangUpBeforeTheAnswerKillNoWorker) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  const pid_t master = frontend_->pid();
  const std::vector<pid_t> workers = WorkerPids(master);
  BackgroundLoad load(Load(8));
  ASSERT_TRUE(WaitMoreAnswers(load, 1000));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  std::atomic<std::size_t> large_started{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int kind = (t + i) % 4;
        if (kind == 0) {
          // relaxed: a tally read after join().
          large_started.fetch_add(
              HangUp(port(), "/get-keys?count=" + std::to_string(kLargeBatch),
                     true)
                  ? 1
                  : 0,
              std::memory_order_relaxed);
        } else {
          HangUp(port(), kind == 1 ? "/get-keys?count=100" : "/get-key", false);
        }
      }
    });
  }
  for (std::thread& c : clients) c.join();
  ASSERT_TRUE(WaitMoreAnswers(load, 1000)) << "serving goes on";
  const ChaosLoadResult& r = load.Finish();
  // (A 503 is fine here: the abandoned batches may outrun the broker.)
  ExpectOnlyAnswers(r);

  // No worker died: the same pids hold the slots, none was restarted.
  EXPECT_EQ(WorkerPids(master), workers);
  EXPECT_EQ(frontend_->Stderr().find("restarting"), std::string::npos)
      << frontend_->Stderr();
  EXPECT_EQ(Get(port(), "/get-key").status, 200);

  // Keys claimed for the clients that left are counted as served (gaps,
  // never reissued): everything that left the ring is served.
  std::cout << large_started.load() << " large answers cut short\n";
  EXPECT_GT(large_started.load(), 0u);
  const std::size_t received = r.keys.size() + 1;  // + the Get above
  EXPECT_TRUE(WaitUntil(
      [&] {
        const auto fill = RingFill();
        return fill && ProducedTotal() - *fill == ServedTotal();
      },
      kFaultDeadline))
      << "produced " << ProducedTotal() << " served " << ServedTotal();
  // Each answer cut short had claimed its keys (up to kLargeBatch).
  EXPECT_GE(ServedTotal(), received + large_started.load());
}

}  // namespace
}  // namespace forge::testing
