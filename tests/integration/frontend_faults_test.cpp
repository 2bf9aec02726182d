// Frontend shapes under load (docs/design.md §2.1, §8): the master SIGKILLed,
// and two frontends serving one segment.
//
// A SIGKILLed master: every worker gets SIGTERM from the kernel
// (PR_SET_PDEATHSIG, frontend/worker.cpp) and drains as on a clean stop —
// no new connection, requests in flight answered with `Connection: close`
// — then exits; the port is released with the last worker, and a new
// forge-frontend (systemd's Restart=, or an operator) serves it again on
// the same segment. No key is served twice through any of it.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "tests/integration/background_load.h"
#include "tests/integration/fault_fixture.h"
#include "tests/support/chaos_client.h"
#include "tests/support/http_client.h"

namespace forge::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWorkers = 4;
// The drain takes about kDrainIdleGrace (1 s); the master's own stop
// allows kStopGrace (10 s) before SIGKILL. Orphans get the same bound,
// plus room for a loaded machine.
constexpr milliseconds kOrphanExit{15000};
constexpr std::size_t kAnswers = 2000;  // answers between two steps

Env FrontendEnv() {
  return {{"WORKERS", std::to_string(kWorkers)},
          {"EMPTY_WAIT_MS", "200"},
          {"POOL_CAPACITY", "4096"},
          {"RANGE_SIZE", "1000"},
          {"KEEP_ALIVE_TIMEOUT", "60"}};
}

ChaosLoadOptions Load(int port, std::size_t connections) {
  ChaosLoadOptions o;
  o.port = port;
  o.connections = connections;
  // Mostly single keys (the fast path), every tenth request a batch.
  o.target = [](std::size_t conn, std::size_t n) {
    return (conn + n) % 10 == 0 ? std::string("/get-keys?count=50")
                                : std::string("/get-key");
  };
  return o;
}

