// The producer lock with the real forge-broker (docs/design.md §2.3; issue 10
// items 4 and 6): two brokers started at the same instant, a lock file
// naming a live unrelated pid, and broker starts racing forge-ctl's lock
// probe.
#include "shm/producer_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "keys/key_codec.h"
#include "shm/notify.h"
#include "shm/segment.h"
#include "tests/integration/fault_fixture.h"

namespace forge::testing {
namespace {

constexpr int kSimultaneousRounds = 5;
constexpr int kProbedStarts = 20;

class ProducerLockTest : public FaultFixture {
 protected:
  std::string LockPath() const { return shm::Segment::LockPath(shm()); }

  // Pops `n` keys as a consumer (waking the broker as frontends do).
  std::vector<std::string> PopKeys(std::size_t n) {
    shm::Segment seg = shm::Segment::Attach(shm());
    std::vector<std::string> keys;
    shm::Key key{};
    WaitUntil(
        [&] {
          while (keys.size() < n && seg.ring().TryPop(&key)) {
            keys.emplace_back(key.text);
          }
          shm::MaybeWakeProducer(seg);
          return keys.size() == n;
        },
        kFaultDeadline);
    return keys;
  }

  // Waits until `broker` runs (true) or exits (false), without waiting
  // out the deadline for a broker that already gave up.
  bool WaitRunningOrExit(Process& broker) {
    bool exited = false;
    WaitUntil(
        [&] {
          exited = !broker.Running();
          return exited || WaitBrokerRunning(broker, milliseconds(0));
        },
        kFaultDeadline);
    return !exited && WaitBrokerRunning(broker, milliseconds(0));
  }

  // Stops `broker` with SIGTERM; true when it exited 0.
  static bool Stop(Process& broker) {
    broker.Signal(SIGTERM);
    return broker.Wait(kFaultDeadline) == 0;
  }
};

// Two brokers started at the same instant on one SHM_NAME (and one fresh
// store): exactly one runs; the other exits 2 with the one line naming the
// first; the keys of the round are unique and below the store's counter.
TEST_F(ProducerLockTest, TwoBrokersStartedAtTheSameInstant) {
  std::vector<std::string> served;
  for (int round = 0; round < kSimultaneousRounds; ++round) {
    Process first = StartBroker({{"RANGE_SIZE", "100"}});
    Process second = StartBroker({{"RANGE_SIZE", "100"}});
    std::optional<int> first_exit, second_exit;
    ASSERT_TRUE(WaitUntil(
        [&] {
          first_exit = first.Running() ? std::nullopt : first.Wait({});
          second_exit = second.Running() ? std::nullopt : second.Wait({});
          return first_exit.has_value() != second_exit.has_value();
        },
        kFaultDeadline))
        << first.Stderr() << second.Stderr();
    Process& winner = first_exit ? second : first;
    Process& loser = first_exit ? first : second;
    EXPECT_EQ(first_exit ? *first_exit : *second_exit, 2);
    EXPECT_NE(loser.Stderr().find("is already served by broker pid " +
                                  std::to_string(winner.pid())),
              std::string::npos)
        << loser.Stderr();
    ASSERT_TRUE(WaitBrokerRunning(winner)) << winner.Stderr();
    EXPECT_TRUE(winner.Running());
    for (const std::string& k : PopKeys(500)) served.push_back(k);
    const std::uint64_t counter = StoreCounter();
    const std::vector<std::uint64_t> numbers = Numbers(served);
    ASSERT_EQ(numbers.size(), 500u * (round + 1));
    EXPECT_LT(numbers.back(), counter);
    EXPECT_TRUE(Repeats(numbers).empty()) << "round " << round;
    ASSERT_TRUE(Stop(winner)) << winner.Stderr();
  }
}

// The lock is an OS lock, not a pid file: a lock file naming a live
// process that holds no lock (this test) does not keep a broker out.
TEST_F(ProducerLockTest, LockFileNamingALiveUnrelatedPidIsNoLock) {
  {
    std::ofstream f(LockPath());
    f << ::getpid() << "\n";
  }
  ASSERT_EQ(::chmod(LockPath().c_str(), 0600), 0);
  ASSERT_EQ(::kill(::getpid(), 0), 0);  // the pid it names is alive
  Process broker = StartBroker();
  ASSERT_TRUE(WaitBrokerRunning(broker)) << broker.Stderr();
  const shm::LockProbe p = shm::ProbeProducerLock(LockPath());
  EXPECT_EQ(p.state, shm::LockProbe::State::kHeld);
  EXPECT_EQ(p.holder_pid, broker.pid());
  EXPECT_TRUE(Stop(broker)) << broker.Stderr();
}

// forge-ctl's probe (the same function, run without pause on a thread)
// while brokers start: the probe takes no lock, so every start succeeds.
// Before, the probe held a shared flock for an instant and a broker
// starting then exited 2 ("already served by ...").
TEST_F(ProducerLockTest, BrokerStartsWhileProbesRaceIt) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> probes{0};
  std::thread prober([&] {
    // relaxed: a stop flag and a counter; no data is passed through them.
    while (!stop.load(std::memory_order_relaxed)) {
      shm::ProbeProducerLock(LockPath());
      probes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  int started = 0;
  for (int i = 0; i < kProbedStarts; ++i) {
    Process broker = StartBroker();
    if (!WaitRunningOrExit(broker)) {
      ADD_FAILURE() << "start " << i << " failed: " << broker.Stderr();
      continue;
    }
    ++started;
    EXPECT_TRUE(Stop(broker)) << broker.Stderr();
  }
  stop.store(true);
  prober.join();
  EXPECT_EQ(started, kProbedStarts);
  EXPECT_GE(probes.load(), 1000u);
}

}  // namespace
}  // namespace forge::testing
