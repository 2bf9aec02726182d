// A stalled PostgreSQL store against the real forge-broker and
// forge-frontend (issue 10 item 2, item 6 "HTTP requests while the store is
// stalled", issue 11.8 "one log line, not one per retry"):
//   (a) another session holds SELECT … FOR UPDATE on the counter row;
//   (c) a TCP proxy between the broker and the server turns into a
//       blackhole.
// Either way the frontend keeps serving /get-key from the ring until it
// runs dry, then answers 503 within EMPTY_WAIT_MS; `forge-ctl stats --json`
// shows broker.state "store-error" with the broker alive; the broker logs
// one "store error" line however many attempts fail, and one "store
// recovered after" line when the stall ends; serving resumes; no key is
// served twice and every one was durably reserved. (b) SIGTERM while a
// store call is blocked (lock or blackhole, STORE_TIMEOUT_MS far away):
// the broker exits 0 within 3 s and the keys that were in the ring are
// still there.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/ctl/mini_json.h"
#include "tests/faults/fault_util.h"
#include "tests/faults/tcp_proxy.h"
#include "tests/support/http_client.h"
#include "tests/support/postgres_server.h"
#include "tests/support/stack.h"

namespace forge::faults {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::Bin;
using testing::Env;
using testing::Get;
using testing::HttpResponse;
using testing::PostgresServer;
using testing::Process;
using testing::WaitUntil;
using State = shm::BrokerState;

constexpr std::uint64_t kCapacity = 256;
constexpr int kEmptyWaitMs = 300;
// A 503 may come this much later than EMPTY_WAIT_MS (a loaded 2-core CI).
constexpr milliseconds kAnswerSlack(1000);
constexpr milliseconds kDeadline(20000);
constexpr milliseconds kExitLimit(3000);
// STORE_TIMEOUT_MS for the stall tests (short: several attempts fail in a
// few seconds) and for the SIGTERM tests (long: the call is surely still
// blocked when the signal comes, so only the stop can end it).
constexpr int kShortTimeoutMs = 1000;
constexpr int kLongTimeoutMs = 60000;
constexpr const char* kLocker = "forge-test-locker";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class PgStallTest : public ::testing::Test, public testing::Stack {
 protected:
  PgStallTest()
      : Stack({{"POOL_CAPACITY", std::to_string(kCapacity)},
               {"RANGE_SIZE", "64"},
               {"KEY_ORDER", "sequential"},
               {"WORKERS", "1"},
               {"EMPTY_WAIT_MS", std::to_string(kEmptyWaitMs)}},
              testing::StackOptions::OwnStore(testing::StoreKind::kPostgres)),
        pg_(postgres()) {}
  ~PgStallTest() override { ReleaseCounterLock(); }

  std::string ViaProxy(const TcpProxy& proxy) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(proxy.port()) +
           "/forge_test";
  }

  Process StartBroker(const std::string& url, int timeout_ms) const {
    return Stack::StartBroker(
        {{"DB_URL", url}, {"STORE_TIMEOUT_MS", std::to_string(timeout_ms)}});
  }

  void StartFrontend() {
    HoldFrontend();
    ASSERT_TRUE(WaitHealthy(kDeadline)) << frontend()->Stderr();
  }

  // The broker is up, its ring full and its hand stocked: it sleeps.
  static bool WaitIdle(RingConsumer& c, const Process& broker) {
    return c.WaitBrokerIdle(broker.pid(), kDeadline);
  }

  // Another session locks the counter row FOR UPDATE and keeps it until
  // ReleaseCounterLock() ends that session.
  void HoldCounterLock() {
    locker_ = std::thread([this] {
      try {
        pg_.Query("SET application_name = '" + std::string(kLocker) +
                  "'; BEGIN; SELECT next FROM forge_counter WHERE id = 1 "
                  "FOR UPDATE; SELECT pg_sleep(300); COMMIT");
      } catch (const std::exception&) {
        // Terminated by ReleaseCounterLock: the lock is gone.
      }
    });
    ASSERT_TRUE(WaitUntil(
        [&] {
          return pg_.Query(
                     "SELECT count(*) FROM pg_stat_activity WHERE "
                     "application_name = '" +
                     std::string(kLocker) + "' AND wait_event = 'PgSleep'") ==
                 "1";
        },
        kDeadline));
  }

