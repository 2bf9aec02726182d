// Process-level tests of forge-broker: the real binary, a real SQLite
// store in a temporary directory, a unique segment; the test is the
// consumer.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "keys/key_codec.h"
#include "shm/layout.h"
#include "shm/notify.h"
#include "shm/segment.h"
#include "shm/workers.h"
#include "tests/support/postgres_server.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

using std::chrono::milliseconds;
using State = shm::BrokerState;

constexpr std::uint64_t kCapacity = 1024;
constexpr std::uint64_t kSmallCapacity = 256;
constexpr auto kDeadline = milliseconds(10000);

class BrokerProcessTest : public ::testing::Test, public Stack {
 protected:
  BrokerProcessTest()
      : Stack({{"POOL_CAPACITY", std::to_string(kCapacity)},
               {"RANGE_SIZE", "100"}}) {}
  Env BaseEnv() const { return MakeEnv(); }

  // Small ring and ranges, sequential keys: what a zero-waste restart
  // leaves behind is visible in which keys come next.
  Env ZeroWasteEnv() const {
    Env env = BaseEnv();
    env["KEY_ORDER"] = "sequential";
    env["POOL_CAPACITY"] = std::to_string(kSmallCapacity);
    return env;
  }

  // Attaches as a consumer once the broker has created the segment.
  shm::Segment& Consumer() {
    if (!consumer_) {
      EXPECT_TRUE(WaitUntil(
          [&] {
            try {
              consumer_.emplace(shm::Segment::Attach(shm()));
              return true;
            } catch (const shm::SegmentError&) {
              // Missing, or caught mid-creation (still 0 bytes): retry.
              return false;
            }
          },
          kDeadline));
    }
    return *consumer_;
  }

  const shm::BrokerStats& Stats() { return Consumer().broker(); }
  State StateNow() {
    return static_cast<State>(Stats().state.load(std::memory_order_relaxed));
  }
  bool WaitFull(Process& broker, milliseconds timeout = kDeadline) {
    return WaitUntil(
        [&] {
          return Consumer().ring().Size() == kCapacity &&
                 Stats().pid.load() == broker.pid();
        },
        timeout);
  }

  // Pops `n` keys (waiting for the broker when the ring runs dry), adding
  // each to `seen`; returns false on a repeated key or a timeout.
  bool Drain(std::size_t n, std::set<std::string>* seen) {
    std::vector<shm::Key> buf(256);
    std::size_t got = 0;
    bool unique = true;
    const bool done = WaitUntil(
        [&] {
          for (;;) {
            const std::size_t k = Consumer().ring().TryPopBatch(
                buf.data(), std::min(buf.size(), n - got));
            shm::MaybeWakeProducer(Consumer());
            for (std::size_t i = 0; i < k; ++i) {
              unique = seen->insert(buf[i].text).second && unique;
            }
            got += k;
            if (got == n) return true;
            if (k == 0) return false;
          }
        },
        kDeadline);
    return done && unique;
  }

  // Pops whatever is in the ring now (the broker is dead).
  std::size_t DrainDead(std::size_t max, std::set<std::string>* seen,
                        bool* unique) {
    shm::Key key{};
    std::size_t n = 0;
    while (n < max && Consumer().ring().TryPop(&key)) {
      *unique = seen->insert(key.text).second && *unique;
      ++n;
    }
    return n;
  }

  // The running broker is `broker`, its ring is full and its hand stocked:
  // it sleeps until consumers wake it.
  bool WaitIdle(Process& broker, std::uint64_t capacity) {
    return WaitUntil(
        [&] {
          return Stats().pid.load() == broker.pid() &&
                 Consumer().ring().Size() == capacity &&
                 Stats().producer_sleeping.load() == 1;
        },
        kDeadline);
  }

  std::optional<shm::Segment> consumer_;
};

// The keys of numbers [0, k) in sequential order.
std::set<std::string> FirstKeys(std::uint64_t k) {
  const keys::KeyCodec codec(7, keys::KeyOrder::kSequential, 0);
  std::set<std::string> keys;
  for (std::uint64_t n = 0; n < k; ++n) keys.insert(codec.Encode(n));
  return keys;
}

TEST_F(BrokerProcessTest, FillsTheRingFromAFreshStore) {
  Process broker = StartBroker();
  ASSERT_TRUE(WaitFull(broker)) << broker.Stderr();
  EXPECT_EQ(StateNow(), State::kRunning);
  EXPECT_GE(Stats().keys_produced.load(), kCapacity);
  EXPECT_EQ(Consumer().header().key_length, 7u);
  EXPECT_NE(std::string(Consumer().header().store).find("forge.db"),
            std::string::npos);
  shm::Key key{};
  ASSERT_TRUE(Consumer().ring().TryPop(&key));
  EXPECT_EQ(std::string(key.text).size(), 7u);
}

