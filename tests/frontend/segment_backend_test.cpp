// SegmentBackend (frontend/segment_backend.h) against a real segment; the
// test process plays the broker (producer) itself.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "frontend/consumer.h"
#include "frontend/metrics.h"
#include "shm/health.h"
#include "shm/notify.h"
#include "tests/frontend/fake_broker.h"
#include "tests/support/broker_counters.h"
#include "tests/support/process.h"

namespace forge::frontend {
namespace {

using forge::testing::ShmName;
using forge::testing::WaitUntil;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

using testing::FakeBroker;
using testing::Text;

// The broker counters Observe() and /metrics are checked against.
void StoreKnownCounters(shm::BrokerStats& b) {
  forge::testing::StoreCounters(b, {.low_water = 256,
                                    .keys_produced = 500,
                                    .ranges_reserved = 3,
                                    .refills = 2,
                                    .store_errors = 1,
                                    .keys_wasted = 7,
                                    .last_refill_ns = 1'500'000,
                                    .store_next = 3000});
}

SegmentBackendOptions Options(const ShmName& name, milliseconds wait) {
  return {name.str(), wait, ::getppid()};
}

const shm::WorkerSlot* SlotOf(const shm::Segment& seg, pid_t pid) {
  for (std::uint32_t i = 0; i < shm::kMaxWorkers; ++i) {
    if (seg.worker(i).pid.load() == pid) return &seg.worker(i);
  }
  return nullptr;
}

TEST(SegmentBackendTest, DetachedUntilTheBrokerCreatesTheSegment) {
  ShmName name;
  SegmentBackend backend(Options(name, milliseconds(2000)));
  EXPECT_FALSE(backend.Maintain());
  KeyBuffer key;
  const auto start = Clock::now();
  const TakenKeys none = backend.TakeKeys(key, 1);
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.key_length, 0u);
  EXPECT_LT(Clock::now() - start, milliseconds(500)) << "no wait when detached";
  EXPECT_FALSE(backend.Observe().attached);

  FakeBroker broker(name.str());
  broker.Push(0, 3);
  EXPECT_TRUE(backend.Maintain());
  const TakenKeys one = backend.TakeKeys(key, 1);
  ASSERT_EQ(one.count, 1u);
  EXPECT_EQ(Text(key, 0), "K000000");
  EXPECT_EQ(one.key_length, 7u) << "the length comes with the keys";
}

TEST(SegmentBackendTest, ClaimsInRingOrderAndCountsInItsWorkerSlot) {
  ShmName name;
  FakeBroker broker(name.str());
  broker.Push(0, 10);
  {
    SegmentBackend backend(Options(name, milliseconds(100)));
    ASSERT_TRUE(backend.Maintain());
    KeyBuffer keys;
    ASSERT_EQ(backend.TakeKeys(keys, 4).count, 4u);
    EXPECT_EQ(Text(keys, 0), "K000000");
    EXPECT_EQ(Text(keys, 3), "K000003");
    backend.CountRequest();
    backend.CountUnavailable();
    const shm::WorkerSlot* slot = SlotOf(broker.seg, ::getpid());
    ASSERT_NE(slot, nullptr);
    EXPECT_EQ(slot->served.load(), 4u);
    EXPECT_EQ(slot->requests.load(), 1u);
    EXPECT_EQ(slot->unavailable.load(), 1u);
    EXPECT_EQ(slot->frontend_pid.load(),
              static_cast<std::uint32_t>(::getppid()));
    const Snapshot s = backend.Observe();
    EXPECT_EQ(s.ring_fill, 6u);
    EXPECT_EQ(s.ring_capacity, 1024u);
    EXPECT_GE(s.served_total, 4u);
    EXPECT_GE(s.workers_alive, 1u);
  }
  EXPECT_EQ(SlotOf(broker.seg, ::getpid()), nullptr)
      << "the destructor releases the slot";
}

TEST(SegmentBackendTest, BatchTakesWhatTheRingHasAfterTheWait) {
  ShmName name;
  FakeBroker broker(name.str());
  broker.Push(0, 3);
  SegmentBackend backend(Options(name, milliseconds(100)));
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer keys;
  EXPECT_EQ(backend.TakeKeys(keys, 10).count, 3u);
}

// A batch is a series of claims of at most shm::kMaxClaimSlots: with the
// ring full it gets every key it asked for, in order, even with
// EMPTY_WAIT_MS=0 (claiming what is there may take kMinClaimTime).
TEST(SegmentBackendTest, BatchOfManyClaimsGetsEveryKeyEvenWithNoWait) {
  ShmName name;
  FakeBroker broker(name.str());
  broker.Push(0, 1000);
  SegmentBackend backend(Options(name, milliseconds(0)));
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer keys;
  ASSERT_EQ(backend.TakeKeys(keys, 1000).count, 1000u);
  EXPECT_EQ(Text(keys, 0), "K000000");
  EXPECT_EQ(Text(keys, 256), "K000256");
  EXPECT_EQ(Text(keys, 999), "K000999");
}

TEST(SegmentBackendTest, EmptyRingWaitsAboutEmptyWaitThenGivesUp) {
  ShmName name;
  FakeBroker broker(name.str());
  SegmentBackend backend(Options(name, milliseconds(150)));
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer key;
  const auto start = Clock::now();
  EXPECT_EQ(backend.TakeKeys(key, 1).count, 0u);
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, milliseconds(140));
  EXPECT_LT(waited, milliseconds(1000));
}

