// Fault suite, part 5 — a frontend's stop and its workers' accept loop
// (issue 11, item 7), against the real forge-frontend and forge-broker:
//   * SIGTERM answers every connection the kernel had already queued (with
//     `Connection: close`) instead of resetting it when the socket closes,
//     and under a load that reconnects at once no connection is reset;
//   * a worker out of file descriptors (a tiny RLIMIT_NOFILE set with
//     prlimit(2)) keeps its pid, backs off, logs at most a line a second,
//     and serves every queued connection once fds free up.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/faults/fault_util.h"
#include "tests/faults/raw_conn.h"
#include "tests/frontend/tcp_probe.h"
#include "tests/integration/fault_fixture.h"
#include "tests/support/http_client.h"

namespace forge::testing {
namespace {

using Clock = std::chrono::steady_clock;
using faults::LinesWith;
using faults::RawConn;
using frontend::testing::ListenQueueLength;

constexpr char kGetKey[] = "GET /get-key HTTP/1.1\r\nHost: a\r\n\r\n";
constexpr char kOutOfFds[] = "Too many open files (EMFILE)";

class ShutdownTest : public FaultFixture {
 protected:
  // A broker and a frontend with `workers` workers, healthy.
  void StartBoth(int workers) {
    const Env env = {{"WORKERS", std::to_string(workers)},
                     {"RANGE_SIZE", "10000"},
                     {"EMPTY_WAIT_MS", "200"},
                     {"KEEP_ALIVE_TIMEOUT", "60"}};
    broker_.emplace(StartBroker(env));
    frontend_.emplace(StartFrontend(env));
    ASSERT_TRUE(WaitHealthy()) << frontend_->Stderr() << broker_->Stderr();
    ASSERT_TRUE(
        WaitWorkers(frontend_->pid(), static_cast<std::size_t>(workers)));
  }

  // Sets the soft open-files limit of `pid`; returns the old limits.
  static rlimit SetFileLimit(pid_t pid, rlim_t soft) {
    rlimit old{};
    EXPECT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0);
    rlimit now = old;
    now.rlim_cur = soft;
    EXPECT_EQ(::prlimit(pid, RLIMIT_NOFILE, &now, nullptr), 0);
    return old;
  }

  // The open-files limit that leaves `pid` exactly `n` more fds: new fds
  // take the lowest free numbers, and one at or above the limit is EMFILE.
  static rlim_t LimitLeaving(pid_t pid, int n) {
    std::set<int> open;
    for (const auto& e : std::filesystem::directory_iterator(
             "/proc/" + std::to_string(pid) + "/fd")) {
      open.insert(std::stoi(e.path().filename().string()));
    }
    int fd = -1;
    for (int left = n; left > 0; --left) {
      do ++fd;
      while (open.count(fd) != 0);
    }
    return static_cast<rlim_t>(fd + 1);
  }

  // Log lines start with a UTC time ("2026-12-02T18:06:14.340Z ...").
  static std::chrono::milliseconds TimeOf(const std::string& line) {
    const auto field = [&](std::size_t at, std::size_t n) {
      return std::stoi(line.substr(at, n));
    };
    return std::chrono::hours(field(11, 2)) +
           std::chrono::minutes(field(14, 2)) +
           std::chrono::seconds(field(17, 2)) +
           std::chrono::milliseconds(field(20, 3));
  }

  static void ExpectAtMostOneLinePerSecond(
      const std::vector<std::string>& lines) {
    for (std::size_t i = 1; i < lines.size(); ++i) {
      auto gap = TimeOf(lines[i]) - TimeOf(lines[i - 1]);
      if (gap.count() < 0) gap += std::chrono::hours(24);  // past midnight
      // The log's clock is the wall clock, the limiter's the steady one.
      EXPECT_GE(gap, std::chrono::milliseconds(990)) << lines[i - 1] << "\n"
                                                     << lines[i];
    }
  }

  std::size_t LinesOf(const std::string& needle) const {
    return LinesWith(frontend_->Stderr(), needle).size();
  }

  // Opens `n` connections and sends one GET /get-key on each.
  std::vector<std::unique_ptr<RawConn>> Burst(std::size_t n) const {
    std::vector<std::unique_ptr<RawConn>> conns;
    for (std::size_t i = 0; i < n; ++i) {
      conns.push_back(std::make_unique<RawConn>(port()));
      EXPECT_TRUE(conns.back()->ok());
      EXPECT_TRUE(conns.back()->Send(kGetKey));
    }
    return conns;
  }