TEST_F(BrokerProcessTest, KillNineAndRestartNeverRepeatsAKey) {
  std::set<std::string> seen;
  bool unique = true;
  for (int round = 0; round < 4; ++round) {
    Process broker = StartBroker();
    ASSERT_TRUE(WaitFull(broker)) << "round " << round << broker.Stderr();
    // Several ranges pass through the ring while the broker runs.
    ASSERT_TRUE(Drain(4000, &seen)) << "round " << round;
    broker.Kill();
    // Consumers go on while the broker is dead; the rest stays in the ring.
    DrainDead(kCapacity / 4, &seen, &unique);
    const std::uint64_t left = Consumer().ring().Size();
    const std::uint64_t produced = Stats().keys_produced.load();
    Process next = StartBroker();
    ASSERT_TRUE(WaitFull(next)) << next.Stderr();
    // Re-attached, not recreated: only the free slots were filled.
    EXPECT_EQ(Stats().keys_produced.load() - produced, kCapacity - left);
    ASSERT_TRUE(Drain(1500, &seen));
    next.Kill();
  }
  EXPECT_TRUE(unique);
  EXPECT_GE(seen.size(), 4u * (4000 + 1500));
}

TEST_F(BrokerProcessTest, SecondBrokerOnTheSameSegmentExits2NamingTheFirst) {
  Process first = StartBroker();
  ASSERT_TRUE(WaitFull(first)) << first.Stderr();
  Process second = StartBroker();
  ASSERT_EQ(second.Wait(kDeadline), 2) << second.Stderr();
  EXPECT_NE(second.Stderr().find(std::to_string(first.pid())),
            std::string::npos)
      << second.Stderr();
  EXPECT_TRUE(first.Running());
  EXPECT_EQ(Stats().pid.load(), first.pid());
}

TEST_F(BrokerProcessTest, SigtermStopsPromptlyAndReleasesTheLock) {
  Process broker = StartBroker();
  ASSERT_TRUE(WaitFull(broker)) << broker.Stderr();
  // Let it fall asleep on the futex (ring full, hand stocked).
  ASSERT_TRUE(WaitUntil([&] { return Stats().producer_sleeping.load() == 1; },
                        kDeadline));
  const auto t0 = std::chrono::steady_clock::now();
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, milliseconds(1000));
  EXPECT_EQ(StateNow(), State::kStopped);
  Process next = StartBroker();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Stats().pid.load() == next.pid() &&
               StateNow() == State::kRunning;
      },
      kDeadline))
      << next.Stderr();
}

TEST_F(BrokerProcessTest, SighupIsLoggedAndIgnored) {
  Process broker = StartBroker();
  ASSERT_TRUE(WaitFull(broker)) << broker.Stderr();
  broker.Signal(SIGHUP);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return broker.Stderr().find("SIGHUP ignored") != std::string::npos;
      },
      kDeadline));
  EXPECT_TRUE(broker.Running());
}

// The niceness of one thread of `pid`; nullopt when the thread has gone.
std::optional<int> ThreadNice(pid_t pid, const std::string& tid) {
  const std::optional<std::string> nice = ProcStatField(
      "/proc/" + std::to_string(pid) + "/task/" + tid + "/stat", 19);
  if (!nice) return std::nullopt;
  return std::stoi(*nice);
}

// The thread ids of `pid`, as /proc lists them now.
std::vector<std::string> ThreadsOf(pid_t pid) {
  std::vector<std::string> tids;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
    tids.push_back(entry.path().filename());
  }
  return tids;
}

// BROKER_NICE applies to every thread of the broker (the reserver and the
// encode helpers inherit it from the main thread). 19, the highest, needs
// no privilege whatever the runner's own niceness.
TEST_F(BrokerProcessTest, EveryThreadRunsAtTheConfiguredNiceness) {
  Env env = BaseEnv();
  env["BROKER_NICE"] = "19";
  env["ENCODE_THREADS"] = "3";
  Process broker = StartBroker(env);
  ASSERT_TRUE(WaitFull(broker)) << broker.Stderr();
  EXPECT_NE(broker.Stderr().find(" nice=19 "), std::string::npos)
      << broker.Stderr();
  // The reserver and the helpers are made at their first job, and which
  // jobs the first fill gives out depends on timing (a reservation with
  // nothing in hand runs on the loop): keys are taken, so the broker
  // refills, until all four threads exist.
  std::set<std::string> seen;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return ThreadsOf(broker.pid()).size() >= 4 ||
               !Drain(kCapacity / 2, &seen);
      },
      kDeadline));
  const std::vector<std::string> tids = ThreadsOf(broker.pid());
  EXPECT_GE(tids.size(), 4u);  // main, reserver, two encode helpers
  for (const std::string& tid : tids) {
    EXPECT_EQ(ThreadNice(broker.pid(), tid), 19) << "thread " << tid;
  }
}