TEST(SegmentBackendTest, AWaitingRequestGetsAKeyPushedWhileItWaits) {
  ShmName name;
  FakeBroker broker(name.str());
  SegmentBackend backend(Options(name, milliseconds(10000)));
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer key;
  std::atomic<std::size_t> got{99};
  const auto start = Clock::now();
  std::thread request([&] { got = backend.TakeKeys(key, 1).count; });
  ASSERT_TRUE(WaitUntil(
      [&] { return broker.seg.broker().consumers_waiting.load() > 0; },
      milliseconds(5000)));
  broker.Push(7, 1);
  request.join();
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(Text(key, 0), "K000007");
  EXPECT_LT(Clock::now() - start, milliseconds(5000)) << "woken, not timed out";
}

TEST(SegmentBackendTest, ExhaustedStoreAnswersAtOnce) {
  ShmName name;
  FakeBroker broker(name.str());
  broker.Beat(shm::BrokerState::kExhausted);
  SegmentBackend backend(Options(name, milliseconds(5000)));
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer key;
  const auto start = Clock::now();
  EXPECT_EQ(backend.TakeKeys(key, 1).count, 0u);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

TEST(SegmentBackendTest, BrokerHealthNeedsALivePidAFreshBeatAndNoStop) {
  ShmName name;
  FakeBroker broker(name.str());
  SegmentBackend backend(Options(name, milliseconds(100)));
  ASSERT_TRUE(backend.Maintain());
  EXPECT_TRUE(backend.Observe().broker_alive);
  broker.Beat(shm::BrokerState::kRunning, 10'000'000'000ULL);
  EXPECT_FALSE(backend.Observe().broker_alive) << "stale heartbeat";
  broker.Beat(shm::BrokerState::kStopped);
  EXPECT_FALSE(backend.Observe().broker_alive) << "clean stop";
  // A pid that cannot exist (above pid_max).
  broker.Beat(shm::BrokerState::kRunning, 0, 0x3fffffff);
  EXPECT_FALSE(backend.Observe().broker_alive) << "dead pid";
  broker.Beat(shm::BrokerState::kStoreError);
  const Snapshot s = backend.Observe();
  EXPECT_TRUE(s.broker_alive);
  EXPECT_EQ(s.broker_state, shm::BrokerState::kStoreError);
  EXPECT_EQ(s.store, "sqlite:/tmp/test.db");
}

TEST(SegmentBackendTest, FollowsTheNameToANewSegmentWhenItsBrokerIsGone) {
  ShmName name;
  SegmentBackend backend(Options(name, milliseconds(100)));
  {
    FakeBroker old_broker(name.str());
    old_broker.Push(0, 1);
    ASSERT_TRUE(backend.Maintain());
    old_broker.Beat(shm::BrokerState::kStopped);
  }
  // Someone removed the object; a new broker creates a fresh one.
  ASSERT_EQ(::shm_unlink(shm::Segment::ObjectName(name.str()).c_str()), 0);
  FakeBroker new_broker(name.str());
  new_broker.Push(100, 1);
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer keys;
  // After the swap keys come from the new ring only (K000000 stays behind).
  ASSERT_EQ(backend.TakeKeys(keys, 1).count, 1u);
  EXPECT_EQ(Text(keys, 0), "K000100");
  EXPECT_NE(SlotOf(new_broker.seg, ::getpid()), nullptr);
}

// The new segment may hold keys of another length: each claim reports the
// length of the segment its keys came from.
TEST(SegmentBackendTest, KeysComeWithTheLengthOfTheirSegment) {
  ShmName name;
  SegmentBackend backend(Options(name, milliseconds(100)));
  KeyBuffer key;
  {
    FakeBroker old_broker(name.str(), 7);
    old_broker.Push(0, 1);
    ASSERT_TRUE(backend.Maintain());
    EXPECT_EQ(backend.TakeKeys(key, 1).key_length, 7u);
    old_broker.Beat(shm::BrokerState::kStopped);
  }
  ASSERT_EQ(::shm_unlink(shm::Segment::ObjectName(name.str()).c_str()), 0);
  FakeBroker new_broker(name.str(), 5);
  new_broker.Push(0, 1);
  ASSERT_TRUE(backend.Maintain());
  const TakenKeys taken = backend.TakeKeys(key, 1);
  ASSERT_EQ(taken.count, 1u);
  EXPECT_EQ(taken.key_length, 5u);
}

TEST(SegmentBackendTest, StalenessThresholdIsKHeartbeatStaleAfter) {
  ShmName name;
  FakeBroker broker(name.str());
  SegmentBackend backend(Options(name, milliseconds(100)));
  ASSERT_TRUE(backend.Maintain());
  const auto ns = [](std::chrono::nanoseconds d) {
    return static_cast<std::uint64_t>(d.count());
  };
  broker.Beat(shm::BrokerState::kRunning,
              ns(shm::kHeartbeatStaleAfter - std::chrono::seconds(1)));
  EXPECT_TRUE(backend.Observe().broker_alive);
  broker.Beat(shm::BrokerState::kRunning,
              ns(shm::kHeartbeatStaleAfter + milliseconds(100)));
  EXPECT_FALSE(backend.Observe().broker_alive);
}

TEST(SegmentBackendTest, ObserveReadsBrokerCountersAndEveryUsedSlot) {
  ShmName name;
  FakeBroker broker(name.str());
  StoreKnownCounters(broker.seg.broker());
  broker.Beat(shm::BrokerState::kRunning, 500'000'000);  // 0.5 s ago
  // Slot 10: released by a worker that exited after serving 50 keys.
  shm::WorkerSlot& gone = broker.seg.worker(10);
  gone.served.store(50);
  gone.requests.store(55);
  broker.Push(0, 5);
  SegmentBackend backend(Options(name, milliseconds(100)));
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer keys;
  ASSERT_EQ(backend.TakeKeys(keys, 2).count, 2u);

  const Snapshot s = backend.Observe();
  EXPECT_EQ(s.low_water, 256u);
  EXPECT_EQ(s.keys_produced, 500u);
  EXPECT_EQ(s.ranges_reserved, 3u);
  EXPECT_EQ(s.refills, 2u);
  EXPECT_EQ(s.store_errors, 1u);
  EXPECT_EQ(s.keys_wasted, 7u);
  EXPECT_EQ(s.last_refill_ns, 1'500'000u);
  EXPECT_EQ(s.store_next, 3000u);
  EXPECT_EQ(s.key_space, 3521614606208ULL);
  ASSERT_TRUE(s.heartbeat_age_ns.has_value());
  EXPECT_GE(*s.heartbeat_age_ns, 500'000'000u);
  EXPECT_LT(*s.heartbeat_age_ns, 5'500'000'000u);
  ASSERT_EQ(s.workers.size(), 2u);
  const shm::WorkerStats& mine = s.workers[0];
  EXPECT_EQ(mine.pid, ::getpid());
  EXPECT_TRUE(mine.alive);
  EXPECT_EQ(mine.served, 2u);
  const shm::WorkerStats& old = s.workers[1];
  EXPECT_EQ(old.slot, 10u);
  EXPECT_EQ(old.pid, 0);
  EXPECT_FALSE(old.alive);
  EXPECT_EQ(old.served, 50u);
  EXPECT_EQ(old.requests, 55u);
  EXPECT_EQ(s.served_total, 52u);
  EXPECT_EQ(s.requests_total, 55u);
  EXPECT_EQ(s.workers_alive, 1u);
}

// Golden /metrics for a fixed segment state, byte for byte ("@PID@" is this
// process's pid). The heartbeat lies in the future, so its age reads 0.
TEST(SegmentBackendTest, MetricsOfAFixedSegmentAreByteForByte) {
  ShmName name;
  FakeBroker broker(name.str());
  StoreKnownCounters(broker.seg.broker());
  broker.seg.broker().heartbeat_unix_ns.store(base::UnixNowNs() +
                                              3'600'000'000'000ULL);
  broker.seg.worker(10).served.store(50);  // a worker that exited
  broker.seg.worker(10).requests.store(55);
  broker.seg.worker(11).requests.store(6);  // only requests counted
  broker.Push(0, 5);
  SegmentBackend backend(Options(name, milliseconds(100)));
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer keys;
  ASSERT_EQ(backend.TakeKeys(keys, 2).count, 2u);
  backend.CountRequest();
  std::string want =
      R"(# HELP forge_segment_attached 1 when this worker has mapped the shared-memory segment.
# TYPE forge_segment_attached gauge
forge_segment_attached{namespace="default"} 1
# HELP forge_broker_up 1 when the broker process is alive and its heartbeat is fresh.
# TYPE forge_broker_up gauge
forge_broker_up{namespace="default"} 1
# HELP forge_keys_served_total Keys handed out, per worker stats slot (all frontends on the segment).
# TYPE forge_keys_served_total counter
forge_keys_served_total{namespace="default",slot="0"} 2
forge_keys_served_total{namespace="default",slot="10"} 50
forge_keys_served_total{namespace="default",slot="11"} 0
# HELP forge_unavailable_total Requests answered 503 because no key was available in time, per worker stats slot.
# TYPE forge_unavailable_total counter
forge_unavailable_total{namespace="default",slot="0"} 0
forge_unavailable_total{namespace="default",slot="10"} 0
forge_unavailable_total{namespace="default",slot="11"} 0
# HELP forge_http_requests_total HTTP requests answered, per worker stats slot.
# TYPE forge_http_requests_total counter
forge_http_requests_total{namespace="default",slot="0"} 1
forge_http_requests_total{namespace="default",slot="10"} 55
forge_http_requests_total{namespace="default",slot="11"} 6
# HELP forge_worker_pid Process id of the live consumer holding the stats slot; kind "worker" (HTTP) or "client" (libforge-client).
# TYPE forge_worker_pid gauge
forge_worker_pid{namespace="default",slot="0",kind="worker"} @PID@
# HELP forge_workers_alive Frontend worker processes holding a stats slot.
# TYPE forge_workers_alive gauge
forge_workers_alive{namespace="default"} 1
# HELP forge_ring_capacity Keys the ring holds when full.
# TYPE forge_ring_capacity gauge
forge_ring_capacity{namespace="default"} 1024
# HELP forge_ring_fill Keys ready in the ring.
# TYPE forge_ring_fill gauge
forge_ring_fill{namespace="default"} 3
# HELP forge_ring_low_water The broker refills the ring when its fill drops below this.
# TYPE forge_ring_low_water gauge
forge_ring_low_water{namespace="default"} 256
# HELP forge_ranges_reserved_total Ranges the broker reserved from the store.
# TYPE forge_ranges_reserved_total counter
forge_ranges_reserved_total{namespace="default"} 3
# HELP forge_keys_produced_total Keys the broker pushed into the ring.
# TYPE forge_keys_produced_total counter
forge_keys_produced_total{namespace="default"} 500
# HELP forge_refills_total Low-water refills the broker made.
# TYPE forge_refills_total counter
forge_refills_total{namespace="default"} 2
# HELP forge_store_errors_total Failed store operations (the broker retries with back-off).
# TYPE forge_store_errors_total counter
forge_store_errors_total{namespace="default"} 1
# HELP forge_keys_wasted_total Keys reserved but known never to be served (gaps, never reissued); 0 when unknown.
# TYPE forge_keys_wasted_total counter
forge_keys_wasted_total{namespace="default"} 7
# HELP forge_keys_blocked_total Numbers the broker skipped because their key contains a word of the namespace's blocklist (never issued).
# TYPE forge_keys_blocked_total counter
forge_keys_blocked_total{namespace="default"} 0
# HELP forge_refill_latency_seconds Duration of the latest store round trip for a range.
# TYPE forge_refill_latency_seconds gauge
forge_refill_latency_seconds{namespace="default"} 0.0015
# HELP forge_broker_heartbeat_age_seconds Seconds since the broker's last heartbeat (absent if it never beat).
# TYPE forge_broker_heartbeat_age_seconds gauge
forge_broker_heartbeat_age_seconds{namespace="default"} 0
# HELP forge_broker_state 1 for the broker's current state, 0 for the others.
# TYPE forge_broker_state gauge
forge_broker_state{namespace="default",state="none"} 0
forge_broker_state{namespace="default",state="starting"} 0
forge_broker_state{namespace="default",state="running"} 1
forge_broker_state{namespace="default",state="store-error"} 0
forge_broker_state{namespace="default",state="exhausted"} 0
forge_broker_state{namespace="default",state="stopped"} 0
forge_broker_state{namespace="default",state="store-unsafe"} 0
# HELP forge_key_space_size Keys the store's format allows (62^KEY_LENGTH).
# TYPE forge_key_space_size gauge
forge_key_space_size{namespace="default"} 3521614606208
# HELP forge_key_space_used_ratio Share of the key space the store has handed out (0..1).
# TYPE forge_key_space_used_ratio gauge
forge_key_space_used_ratio{namespace="default"} 8.518819733174427e-10
# HELP forge_store_reconnects_total Store connections the broker made again after losing one.
# TYPE forge_store_reconnects_total counter
forge_store_reconnects_total{namespace="default"} 0
# HELP forge_store_durability 1 for the store's durability mode (unknown, local: no standby seen, async: a failover may lose a grant, sync), 0 for the others.
# TYPE forge_store_durability gauge
forge_store_durability{namespace="default",mode="unknown"} 1
forge_store_durability{namespace="default",mode="local"} 0
forge_store_durability{namespace="default",mode="async"} 0
forge_store_durability{namespace="default",mode="sync"} 0
# HELP forge_store_info 1, labelled with the host:port the broker's store connection goes to (local for SQLite).
# TYPE forge_store_info gauge
# HELP forge_store_regressions_total Reservations that found the store's counter below the broker's mark (lost writes, a restored backup); each skipped to the mark.
# TYPE forge_store_regressions_total counter
forge_store_regressions_total{namespace="default"} 0
# HELP forge_store_granted_high The broker's mark: the highest number (exclusive) the store ever granted it.
# TYPE forge_store_granted_high gauge
forge_store_granted_high{namespace="default"} 0
# HELP forge_broker_range_size Numbers in the broker's latest reservation.
# TYPE forge_broker_range_size gauge
forge_broker_range_size{namespace="default"} 0
)";
  for (std::size_t at; (at = want.find("@PID@")) != std::string::npos;) {
    want.replace(at, 5, std::to_string(::getpid()));
  }
  EXPECT_EQ(FormatMetrics({{"default", backend.Observe()}}), want);
}

TEST(SegmentBackendTest, TheFirstCountedRequestAttachesAndIsCounted) {
  ShmName name;
  FakeBroker broker(name.str());
  SegmentBackend backend(Options(name, milliseconds(100)));  // no Maintain()
  backend.CountRequest();
  const shm::WorkerSlot* slot = SlotOf(broker.seg, ::getpid());
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(slot->requests.load(), 1u);
}

TEST(SegmentBackendTest, ABrokerThatNeverBeatHasNoHeartbeatAge) {
  ShmName name;
  FakeBroker broker(name.str());
  broker.seg.broker().heartbeat_unix_ns.store(0);
  SegmentBackend backend(Options(name, milliseconds(100)));
  ASSERT_TRUE(backend.Maintain());
  EXPECT_FALSE(backend.Observe().heartbeat_age_ns.has_value());
}

// Issue 11 item 4: the segment file is truncated under an attached worker.
// No SIGBUS: pops find nothing, the 503 reason names the damage, and once a
// broker replaces the segment the worker attaches the new one.
TEST(SegmentBackendTest, TruncatedSegmentIsDetachedWithItsReasonNotASigbus) {
  ShmName name;
  SegmentBackend backend(Options(name, milliseconds(50)));
  const std::string path = shm::Segment::ObjectPath(name.str());
  {
    FakeBroker broker(name.str());
    broker.Push(0, 10);
    ASSERT_TRUE(backend.Maintain());
    KeyBuffer keys;
    ASSERT_EQ(backend.TakeKeys(keys, 2).count, 2u);
    ASSERT_EQ(::truncate(path.c_str(), 100), 0);
    // Before the next Maintain(): the pop faults and is dropped.
    EXPECT_EQ(backend.TakeKeys(keys, 2).count, 0u);
    const Snapshot s = backend.Observe();
    EXPECT_FALSE(s.attached);
    EXPECT_NE(
        s.detached_reason.find("truncated to 100 bytes (expected " +
                               std::to_string(shm::SegmentSize(1024)) + ")"),
        std::string::npos)
        << s.detached_reason;
    EXPECT_FALSE(backend.Maintain()) << "a 100-byte file is not attachable";
  }
  FakeBroker replacement(name.str());  // replaces the truncated file
  replacement.Push(500, 1);
  ASSERT_TRUE(backend.Maintain());
  KeyBuffer key;
  ASSERT_EQ(backend.TakeKeys(key, 1).count, 1u);
  EXPECT_EQ(Text(key, 0), "K000500");
  EXPECT_TRUE(backend.Observe().detached_reason.empty());
}

// Deleted while attached: Maintain() notices (no fault: the mapping stays
// valid), detaches with the reason, and attaches a new segment later.
TEST(SegmentBackendTest, DeletedSegmentIsDetachedAndANewOneAttached) {
  ShmName name;
  SegmentBackend backend(Options(name, milliseconds(50)));
  KeyBuffer key;
  {
    FakeBroker old_broker(name.str());  // alive: a swap is not required
    old_broker.Push(0, 5);
    ASSERT_TRUE(backend.Maintain());
    ASSERT_EQ(::shm_unlink(shm::Segment::ObjectName(name.str()).c_str()), 0);
    EXPECT_FALSE(backend.Maintain());
    EXPECT_EQ(backend.TakeKeys(key, 1).count, 0u);
    EXPECT_NE(backend.Observe().detached_reason.find("was deleted"),
              std::string::npos);
  }  // (the real broker exits 2 on a deleted segment)
  FakeBroker new_broker(name.str());
  new_broker.Push(300, 1);
  ASSERT_TRUE(backend.Maintain());
  ASSERT_EQ(backend.TakeKeys(key, 1).count, 1u);
  EXPECT_EQ(Text(key, 0), "K000300");
}

}  // namespace
}  // namespace forge::frontend