  void ReleaseCounterLock() {
    if (!locker_.joinable()) return;
    pg_.Query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = '" +
        std::string(kLocker) + "'");
    locker_.join();
  }

  // The end of the server's log, for failure messages.
  std::string PgLogTail() const {
    const std::string log = pg_.Log();
    return "\n--- PostgreSQL log (end) ---\n" +
           log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  }

  // The broker waits on the counter row's lock.
  bool BrokerWaitsOnTheLock() {
    return pg_.Query(
               "SELECT count(*) FROM pg_stat_activity WHERE "
               "application_name = 'forge-broker' AND "
               "wait_event_type = 'Lock'") == "1";
  }

  // `forge-ctl stats --json` for this segment.
  std::optional<testing::json::Value> CtlStats() {
    const testing::RunResult r =
        testing::Run({Bin("forge-ctl"), "stats", "--json", "--interval", "0"},
                     {{"SHM_NAME", shm()}}, kDeadline, dir().path());
    return testing::json::Parse(r.out);
  }

  // forge-ctl sees the broker alive (heartbeat fresh) in state store-error.
  bool CtlShowsStoreError() {
    const auto stats = CtlStats();
    if (!stats) return false;
    const auto* state = stats->At("broker.state");
    const auto* alive = stats->At("broker.alive");
    return state != nullptr && state->text == "store-error" &&
           alive != nullptr && alive->boolean;
  }

  // GET /get-key until the first 503; every answer within EMPTY_WAIT_MS
  // (plus slack). Appends the keys served.
  void DrainOverHttp(std::vector<std::string>* keys) {
    for (int i = 0; i < 10000; ++i) {
      const Clock::time_point t0 = Clock::now();
      const HttpResponse r = Get(port(), "/get-key");
      const auto took = Clock::now() - t0;
      EXPECT_LT(took, milliseconds(kEmptyWaitMs) + kAnswerSlack)
          << "answer " << r.status << " after " << keys->size() << " keys";
      if (r.status != 200) {
        EXPECT_EQ(r.status, 503) << r.body << r.error;
        return;
      }
      keys->push_back(Trim(r.body));
    }
    ADD_FAILURE() << "the ring never ran dry: the store was not stalled";
  }

  // GET /get-key until `n` more keys came (503s are retried).
  void TakeOverHttp(std::size_t n, std::vector<std::string>* keys) {
    std::size_t got = 0;
    ASSERT_TRUE(WaitUntil(
        [&] {
          const HttpResponse r = Get(port(), "/get-key");
          if (r.status == 200) {
            keys->push_back(Trim(r.body));
            ++got;
          }
          return got == n;
        },
        kDeadline))
        << got << " of " << n << " keys";
  }

  // No key twice; each one's number below the counter and not in the
  // returned list (durable before visible).
  void ExpectUniqueAndReserved(const std::vector<std::string>& keys) {
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(),
              keys.size())
        << "a key was served twice";
    const std::uint64_t next =
        std::stoull(pg_.Query("SELECT next FROM forge_counter WHERE id = 1"));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> returned;
    std::istringstream list(
        pg_.Query("SELECT coalesce(string_agg(first || ' ' || last, ' '), "
                  "'') FROM forge_returned"));
    for (std::uint64_t first, last; list >> first >> last;) {
      returned.emplace_back(first, last);
    }
    std::size_t bad = 0;
    for (const std::string& key : keys) {
      const auto n = SequentialNumber(key);
      bool ok = n.has_value() && *n < next;
      for (const auto& [first, last] : returned) {
        ok = ok && !(*n >= first && *n < last);
      }
      if (!ok && ++bad <= 3) {
        ADD_FAILURE() << "served key " << key << " is not durably reserved "
                      << "(counter " << next << ")";
      }
    }
    EXPECT_EQ(bad, 0u);
  }

  // SIGTERM; the broker must exit 0 within kExitLimit.
  void ExpectQuickStop(Process& broker) {
    const Clock::time_point t0 = Clock::now();
    broker.Signal(SIGTERM);
    const std::optional<int> code = broker.Wait(kExitLimit);
    const auto took =
        std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    ASSERT_EQ(code, 0) << "after " << took.count() << " ms\n"
                       << broker.Stderr();
    std::cout << "[ measured ] broker exit after SIGTERM: " << took.count()
              << " ms\n";
  }

  // The stall: the frontend serves the ring dry over HTTP, then 503s; the
  // broker is alive in store-error, failing again and again with one line.
  void ExpectServedThroughTheStall(Process& broker, RingConsumer& watch,
                                   std::vector<std::string>* keys,
                                   const std::string& cause) {
    DrainOverHttp(keys);
    EXPECT_GE(keys->size(), kCapacity) << "ring and hand should last";
    ASSERT_TRUE(WaitUntil(
        [&] { return watch.segment().broker().store_errors.load() >= 3; },
        kDeadline))
        << broker.Stderr();
    EXPECT_TRUE(WaitUntil([&] { return CtlShowsStoreError(); }, kDeadline));
    const HttpResponse still = Get(port(), "/get-key");
    EXPECT_EQ(still.status, 503) << still.body;
    const auto lines = LinesWith(broker.Stderr(), "store error");
    ASSERT_EQ(lines.size(), 1u) << "one line per run of errors, not per "
                                << "retry:\n"
                                << broker.Stderr();
    EXPECT_NE(lines[0].find(cause), std::string::npos) << lines[0];
  }

  // The stall is over: running again, one recovery line, keys come.
  void ExpectResumed(Process& broker, RingConsumer& watch,
                     std::vector<std::string>* keys) {
    ASSERT_TRUE(WaitUntil(
        [&] { return StateOf(watch.segment()) == State::kRunning; }, kDeadline))
        << broker.Stderr() << PgLogTail();
    EXPECT_EQ(LinesWith(broker.Stderr(), "store recovered after").size(), 1u)
        << broker.Stderr();
    ASSERT_NO_FATAL_FAILURE(TakeOverHttp(2 * kCapacity, keys));
    ExpectUniqueAndReserved(*keys);
    EXPECT_EQ(LinesWith(broker.Stderr(), "store error").size(), 1u)
        << broker.Stderr();
  }

  PostgresServer& pg_;
  std::thread locker_;
};