// Makes this test process the reaper of orphaned descendants, so that the
// workers of a SIGKILLed master become its children and can be reaped
// (and their exit seen) by pid; undone on destruction.
class Subreaper {
 public:
  Subreaper() { ok_ = ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0; }
  ~Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
  Subreaper(const Subreaper&) = delete;
  Subreaper& operator=(const Subreaper&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

// True once `pid` (an orphaned worker, now our child) has exited and was
// reaped here.
bool Exited(pid_t pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  return r == pid || (r < 0 && errno == ECHILD && ::kill(pid, 0) != 0);
}

bool WaitProgress(const ChaosProgress& p, std::size_t more) {
  const std::size_t at = p.ok.load();
  return WaitUntil([&] { return p.ok.load() >= at + more; }, kFaultDeadline);
}

class FrontendFaultTest : public FaultFixture {};

TEST_F(FrontendFaultTest, KilledMasterLetsItsWorkersDrainAndANewFrontendServe) {
  const Subreaper reaper;
  ASSERT_TRUE(reaper.ok()) << "prctl(PR_SET_CHILD_SUBREAPER) failed";
  Process broker = StartBroker(FrontendEnv());
  Process frontend = StartFrontend(FrontendEnv());
  ASSERT_TRUE(WaitHealthy()) << frontend.Stderr() << broker.Stderr();
  const pid_t master = frontend.pid();
  ASSERT_TRUE(WaitWorkers(master, kWorkers));
  const std::vector<pid_t> workers = WorkerPids(master);

  BackgroundLoad load(Load(port(), 32));
  ASSERT_TRUE(WaitProgress(load.progress(), kAnswers)) << "no load";
  const Clock::time_point killed = Clock::now();
  frontend.Kill();  // SIGKILL of the master, reaped by Process
  std::vector<pid_t> left = workers;
  const bool all_exited = WaitUntil(
      [&] {
        std::erase_if(left, Exited);
        return left.empty();
      },
      kOrphanExit);
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - killed);
  for (const pid_t w : left) {  // ours, started through the master
    ::kill(w, SIGKILL);
    ::waitpid(w, nullptr, 0);
  }
  ASSERT_TRUE(all_exited) << left.size() << " orphaned workers still run "
                          << took.count() << " ms after the master died";
  std::cout << "orphaned workers exited " << took.count()
            << " ms after the master was killed\n";
  EXPECT_EQ(WorkerPids(master), std::vector<pid_t>{});

  // The port is free again: a new frontend binds it and serves the same
  // segment, and the clients that kept retrying get keys again.
  Process next = StartFrontend(FrontendEnv());
  ASSERT_TRUE(WaitHealthy()) << next.Stderr();
  ASSERT_TRUE(WaitWorkers(next.pid(), kWorkers)) << next.Stderr();
  ASSERT_TRUE(WaitProgress(load.progress(), kAnswers))
      << "the load did not resume on the new frontend";
  const ChaosLoadResult& r = load.Finish();
  std::cout << r.Summary() << "\n";

  const std::vector<std::uint64_t> numbers = Numbers(r.keys);
  ASSERT_GE(numbers.size(), 2 * kAnswers);
  EXPECT_EQ(Repeats(numbers), std::vector<std::uint64_t>{});
  EXPECT_EQ(r.hangs, 0u) << r.Summary();
  EXPECT_EQ(r.malformed, 0u) << r.Summary();
  EXPECT_EQ(r.Status(200) + r.Status(503), r.completed) << r.Summary();
  EXPECT_TRUE(broker.Running()) << broker.Stderr();
  next.Signal(SIGTERM);
  EXPECT_EQ(next.Wait(kFaultDeadline), 0) << next.Stderr();
}

TEST_F(FrontendFaultTest, TwoFrontendsOnOneSegmentBothServeAndNeverRepeat) {
  constexpr std::size_t kKeysEach = 40000;
  Process broker = StartBroker(FrontendEnv());
  Env second = FrontendEnv();
  const int port2 = FreePort();
  second["PORT"] = std::to_string(port2);
  Process a = StartFrontend(FrontendEnv());
  Process b = StartFrontend(second);
  ASSERT_TRUE(WaitHealthy()) << a.Stderr();
  ASSERT_TRUE(WaitUntil([&] { return Get(port2, "/healthz").status == 200; },
                        kFaultDeadline))
      << b.Stderr();
  ASSERT_TRUE(WaitWorkers(a.pid(), kWorkers));
  ASSERT_TRUE(WaitWorkers(b.pid(), kWorkers));

  BackgroundLoad load_a(Load(port(), 24));
  BackgroundLoad load_b(Load(port2, 24));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return load_a.progress().keys.load() >= kKeysEach &&
               load_b.progress().keys.load() >= kKeysEach;
      },
      milliseconds(120000)))
      << "served " << load_a.progress().keys.load() << " and "
      << load_b.progress().keys.load() << " keys";
  const ChaosLoadResult& ra = load_a.Finish();
  const ChaosLoadResult& rb = load_b.Finish();
  std::cout << "A: " << ra.Summary() << "\nB: " << rb.Summary() << "\n";

  std::vector<std::string> keys = ra.keys;
  keys.insert(keys.end(), rb.keys.begin(), rb.keys.end());
  const std::vector<std::uint64_t> numbers = Numbers(keys);
  ASSERT_GE(numbers.size(), 2 * kKeysEach);
  EXPECT_EQ(Repeats(numbers), std::vector<std::uint64_t>{});
  for (const ChaosLoadResult* r : {&ra, &rb}) {
    EXPECT_EQ(r->hangs, 0u) << r->Summary();
    EXPECT_EQ(r->lost.size(), 0u) << r->Summary();
    EXPECT_EQ(r->malformed, 0u) << r->Summary();
    EXPECT_EQ(r->Status(200) + r->Status(503), r->completed) << r->Summary();
  }
  // Every key a worker claimed reached a client: the slots of both
  // frontends count exactly what the clients received.
  EXPECT_EQ(ServedTotal(), numbers.size());
  EXPECT_EQ(WorkerPids(a.pid()).size() + WorkerPids(b.pid()).size(),
            static_cast<std::size_t>(2 * kWorkers));
  for (Process* f : {&a, &b}) {
    f->Signal(SIGTERM);
    EXPECT_EQ(f->Wait(kFaultDeadline), 0) << f->Stderr();
  }
}

}  // namespace
}  // namespace forge::testing
