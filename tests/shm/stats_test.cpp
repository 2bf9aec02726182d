// tests/shm/stats_test.cpp — shm::ReadStats, the one reader of a segment's
// counters, and the broker state names.
#include "shm/stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "shm/workers.h"
#include "tests/support/process.h"

namespace forge::shm {
namespace {

using forge::testing::ShmName;

constexpr std::uint64_t kNow = 1'700'000'000'000'000'000ULL;
constexpr std::uint64_t kMs = 1'000'000;

TEST(BrokerStateName, NamesEveryStateOnceInEnumOrder) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < kBrokerStates.size(); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(kBrokerStates[i]), i);
    names.insert(BrokerStateName(kBrokerStates[i]));
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"none", "starting", "running", "store-error",
                                   "exhausted", "stopped", "store-unsafe"}));
  EXPECT_STREQ(BrokerStateName(static_cast<BrokerState>(99)), "unknown");
}

// A broker counter the test stores, where ReadStats reports it, and its value.
struct Counter {
  std::atomic<std::uint64_t> BrokerStats::*in;
  std::uint64_t Stats::*out;
  std::uint64_t value;
};
constexpr Counter kCounters[] = {
    {&BrokerStats::low_water, &Stats::low_water, 16},
    {&BrokerStats::keys_produced, &Stats::keys_produced, 30},
    {&BrokerStats::keys_wasted, &Stats::keys_wasted, 4},
    {&BrokerStats::ranges_reserved, &Stats::ranges_reserved, 3},
    {&BrokerStats::refills, &Stats::refills, 2},
    {&BrokerStats::store_errors, &Stats::store_errors, 1},
    {&BrokerStats::last_refill_ns, &Stats::last_refill_ns, 2'000'000},
    {&BrokerStats::store_next, &Stats::store_next, 100},
};

class ReadStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SegmentSpec spec;
    spec.capacity = 64;
    spec.key_length = 5;
    spec.key_order = 1;
    spec.key_space = 916'132'832;  // 62^5
    spec.store = "sqlite:/tmp/stats.db";
    producer_.emplace(Segment::OpenProducer(shm_.str(), spec));
    BrokerStats& b = producer_->broker();
    b.pid.store(::getpid());
    b.state.store(static_cast<std::uint32_t>(BrokerState::kRunning));
    b.heartbeat_unix_ns.store(kNow - 1'500 * kMs);
    for (const Counter& c : kCounters) (b.*c.in).store(c.value);
    std::vector<Key> keys(10);
    ASSERT_EQ(producer_->ring().Push(keys.data(), keys.size()), keys.size());
    WorkerSlot& mine = producer_->worker(2);
    mine.pid.store(::getpid());
    mine.served.store(7);
    mine.unavailable.store(1);
    mine.requests.store(9);
    producer_->worker(5).served.store(3);    // an exited worker's history
    producer_->worker(9).requests.store(6);  // only requests counted
  }

  ShmName shm_;
  std::optional<Segment> producer_;
};

TEST_F(ReadStatsTest, ReadsHeaderBrokerRingAndEveryUsedSlot) {
  const ReadOnlySegment ro = ReadOnlySegment::Attach(shm_.str());
  const Stats s = ReadStats(ro, kNow);
  EXPECT_EQ(s.now_unix_ns, kNow);
  EXPECT_EQ(s.store, "sqlite:/tmp/stats.db");
  EXPECT_EQ(s.key_length, 5u);
  EXPECT_EQ(s.key_order, 1u);
  EXPECT_EQ(s.key_space, 916'132'832u);
  EXPECT_EQ(s.broker_pid, ::getpid());
  EXPECT_EQ(s.broker_state, BrokerState::kRunning);
  EXPECT_TRUE(s.broker_alive);
  EXPECT_EQ(s.heartbeat_age_ns, 1'500 * kMs);
  EXPECT_EQ(s.ring_capacity, 64u);
  EXPECT_EQ(s.ring_fill, 10u);
  EXPECT_DOUBLE_EQ(s.ring_fill_fraction(), 10.0 / 64);
  for (const Counter& c : kCounters) EXPECT_EQ(s.*c.out, c.value);
  EXPECT_EQ(s.key_space_remaining(), 916'132'732u);
  ASSERT_EQ(s.workers.size(), 3u);
  EXPECT_EQ(s.workers[0].slot, 2u);
  EXPECT_TRUE(s.workers[0].alive);
  EXPECT_EQ(s.workers[0].requests, 9u);
  EXPECT_EQ(s.workers[1].slot, 5u);
  EXPECT_FALSE(s.workers[1].alive);
  EXPECT_EQ(s.workers[2].slot, 9u);
  EXPECT_EQ(s.workers[2].requests, 6u);
  EXPECT_EQ(s.served_total, 10u);
  EXPECT_EQ(s.unavailable_total, 1u);
  EXPECT_EQ(s.requests_total, 15u);
  EXPECT_EQ(s.workers_alive, 1u);
}

TEST_F(ReadStatsTest, StaleOrFutureOrMissingHeartbeat) {
  const ReadOnlySegment ro = ReadOnlySegment::Attach(shm_.str());
  const Stats stale = ReadStats(ro, kNow + 2'000 * kMs);
  EXPECT_FALSE(stale.broker_alive);
  EXPECT_EQ(stale.heartbeat_age_ns, 3'500 * kMs);
  // The clock stepped back: the beat is in the future, 0 old and fresh.
  const Stats future = ReadStats(ro, kNow - 2'000 * kMs);
  EXPECT_TRUE(future.broker_alive);
  EXPECT_EQ(future.heartbeat_age_ns, 0u);
  producer_->broker().heartbeat_unix_ns.store(0);
  const Stats never = ReadStats(ro, kNow);
  EXPECT_FALSE(never.heartbeat_age_ns.has_value());
  EXPECT_FALSE(never.broker_alive);
}

}  // namespace
}  // namespace forge::shm