TEST_F(PgStallTest, LockedCounterRowServesTheRingOverHttpThenResumes) {
  Process broker = StartBroker(pg_.url(), kShortTimeoutMs);
  RingConsumer watch(shm());  // reads the stats, never pops
  ASSERT_TRUE(WaitIdle(watch, broker)) << broker.Stderr();
  ASSERT_NO_FATAL_FAILURE(StartFrontend());
  ASSERT_NO_FATAL_FAILURE(HoldCounterLock());
  std::vector<std::string> keys;
  ASSERT_NO_FATAL_FAILURE(
      ExpectServedThroughTheStall(broker, watch, &keys, "lock timeout"));
  ReleaseCounterLock();
  ASSERT_NO_FATAL_FAILURE(ExpectResumed(broker, watch, &keys));
  ExpectQuickStop(broker);
}

TEST_F(PgStallTest, SigtermWhileWaitingForTheLockExitsWithin3s) {
  Process broker = StartBroker(pg_.url(), kLongTimeoutMs);
  RingConsumer c(shm());  // no worker attached: the broker drains it
  ASSERT_TRUE(WaitIdle(c, broker)) << broker.Stderr();
  ASSERT_NO_FATAL_FAILURE(HoldCounterLock());
  ASSERT_TRUE(c.Pop(kCapacity / 2 + 1));  // below low water: a Reserve
  ASSERT_TRUE(WaitUntil([&] { return BrokerWaitsOnTheLock(); }, kDeadline))
      << broker.Stderr();
  const std::uint64_t in_ring = c.segment().ring().Size();
  ASSERT_NO_FATAL_FAILURE(ExpectQuickStop(broker));
  // The Return could not get the lock either: the ring's keys went back.
  EXPECT_EQ(c.segment().ring().Size(), in_ring) << broker.Stderr();
  EXPECT_EQ(LinesWith(broker.Stderr(), "put back into the ring").size(), 1u)
      << broker.Stderr();
  ReleaseCounterLock();
  Process next = StartBroker(pg_.url(), kShortTimeoutMs);
  ASSERT_TRUE(c.Pop(3 * kCapacity)) << next.Stderr() << PgLogTail();
  EXPECT_TRUE(c.unique());
  ExpectUniqueAndReserved(c.keys());
  ExpectQuickStop(next);
}

TEST_F(PgStallTest, BlackholedNetworkServesTheRingOverHttpThenResumes) {
  TcpProxy proxy(pg_.port());
  Process broker = StartBroker(ViaProxy(proxy), kShortTimeoutMs);
  RingConsumer watch(shm());
  ASSERT_TRUE(WaitIdle(watch, broker)) << broker.Stderr();
  ASSERT_NO_FATAL_FAILURE(StartFrontend());
  proxy.SetBlackhole(true);
  std::vector<std::string> keys;
  ASSERT_NO_FATAL_FAILURE(ExpectServedThroughTheStall(
      broker, watch, &keys,
      "no answer within " + std::to_string(2 * kShortTimeoutMs) + " ms"));
  proxy.SetBlackhole(false);
  ASSERT_NO_FATAL_FAILURE(ExpectResumed(broker, watch, &keys));
  ExpectQuickStop(broker);
}

TEST_F(PgStallTest, SigtermWhileTheNetworkIsBlackholedExitsWithin3s) {
  TcpProxy proxy(pg_.port());
  Process broker = StartBroker(ViaProxy(proxy), kLongTimeoutMs);
  RingConsumer c(shm());
  ASSERT_TRUE(WaitIdle(c, broker)) << broker.Stderr();
  proxy.SetBlackhole(true);
  ASSERT_TRUE(c.Pop(kCapacity / 2 + 1));  // below low water: a Reserve
  // Its first statement went into the hole: the call is blocked.
  ASSERT_TRUE(WaitUntil([&] { return proxy.swallowed() > 0; }, kDeadline))
      << broker.Stderr();
  const std::uint64_t in_ring = c.segment().ring().Size();
  ASSERT_NO_FATAL_FAILURE(ExpectQuickStop(broker));
  EXPECT_EQ(c.segment().ring().Size(), in_ring) << broker.Stderr();
  EXPECT_EQ(LinesWith(broker.Stderr(), "put back into the ring").size(), 1u)
      << broker.Stderr();
  proxy.SetBlackhole(false);
  Process next = StartBroker(pg_.url(), kShortTimeoutMs);
  ASSERT_TRUE(c.Pop(3 * kCapacity)) << next.Stderr() << PgLogTail();
  EXPECT_TRUE(c.unique());
  ExpectUniqueAndReserved(c.keys());
  ExpectQuickStop(next);
}

}  // namespace
}  // namespace forge::faults