  std::optional<Process> broker_;
  std::optional<Process> frontend_;
};

// The kernel completes a handshake before any worker accepts; a stop that
// closed the listener then reset those connections (one per run under
// load). Here every accept() fails (RLIMIT_NOFILE 0), so the connections
// stay queued until the drain has begun; then the limit is restored.
TEST_F(ShutdownTest, SigtermAnswersEveryConnectionTheKernelHadQueued) {
  StartBoth(1);
  const pid_t worker = WorkerPids(frontend_->pid()).at(0);
  const rlimit old = SetFileLimit(worker, 0);
  constexpr std::size_t kQueued = 16;
  auto conns = Burst(kQueued);
  ASSERT_TRUE(WaitUntil([&] { return ListenQueueLength(port()) == kQueued; },
                        kFaultDeadline))
      << ListenQueueLength(port());

  frontend_->Signal(SIGTERM);
  // The worker logs this after its drain began: from then on it answers
  // each connection it accepts with `Connection: close`.
  ASSERT_TRUE(
      WaitUntil([&] { return LinesOf("draining:") > 0; }, kFaultDeadline))
      << frontend_->Stderr();
  ASSERT_EQ(::prlimit(worker, RLIMIT_NOFILE, &old, nullptr), 0);

  for (std::size_t i = 0; i < conns.size(); ++i) {
    const auto got = conns[i]->Read(1, kFaultDeadline);
    ASSERT_EQ(got.size(), 1u) << "connection " << i << " got no answer"
                              << (conns[i]->reset() ? " (reset)" : "");
    EXPECT_EQ(got[0].status, 200) << got[0].body;
    EXPECT_EQ(got[0].Header("Connection"), "close") << "connection " << i;
    EXPECT_TRUE(conns[i]->WaitClosed(kFaultDeadline).has_value());
    EXPECT_FALSE(conns[i]->reset()) << "connection " << i;
  }
  EXPECT_EQ(frontend_->Wait(kFaultDeadline), 0) << frontend_->Stderr();
}

// The README's promise for a second stop signal (and what timeout(1)
// without --foreground can cause): the workers are killed at once, not
// after their drain.
TEST_F(ShutdownTest, ASecondSigtermDuringTheDrainKillsTheWorkersAtOnce) {
  StartBoth(1);
  // A request whose head never ends keeps the drain waiting for the read
  // timeout (5 s).
  RawConn partial(port());
  ASSERT_TRUE(partial.Send("GET /get-key HTTP/1.1\r\n"));
  ASSERT_TRUE(WaitUntil([&] { return ListenQueueLength(port()) == 0; },
                        kFaultDeadline));
  frontend_->Signal(SIGTERM);
  ASSERT_TRUE(
      WaitUntil([&] { return LinesOf("draining:") > 0; }, kFaultDeadline))
      << frontend_->Stderr();
  const auto second = Clock::now();
  frontend_->Signal(SIGTERM);
  EXPECT_EQ(frontend_->Wait(kFaultDeadline), 0) << frontend_->Stderr();
  EXPECT_LT(Clock::now() - second, std::chrono::milliseconds(3000));
  EXPECT_EQ(LinesOf("did not stop in time; killing them"), 1u)
      << frontend_->Stderr();
  EXPECT_TRUE(partial.Read(1, kFaultDeadline).empty()) << "no answer";
  EXPECT_TRUE(partial.closed());
}

// Clients that reconnect as soon as they are told to close: their new
// connections used to land in the accept queue and be reset when the last
// worker closed the socket. Now the master stops the kernel from taking new
// connections before the drain, so a late client is refused (it retries
// its SYN and meets a closed port), never reset after sending a request.
TEST_F(ShutdownTest, SigtermUnderAReconnectingLoadResetsNoConnection) {
  StartBoth(4);
  std::atomic<std::size_t> progress{0};
  LoadOptions o;
  o.port = port();
  o.connections = 64;
  o.requests = 100'000'000;
  o.deadline = std::chrono::milliseconds(120000);
  o.reconnect = true;
  o.progress = &progress;
  LoadResult r;
  std::thread load([&] { r = RunLoad(o); });
  ASSERT_TRUE(
      WaitUntil([&] { return progress.load() >= 3000; }, kFaultDeadline));
  frontend_->Signal(SIGTERM);
  EXPECT_EQ(frontend_->Wait(kFaultDeadline), 0) << frontend_->Stderr();
  load.join();  // every connection ends refused once the port is closed
  EXPECT_FALSE(r.timed_out) << r.Summary();
  EXPECT_EQ(r.resets, 0u) << r.Summary();
  EXPECT_EQ(r.lost_in_flight, 0u) << r.Summary();
  EXPECT_EQ(r.Status(200), r.completed) << r.Summary();
  EXPECT_EQ(r.connect_resets, 0u) << r.Summary();
  EXPECT_GE(r.connect_failures, 64u) << r.Summary();
}

// A worker whose accept() fails with EMFILE keeps its pid, pauses between
// tries (logging at most one line a second) and serves the queue once the
// connections it holds go away.
TEST_F(ShutdownTest, WorkerOutOfFdsBacksOffLogsOncePerSecondAndRecovers) {
  StartBoth(1);
  const pid_t worker = WorkerPids(frontend_->pid()).at(0);
  // Room for three connections beyond the fds open now.
  SetFileLimit(worker, LimitLeaving(worker, 3));
  constexpr std::size_t kBurst = 40;
  auto conns = Burst(kBurst);
  ASSERT_TRUE(WaitUntil([&] { return LinesOf(kOutOfFds) > 0; }, kFaultDeadline))
      << frontend_->Stderr();
  // The condition lasts (every accepted connection stays open): a second
  // line comes, a second later, counting the failures in between.
  ASSERT_TRUE(
      WaitUntil([&] { return LinesOf(kOutOfFds) >= 2; }, kFaultDeadline))
      << frontend_->Stderr();
  const auto lines = LinesWith(frontend_->Stderr(), kOutOfFds);
  EXPECT_NE(lines.at(1).find("more failures since the last report"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(WorkerPids(frontend_->pid()), std::vector<pid_t>{worker});

  // Close each connection once answered: its fd frees up for the next.
  std::size_t answered = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (auto& c : conns) {
          if (c == nullptr) continue;
          const auto got = c->Read(1, std::chrono::milliseconds(10));
          if (got.empty()) continue;
          EXPECT_EQ(got[0].status, 200) << got[0].body;
          c.reset();
          ++answered;
        }
        return answered == kBurst;
      },
      kFaultDeadline))
      << answered << " of " << kBurst << " answered\n"
      << frontend_->Stderr();
  ExpectAtMostOneLinePerSecond(LinesWith(frontend_->Stderr(), kOutOfFds));
  EXPECT_EQ(WorkerPids(frontend_->pid()), std::vector<pid_t>{worker})
      << "the worker was replaced";
  EXPECT_EQ(LinesOf("restarting"), 0u) << frontend_->Stderr();
}

}  // namespace
}  // namespace forge::testing