// libpq is loaded only for a PostgreSQL store (pq/libpq.h): a broker on
// the SQLite default never maps it (libc proves the maps were read).
TEST_F(BrokerProcessTest, OnSqliteLibpqIsNeverLoaded) {
  Process broker = StartBroker();
  ASSERT_TRUE(WaitFull(broker)) << broker.Stderr();
  EXPECT_TRUE(MapsLibrary(broker.pid(), "libc.so"));
  EXPECT_TRUE(MapsLibrary(broker.pid(), "libsqlite3.so"));
  EXPECT_FALSE(MapsLibrary(broker.pid(), "libpq.so"));
}

TEST_F(BrokerProcessTest, KeyLengthThatDisagreesWithTheStoreExits2) {
  // Registered as a worker, so the stopping broker leaves the ring full.
  std::optional<std::uint32_t> slot;
  {
    Process broker = StartBroker();
    ASSERT_TRUE(WaitFull(broker)) << broker.Stderr();
    slot = shm::ClaimWorkerSlot(Consumer(), ::getpid(), ::getpid());
    ASSERT_TRUE(slot.has_value());
    broker.Signal(SIGTERM);
    ASSERT_EQ(broker.Wait(kDeadline), 0);
  }
  Env env = BaseEnv();
  env["KEY_LENGTH"] = "6";
  Process wrong = StartBroker(env);
  ASSERT_EQ(wrong.Wait(kDeadline), 2) << wrong.Stderr();
  // One error line, naming both lengths.
  const std::string err = wrong.Stderr();
  std::size_t errors = 0;
  std::string line;
  for (std::size_t pos = 0; pos < err.size();) {
    const std::size_t end = err.find('\n', pos);
    line = err.substr(pos, end - pos);
    if (line.find("ERROR") != std::string::npos) {
      ++errors;
      const std::string msg = line.substr(line.find("] ") + 1);
      EXPECT_NE(msg.find('6'), std::string::npos) << line;
      EXPECT_NE(msg.find('7'), std::string::npos) << line;
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  EXPECT_EQ(errors, 1u) << err;
  // The refused broker never touched the segment: its keys are intact.
  EXPECT_EQ(Consumer().ring().Size(), kCapacity);
  EXPECT_EQ(Consumer().header().key_length, 7u);
  shm::ReleaseWorkerSlot(Consumer(), *slot, ::getpid());
}

// Issue 14: a declared namespace's key policy reaches the store (the
// fleet asks for config.yml's alphabet, check and prefix): a namespace the
// store holds as base62 is refused when config.yml declares it base58,
// exit 2 with one line naming the namespace and the field.
TEST_F(BrokerProcessTest, ADeclaredPolicyThatDisagreesWithTheStoreExits2) {
  Declare({{"invites"}});
  {
    Process broker = StartBroker();
    ASSERT_TRUE(WaitFull(broker)) << broker.Stderr();  // invites created
    broker.Signal(SIGTERM);
    ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  }
  WriteFile(dir() / "config/config.yml",
            "namespaces:\n  invites: { key_length: 7, key_order: sequential, "
            "alphabet: base58 }\n");
  Process wrong = StartBroker();
  ASSERT_EQ(wrong.Wait(kDeadline), 2) << wrong.Stderr();
  EXPECT_NE(wrong.Stderr().find("namespace \"invites\": the store holds "
                                "alphabet=base62 but config asks "
                                "alphabet=base58"),
            std::string::npos)
      << wrong.Stderr();
}

// Zero-waste restarts: start, serve a random number of keys, SIGTERM (no
// worker is attached: the test pops as an unregistered consumer, so the
// broker drains the ring and returns it with its hand), 20 times. What was
// served is exactly the keys of [0, K): no gap, no repeat.
TEST_F(BrokerProcessTest, CleanRestartsServeExactlyTheFirstKNumbers) {
  std::mt19937 rng(20261126);
  std::uniform_int_distribution<std::size_t> want(1, 500);
  std::set<std::string> seen;
  for (int round = 0; round < 20; ++round) {
    Process broker = StartBroker(ZeroWasteEnv());
    ASSERT_TRUE(WaitUntil(
        [&] {
          return Stats().pid.load() == broker.pid() &&
                 StateNow() == State::kRunning;
        },
        kDeadline))
        << broker.Stderr();
    ASSERT_TRUE(Drain(want(rng), &seen)) << "round " << round;
    broker.Signal(SIGTERM);
    ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
    EXPECT_EQ(Consumer().ring().Size(), 0u) << "round " << round;
    EXPECT_NE(broker.Stderr().find("stopping: returned"), std::string::npos)
        << broker.Stderr();
  }
  EXPECT_EQ(seen, FirstKeys(seen.size()));
  EXPECT_EQ(Stats().keys_wasted.load(), 0u);
}

// Issue 18 §3: with RANGE_SIZE auto, sustained demand grows the ranges,
// so the store sees far fewer reservations than keys / RANGE_SIZE_MIN
// (3000 here); a stop after a grown range returns its unused rest, so the
// next broker serves exactly the numbers that follow.
TEST_F(BrokerProcessTest, AutoRangesGrowUnderLoadAndAStopWastesNothing) {
  constexpr std::uint64_t kKeys = 300000;
  Env env = ZeroWasteEnv();
  env["RANGE_SIZE"] = "auto";
  env["RANGE_SIZE_MIN"] = "100";
  Process broker = StartBroker(env);
  std::set<std::string> seen;
  ASSERT_TRUE(Drain(kKeys, &seen)) << broker.Stderr();
  EXPECT_LE(Stats().ranges_reserved.load(), 60u);
  EXPECT_GT(Stats().range_size.load(), 800u);
  EXPECT_NE(broker.Stderr().find("range_size=auto(100..1000000)"),
            std::string::npos)
      << broker.Stderr();
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  EXPECT_EQ(Stats().keys_wasted.load(), 0u);

  Process next = StartBroker(env);
  ASSERT_TRUE(Drain(1000, &seen)) << next.Stderr();
  EXPECT_EQ(seen, FirstKeys(kKeys + 1000));
}

// A live worker (the test claims a slot for its own pid) may still pop:
// the ring stays, yet the hand goes back, so the next broker serves it
// right after the ring's keys.
TEST_F(BrokerProcessTest, ALiveWorkerKeepsTheRingAndTheHandIsStillReturned) {
  Process broker = StartBroker(ZeroWasteEnv());
  ASSERT_TRUE(WaitIdle(broker, kSmallCapacity)) << broker.Stderr();
  const std::uint64_t reserved = Stats().store_next.load();
  ASSERT_GT(reserved, kSmallCapacity) << "no hand to return";
  const auto slot = shm::ClaimWorkerSlot(Consumer(), ::getpid(), ::getpid());
  ASSERT_TRUE(slot.has_value());
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  shm::ReleaseWorkerSlot(Consumer(), *slot, ::getpid());
  EXPECT_EQ(Consumer().ring().Size(), kSmallCapacity);
  EXPECT_NE(broker.Stderr().find("1 attached frontend worker"),
            std::string::npos)
      << broker.Stderr();

  Process next = StartBroker(ZeroWasteEnv());
  std::set<std::string> seen;
  ASSERT_TRUE(Drain(reserved + 100, &seen)) << next.Stderr();
  EXPECT_EQ(seen, FirstKeys(reserved + 100));
}

// The store is down when the broker stops: it retries for about 1 s, then
// says in one line how many numbers it could not return, puts the ring's
// keys back into the ring (the store recorded nothing: they are still
// good), counts only its hand as wasted and still exits 0.
TEST_F(BrokerProcessTest, StoreDownAtStopExitsZeroCountingTheGap) {
  testing::PostgresServer pg;
  Env env = ZeroWasteEnv();
  env["DB_URL"] = pg.url();
  Process broker = StartBroker(env);
  ASSERT_TRUE(WaitIdle(broker, kSmallCapacity)) << broker.Stderr();
  EXPECT_TRUE(MapsLibrary(broker.pid(), "libpq.so"));  // loaded on demand
  const std::uint64_t reserved = Stats().store_next.load();
  pg.Stop();
  const auto t0 = std::chrono::steady_clock::now();
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(5000));
  EXPECT_NE(
      broker.Stderr().find("could not return " + std::to_string(reserved) +
                           " unpublished numbers"),
      std::string::npos)
      << broker.Stderr();
  const std::uint64_t in_ring = Consumer().ring().Size();
  EXPECT_EQ(in_ring, kSmallCapacity) << broker.Stderr();
  EXPECT_EQ(Stats().keys_wasted.load(), reserved - in_ring);  // the hand
}

}  // namespace
}  // namespace forge::testing
