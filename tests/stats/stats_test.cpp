// forge-ctl stats as a library: a snapshot read from a real segment (mapped
// read-only, as forge-ctl does), rates between two snapshots, the
// exhaustion projection and the two renderings.
#include "stats/stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/names.h"
#include "keys/key_codec.h"
#include "shm/workers.h"
#include "stats/text.h"
#include "tests/ctl/mini_json.h"
#include "tests/support/broker_counters.h"
#include "tests/support/process.h"

namespace forge::stats {
namespace {

using forge::testing::ShmName;
namespace json = forge::testing::json;

constexpr std::uint64_t kNs = 1'000'000;  // per millisecond

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shm::SegmentSpec spec;
    spec.capacity = 1024;
    spec.key_length = 7;
    spec.key_order = 1;
    spec.key_space = keys::KeySpace(7);
    spec.store = "sqlite:/var/lib/\"forge\".db";
    producer_.emplace(shm::Segment::OpenProducer(shm_.str(), spec));
    now_ = base::UnixNowNs();
    shm::BrokerStats& b = producer_->broker();
    b.pid.store(::getpid());
    b.state.store(static_cast<std::uint32_t>(shm::BrokerState::kRunning));
    b.heartbeat_unix_ns.store(now_ - 300 * kNs);
    forge::testing::StoreCounters(b, {.low_water = 512,
                                      .keys_produced = 10,
                                      .ranges_reserved = 2,
                                      .refills = 1,
                                      .store_errors = 3,
                                      .last_refill_ns = 1'500'000,
                                      .store_next = 200});
    std::vector<shm::Key> keys(10);
    ASSERT_EQ(producer_->ring().Push(keys.data(), keys.size()), keys.size());
    const auto slot = shm::ClaimWorkerSlot(*producer_, ::getpid(), ::getppid());
    ASSERT_TRUE(slot.has_value());
    slot_ = *slot;
    producer_->worker(slot_).served.store(7);
    producer_->worker(slot_).unavailable.store(2);
    // A slot with history but no process: still listed, not alive.
    producer_->worker(slot_ + 1).served.store(4);
  }

  Snapshot Read(std::uint64_t now) {
    const shm::ReadOnlySegment seg = shm::ReadOnlySegment::Attach(shm_.str());
    return ReadSnapshot(seg, now);
  }

  ShmName shm_;
  std::optional<shm::Segment> producer_;
  std::uint64_t now_ = 0;
  std::uint32_t slot_ = 0;
};

TEST_F(StatsTest, SnapshotReflectsTheSegment) {
  const Snapshot s = Read(now_);
  EXPECT_EQ(s.segment, shm_.str());
  EXPECT_EQ(s.broker_pid, ::getpid());
  EXPECT_TRUE(s.broker_alive);
  EXPECT_EQ(s.broker_state, shm::BrokerState::kRunning);
  ASSERT_TRUE(s.heartbeat_age_ms().has_value());
  EXPECT_EQ(*s.heartbeat_age_ms(), 300);
  EXPECT_EQ(s.ring_capacity, 1024u);
  EXPECT_EQ(s.ring_fill, 10u);
  EXPECT_EQ(s.low_water, 512u);
  EXPECT_EQ(s.keys_produced, 10u);
  EXPECT_EQ(s.ranges_reserved, 2u);
  EXPECT_EQ(s.refills, 1u);
  EXPECT_EQ(s.store_errors, 3u);
  EXPECT_EQ(s.last_refill_ns, 1'500'000u);
  EXPECT_EQ(s.key_length, 7u);
  EXPECT_EQ(s.key_order, 1u);
  EXPECT_EQ(s.key_space, keys::KeySpace(7));
  EXPECT_EQ(s.store_next, 200u);
  EXPECT_EQ(s.store, "sqlite:/var/lib/\"forge\".db");
  ASSERT_EQ(s.workers.size(), 2u);
  EXPECT_EQ(s.workers[0].slot, slot_);
  EXPECT_EQ(s.workers[0].pid, ::getpid());
  EXPECT_TRUE(s.workers[0].alive);
  EXPECT_EQ(s.workers[0].served, 7u);
  EXPECT_EQ(s.workers[0].unavailable, 2u);
  EXPECT_EQ(s.workers[1].pid, 0);
  EXPECT_FALSE(s.workers[1].alive);
  EXPECT_EQ(s.served_total, 11u);
}

TEST_F(StatsTest, StaleHeartbeatMeansNotAlive) {
  const Snapshot s = Read(now_ + 4000 * kNs);
  EXPECT_FALSE(s.broker_alive);
  EXPECT_EQ(*s.heartbeat_age_ms(), 4300);
}

TEST_F(StatsTest, NeverBeatingBrokerHasNoAge) {
  producer_->broker().heartbeat_unix_ns.store(0);
  const Snapshot s = Read(now_);
  EXPECT_FALSE(s.heartbeat_age_ms().has_value());
  EXPECT_FALSE(s.broker_alive);
  const auto v = json::Parse(FormatJson(s));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("broker.heartbeat_age_ms")->kind, json::Value::Kind::kNull);
}

TEST_F(StatsTest, JsonHasEveryField) {
  const std::string text = FormatJson(Read(now_));
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line";
  const auto v = json::Parse(text);
  ASSERT_TRUE(v.has_value()) << text;
  auto num = [&](const char* path) {
    const json::Value* f = v->At(path);
    EXPECT_NE(f, nullptr) << path;
    return f ? f->number : -1;
  };
  EXPECT_EQ(num("broker.pid"), ::getpid());
  EXPECT_TRUE(v->At("broker.alive")->boolean);
  EXPECT_EQ(v->At("broker.state")->text, "running");
  EXPECT_EQ(num("broker.heartbeat_age_ms"), 300);
  EXPECT_EQ(num("ring.capacity"), 1024);
  EXPECT_EQ(num("ring.fill"), 10);
  EXPECT_EQ(num("keys.produced"), 10);
  EXPECT_EQ(num("keys.served"), 11);
  EXPECT_EQ(num("ranges.reserved"), 2);
  EXPECT_EQ(num("key_space.size"), static_cast<double>(keys::KeySpace(7)));
  const double used = 200.0 / static_cast<double>(keys::KeySpace(7));
  EXPECT_NEAR(num("key_space.used_fraction"), used, used * 1e-8);
  EXPECT_EQ(num("key.length"), 7);
  EXPECT_EQ(v->At("key.order")->text, "sequential");
  EXPECT_EQ(v->At("store")->text, "sqlite:/var/lib/\"forge\".db");
  EXPECT_EQ(v->At("store_kind")->text, "sqlite");
  EXPECT_EQ(num("time_unix_ms"), static_cast<double>(now_ / kNs));
  EXPECT_NEAR(num("ring.fill_fraction"), 10.0 / 1024, 1e-9);
  EXPECT_EQ(num("ring.low_water"), 512);
  EXPECT_EQ(num("keys.unavailable"), 2);
  EXPECT_EQ(num("keys.wasted"), 0);
  EXPECT_EQ(num("broker.store_errors"), 3);
  EXPECT_EQ(num("broker.last_refill_ns"), 1'500'000);
  EXPECT_EQ(num("ranges.refills"), 1);
  EXPECT_EQ(num("key_space.used"), 200);
  EXPECT_EQ(num("key_space.remaining"),
            static_cast<double>(keys::KeySpace(7) - 200));
  // One snapshot: no rates, so no projection either.
  EXPECT_EQ(v->At("rates")->kind, json::Value::Kind::kNull);
  EXPECT_EQ(v->At("key_space.exhaustion.state")->text, "unknown");
  EXPECT_EQ(v->At("key_space.exhaustion.seconds_left")->kind,
            json::Value::Kind::kNull);
  EXPECT_EQ(v->At("key_space.exhaustion.date")->kind, json::Value::Kind::kNull);
  const json::Value* workers = v->At("workers");
  ASSERT_NE(workers, nullptr);
  ASSERT_EQ(workers->items.size(), 2u);
  const json::Value& w = workers->items[0];
  EXPECT_EQ(w.At("slot")->number, slot_);
  EXPECT_EQ(w.At("pid")->number, ::getpid());
  EXPECT_TRUE(w.At("alive")->boolean);
  EXPECT_EQ(w.At("served")->number, 7);
  EXPECT_EQ(w.At("unavailable")->number, 2);
  EXPECT_EQ(w.At("served_per_s")->kind, json::Value::Kind::kNull);
}

TEST_F(StatsTest, RatesMoveWhenKeysAreServedBetweenSnapshots) {
  const Snapshot before = Read(now_);
  // Act as a consumer: claim 6 keys, count them as served by our worker;
  // the broker pushes 40 more.
  shm::Key keys[6];
  ASSERT_EQ(producer_->ring().TryPopBatch(keys, 6), 6u);
  producer_->worker(slot_).served.fetch_add(6);
  producer_->worker(slot_).unavailable.fetch_add(1);
  producer_->broker().keys_produced.fetch_add(40);
  producer_->broker().ranges_reserved.fetch_add(3);
  Snapshot after = Read(now_ + 2000 * kNs);
  EXPECT_EQ(after.ring_fill, 4u);
  AddRates(before, &after);
  ASSERT_TRUE(after.rates.has_value());
  EXPECT_DOUBLE_EQ(after.rates->interval_s, 2.0);
  EXPECT_DOUBLE_EQ(after.rates->served_per_s, 3.0);
  EXPECT_DOUBLE_EQ(after.rates->produced_per_s, 20.0);
  EXPECT_DOUBLE_EQ(after.rates->unavailable_per_s, 0.5);
  EXPECT_DOUBLE_EQ(after.rates->reserved_per_s, 1.5);
  ASSERT_EQ(after.workers.size(), 2u);
  EXPECT_DOUBLE_EQ(after.rates->worker_served_per_s.at(after.workers[0].slot),
                   3.0);
  EXPECT_DOUBLE_EQ(after.rates->worker_served_per_s.at(after.workers[1].slot),
                   0.0);

  const auto v = json::Parse(FormatJson(after));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("rates.interval_ms")->number, 2000);
  EXPECT_EQ(v->At("rates.served_per_s")->number, 3);
  EXPECT_EQ(v->At("rates.produced_per_s")->number, 20);
  EXPECT_EQ(v->At("rates.unavailable_per_s")->number, 0.5);
  EXPECT_EQ(v->At("rates.reserved_per_s")->number, 1.5);
  EXPECT_EQ(v->At("workers")->items[0].At("served_per_s")->number, 3);
  const std::string t = FormatTable(after);
  EXPECT_NE(t.find("keys served      17  (3.0/s)"), std::string::npos) << t;
  EXPECT_NE(t.find("keys produced    50  (20.0/s)"), std::string::npos) << t;
  EXPECT_NE(t.find("over the last 2.00 s"), std::string::npos) << t;
  EXPECT_NE(t.find("ranges reserved  5  (1.5/s)"), std::string::npos) << t;
}

TEST_F(StatsTest, NoRatesWithoutLaterSnapshot) {
  const Snapshot before = Read(now_);
  Snapshot same = Read(now_);
  AddRates(before, &same);
  EXPECT_FALSE(same.rates.has_value());
  EXPECT_NE(FormatTable(same).find("rates            not measured"),
            std::string::npos);
}

TEST_F(StatsTest, CountersThatWentBackCountAsZero) {
  Snapshot before = Read(now_);
  before.served_total += 100;  // as if the segment had been replaced
  before.keys_produced += 100;
  Snapshot after = Read(now_ + 1000 * kNs);
  AddRates(before, &after);
  EXPECT_EQ(after.rates->served_per_s, 0.0);
  EXPECT_EQ(after.rates->produced_per_s, 0.0);
}

TEST_F(StatsTest, ExhaustionIsProjectedAtTheProductionRate) {
  const std::uint64_t space = keys::KeySpace(7);
  producer_->broker().store_next.store(space - 3600 * 100);
  const Snapshot before = Read(now_);
  producer_->broker().keys_produced.fetch_add(100);
  Snapshot after = Read(now_ + 1000 * kNs);
  AddRates(before, &after);
  const Exhaustion e = after.exhaustion();
  ASSERT_EQ(e.kind, Exhaustion::Kind::kProjected);
  EXPECT_DOUBLE_EQ(e.seconds_left, 3600.0);
  const auto when = static_cast<std::int64_t>(now_ / 1'000'000'000) + 3601;
  ASSERT_TRUE(e.unix_s.has_value());
  EXPECT_EQ(*e.unix_s, when);
  const auto v = json::Parse(FormatJson(after));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("key_space.exhaustion.state")->text, "projected");
  EXPECT_EQ(v->At("key_space.exhaustion.seconds_left")->number, 3600);
  EXPECT_EQ(v->At("key_space.exhaustion.date")->text, UtcIso(when));
  const std::string t = FormatTable(after);
  EXPECT_NE(t.find("exhaustion       " + UtcDate(when) +
                   " (in 1.0 h at 100.0/s produced)"),
            std::string::npos)
      << t;
}

// Numbers the blocklist skips are used up too: the projection counts the
// keys left, remaining numbers x produced / (produced + blocked).
TEST_F(StatsTest, ExhaustionCountsOnlyTheUsableNumbers) {
  const std::uint64_t space = keys::KeySpace(7);
  producer_->broker().store_next.store(space - 3600 * 100);
  producer_->broker().keys_produced.store(300);
  producer_->broker().keys_blocked.store(100);
  const Snapshot before = Read(now_);
  producer_->broker().keys_produced.fetch_add(100);  // 100 keys in 1 s
  Snapshot after = Read(now_ + 1000 * kNs);
  AddRates(before, &after);
  EXPECT_DOUBLE_EQ(after.usable_fraction(), 0.8);
  const Exhaustion e = after.exhaustion();
  ASSERT_EQ(e.kind, Exhaustion::Kind::kProjected);
  EXPECT_DOUBLE_EQ(e.seconds_left, 3600.0 * 0.8);
  const auto v = json::Parse(FormatJson(after));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("keys.blocked")->number, 100);
  EXPECT_EQ(v->At("key_space.usable_fraction")->number, 0.8);
  EXPECT_EQ(v->At("key_space.exhaustion.seconds_left")->number, 2880);
  const std::string t = FormatTable(after);
  EXPECT_NE(t.find("keys blocked     100 (20% of the numbers used)\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find(" (in 48.0 min at 100.0/s produced, 80% of numbers "
                   "usable)\n"),
            std::string::npos)
      << t;
}

TEST_F(StatsTest, NothingProducedMeansNeverAtTheCurrentRate) {
  const Snapshot before = Read(now_);
  Snapshot after = Read(now_ + 1000 * kNs);
  AddRates(before, &after);
  EXPECT_EQ(after.exhaustion().kind, Exhaustion::Kind::kNever);
  EXPECT_NE(FormatTable(after).find("never at the current rate"),
            std::string::npos);
  EXPECT_EQ(
      json::Parse(FormatJson(after))->At("key_space.exhaustion.state")->text,
      "never");
}

TEST_F(StatsTest, FarFutureHasSecondsButNoDate) {
  const Snapshot before = Read(now_);
  producer_->broker().keys_produced.fetch_add(1);
  Snapshot after = Read(now_ + 1000 * 1000 * kNs);  // 1 key in 1000 s
  AddRates(before, &after);
  const Exhaustion e = after.exhaustion();
  ASSERT_EQ(e.kind, Exhaustion::Kind::kProjected);
  EXPECT_FALSE(e.unix_s.has_value());
  EXPECT_NE(FormatTable(after).find("after year 9999"), std::string::npos);
  EXPECT_EQ(
      json::Parse(FormatJson(after))->At("key_space.exhaustion.date")->kind,
      json::Value::Kind::kNull);
}

TEST_F(StatsTest, UsedUpKeySpace) {
  producer_->broker().store_next.store(keys::KeySpace(7));
  const Snapshot s = Read(now_);
  EXPECT_EQ(s.key_space_remaining(), 0u);
  EXPECT_EQ(s.exhaustion().kind, Exhaustion::Kind::kUsedUp);
  const auto v = json::Parse(FormatJson(s));
  EXPECT_EQ(v->At("key_space.exhaustion.state")->text, "used_up");
  EXPECT_EQ(v->At("key_space.remaining")->number, 0);
}

TEST_F(StatsTest, WastedKeysAreShownWhenKnown) {
  EXPECT_NE(FormatTable(Read(now_)).find("keys wasted      0 (none known)"),
            std::string::npos);
  producer_->broker().keys_wasted.store(12);
  const Snapshot s = Read(now_);
  EXPECT_NE(FormatTable(s).find("keys wasted      12 (known gaps)"),
            std::string::npos);
  EXPECT_EQ(json::Parse(FormatJson(s))->At("keys.wasted")->number, 12);
}

TEST(StoreKind, FromTheStoreText) {
  Snapshot s;
  s.store = "sqlite:/x.db";
  EXPECT_EQ(s.store_kind(), "sqlite");
  s.store = "postgres://u@h:5432/db";
  EXPECT_EQ(s.store_kind(), "postgres");
  s.store = "postgresql://u@h/db";
  EXPECT_EQ(s.store_kind(), "postgres");
  s.store = "";
  EXPECT_EQ(s.store_kind(), "unknown");
}

TEST_F(StatsTest, TableShowsTheFieldsAnOperatorNeeds) {
  const std::string t = FormatTable(Read(now_));
  for (const std::string& want : std::vector<std::string>{
           "broker", "pid " + std::to_string(::getpid()) + ", alive", "running",
           "0.3 s ago",
           "ring fill        [....................]   0.9%  10 / 1024 keys, "
           "low water 512",
           "keys produced    10", "keys wasted      0", "503s             2",
           "ranges reserved  2", "refills          1", "store errors     3",
           "1.500 ms", "length 7, sequential", "sqlite:/var/lib/\"forge\".db",
           "200 / " + std::to_string(keys::KeySpace(7)), "workers (2)",
           "total served 11"}) {
    EXPECT_NE(t.find(want), std::string::npos)
        << "missing '" << want << "' in\n"
        << t;
  }
}

// Golden outputs: a fixed segment state at a fixed clock, rendered byte for
// byte. "@PID@" stands for this process's pid ("@PID10@": padded to 10
// columns), "@SHM@" for the segment name.
constexpr std::uint64_t kGoldenNow = 1'700'000'000'000'000'000ULL;

std::string Golden(std::string text, const std::string& shm) {
  std::string pid = std::to_string(::getpid());
  std::string pid10 =
      pid + std::string(pid.size() < 10 ? 10 - pid.size() : 0, ' ');
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"@PID10@", pid10},
        {"@PID@", pid},
        {"@SHM@", shm}}) {
    for (std::size_t at; (at = text.find(from)) != std::string::npos;) {
      text.replace(at, from.size(), to);
    }
  }
  return text;
}

class StatsGoldenTest : public StatsTest {
 protected:
  // Two snapshots 2 s apart (the broker's beat goes stale in between) and
  // a slot that only counted requests (forge-ctl does not list it).
  void SetUp() override {
    StatsTest::SetUp();
    producer_->broker().heartbeat_unix_ns.store(kGoldenNow - 1'234 * kNs);
    producer_->broker().keys_wasted.store(5);
    producer_->broker().granted_high.store(3000);
    producer_->broker().range_size.store(1000);
    producer_->broker().store_regressions.store(1);
    producer_->broker().store_reconnects.store(1);
    producer_->broker().durability.store(
        static_cast<std::uint32_t>(shm::StoreDurability::kSync));
    shm::WriteStoreLink(producer_->store_link(), "db2:5432");
    producer_->worker(slot_).requests.store(9);
    producer_->worker(slot_ + 2).requests.store(6);
    before_ = Read(kGoldenNow);
    producer_->broker().keys_produced.store(30);
    producer_->worker(slot_).served.store(13);
    after_ = Read(kGoldenNow + 2000 * kNs);
    AddRates(before_, &after_);
  }
  Snapshot before_;
  Snapshot after_;
};

TEST_F(StatsGoldenTest, TableIsByteForByte) {
  EXPECT_EQ(FormatTable(before_),
            Golden(R"(segment          @SHM@ (/dev/shm/mini-forge.@SHM@)
broker           pid @PID@, alive
state            running
heartbeat        1.2 s ago
ring fill        [....................]   0.9%  10 / 1024 keys, low water 512
rates            not measured
keys produced    10
keys served      11
503s             2
keys wasted      5 (known gaps)
keys blocked     0
ranges reserved  2
range size       1000 numbers (the latest reservation)
refills          1
store errors     3
last refill      1.500 ms
key format       length 7, sequential
store            sqlite:/var/lib/"forge".db
store link       db2:5432, durability sync, 1 reconnect
key space used   200 / 3521614606208 (5.68e-09%)
exhaustion       unknown (no rate measured)
guard mark       3000, 1 regressions

workers (2)
  slot   kind    pid        alive  served         keys/s       503s
  0      worker  @PID10@ yes    7              -            2
  1      worker  0          no     4              -            0
total served 11, 503s 2
)",
                   shm_.str()));
  EXPECT_EQ(FormatTable(after_),
            Golden(R"(segment          @SHM@ (/dev/shm/mini-forge.@SHM@)
broker           pid @PID@, NOT alive
state            running
heartbeat        3.2 s ago
ring fill        [....................]   0.9%  10 / 1024 keys, low water 512
rates            over the last 2.00 s
keys produced    30  (10.0/s)
keys served      17  (3.0/s)
503s             2  (0.0/s)
keys wasted      5 (known gaps)
keys blocked     0
ranges reserved  2  (0.0/s)
range size       1000 numbers (the latest reservation)
refills          1
store errors     3
last refill      1.500 ms
key format       length 7, sequential
store            sqlite:/var/lib/"forge".db
store link       db2:5432, durability sync, 1 reconnect
key space used   200 / 3521614606208 (5.68e-09%)
exhaustion       after year 9999 (in 11159 years at 10.0/s produced)
guard mark       3000, 1 regressions

workers (2)
  slot   kind    pid        alive  served         keys/s       503s
  0      worker  @PID10@ yes    13             3.0          2
  1      worker  0          no     4              0.0          0
total served 17, 503s 2
)",
                   shm_.str()));
}

TEST_F(StatsGoldenTest, JsonIsByteForByte) {
  EXPECT_EQ(
      FormatJson(before_),
      Golden(
          R"({"segment":"@SHM@","path":"/dev/shm/mini-forge.@SHM@","time_unix_ms":1700000000000,"broker":{"pid":@PID@,"alive":true,"state":"running","heartbeat_age_ms":1234,"store_errors":3,"last_refill_ns":1500000},"ring":{"capacity":1024,"fill":10,"fill_fraction":0.009765625,"low_water":512},"keys":{"produced":10,"served":11,"unavailable":2,"wasted":5,"blocked":0},"rates":null,"ranges":{"reserved":2,"refills":1,"size":1000,"granted_high":3000,"regressions":1},"key_space":{"size":3521614606208,"used":200,"used_fraction":5.67921316e-11,"remaining":3521614606008,"usable_fraction":1,"exhaustion":{"state":"unknown","seconds_left":null,"date":null}},"key":{"length":7,"order":"sequential"},"store":"sqlite:/var/lib/\"forge\".db","store_kind":"sqlite","store_link":{"host":"db2:5432","reconnects":1,"durability":"sync"},"workers":[{"slot":0,"kind":"worker","pid":@PID@,"alive":true,"served":7,"unavailable":2,"requests":9,"served_per_s":null},{"slot":1,"kind":"worker","pid":0,"alive":false,"served":4,"unavailable":0,"requests":0,"served_per_s":null}]}
)",
          shm_.str()));
  EXPECT_EQ(
      FormatJson(after_),
      Golden(
          R"({"segment":"@SHM@","path":"/dev/shm/mini-forge.@SHM@","time_unix_ms":1700000002000,"broker":{"pid":@PID@,"alive":false,"state":"running","heartbeat_age_ms":3234,"store_errors":3,"last_refill_ns":1500000},"ring":{"capacity":1024,"fill":10,"fill_fraction":0.009765625,"low_water":512},"keys":{"produced":30,"served":17,"unavailable":2,"wasted":5,"blocked":0},"rates":{"interval_ms":2000,"served_per_s":3,"produced_per_s":10,"unavailable_per_s":0,"reserved_per_s":0},"ranges":{"reserved":2,"refills":1,"size":1000,"granted_high":3000,"regressions":1},"key_space":{"size":3521614606208,"used":200,"used_fraction":5.67921316e-11,"remaining":3521614606008,"usable_fraction":1,"exhaustion":{"state":"projected","seconds_left":3.52161461e+11,"date":null}},"key":{"length":7,"order":"sequential"},"store":"sqlite:/var/lib/\"forge\".db","store_kind":"sqlite","store_link":{"host":"db2:5432","reconnects":1,"durability":"sync"},"workers":[{"slot":0,"kind":"worker","pid":@PID@,"alive":true,"served":13,"unavailable":2,"requests":9,"served_per_s":3},{"slot":1,"kind":"worker","pid":0,"alive":false,"served":4,"unavailable":0,"requests":0,"served_per_s":0}]}
)",
          shm_.str()));
}

TEST(MissingSegmentMessage, NamesTheSegmentAndTheFix) {
  EXPECT_EQ(MissingSegmentMessage("x"),
            "forge-ctl: no segment \"x\" (/dev/shm/mini-forge.x): is "
            "forge-broker running with SHM_NAME=x?");
}

// Namespaces: StatsTest's default segment plus "invites" (10 characters,
// 256 slots, 64 keys in the ring) and "orders" (8 characters, 128 slots),
// each produced into as a broker would.
class OverviewTest : public StatsTest {
 protected:
  void SetUp() override {
    StatsTest::SetUp();
    invites_.emplace(NamespaceProducer(shm_.str(), "invites", 256, 10));
    std::vector<shm::Key> keys(64);
    ASSERT_EQ(invites_->ring().Push(keys.data(), keys.size()), keys.size());
    invites_->broker().store_next.store(1000);
    invites_->broker().keys_blocked.store(7);
    invites_->broker().ranges_reserved.store(3);
    invites_->broker().range_size.store(250000);
    orders_.emplace(NamespaceProducer(shm_.str(), "orders", 128, 8));
  }

  shm::Segment NamespaceProducer(const std::string& shm, const std::string& ns,
                                 std::uint64_t capacity, std::uint32_t length) {
    shm::SegmentSpec spec;
    spec.capacity = capacity;
    spec.key_length = length;
    spec.key_space = keys::KeySpace(static_cast<int>(length));
    spec.store = "sqlite:/var/lib/forge.db";
    shm::Segment seg =
        shm::Segment::OpenProducer(base::NamespaceSegmentName(shm, ns), spec);
    shm::BrokerStats& b = seg.broker();
    b.pid.store(::getpid());
    b.state.store(static_cast<std::uint32_t>(shm::BrokerState::kRunning));
    b.heartbeat_unix_ns.store(now_ - 300 * kNs);
    return seg;
  }

  static std::uint64_t Memory() {
    return shm::SegmentSize(1024) + shm::SegmentSize(256) +
           shm::SegmentSize(128);
  }

  std::optional<shm::Segment> invites_;
  std::optional<shm::Segment> orders_;
};

std::vector<std::string> Names(const Overview& o) {
  std::vector<std::string> names;
  for (const NamespaceSnapshot& n : o.namespaces) names.push_back(n.name);
  return names;
}

TEST_F(OverviewTest, ReadsEveryServedNamespaceDefaultFirst) {
  const Overview o = ReadOverview(shm_.str(), now_);
  EXPECT_EQ(Names(o),
            (std::vector<std::string>{"default", "invites", "orders"}));
  ASSERT_NE(o.Default(), nullptr);
  EXPECT_EQ(o.Default()->segment, shm_.str());
  EXPECT_TRUE(o.HasOthers());
  ASSERT_TRUE(o.namespaces[1].snap.has_value());
  EXPECT_EQ(o.namespaces[1].snap->segment, shm_.str() + "@invites");
  EXPECT_EQ(o.namespaces[1].snap->ring_fill, 64u);
  EXPECT_EQ(o.namespaces[1].snap->key_length, 10u);
  EXPECT_EQ(o.namespaces[2].snap->ring_capacity, 128u);
  EXPECT_EQ(o.memory_bytes(), Memory());
}

// The default namespace's table as before, then the namespaces' rows
// (byte for byte: no pid or clock in them) and their memory in all.
TEST_F(OverviewTest, TableIsTheDefaultTableThenOneRowPerNamespace) {
  const Overview o = ReadOverview(shm_.str(), now_);
  const std::string want_default = FormatTable(*o.Default()) + "\n";
  const std::string t = FormatTable(o);
  ASSERT_EQ(t.substr(0, want_default.size()), want_default) << t;
  EXPECT_EQ(t.substr(want_default.size()),
            R"(namespaces (3), segments 217.0 KiB (222208 bytes) in all
  namespace        fill                               keys/s   used        blocked    exhaustion           state
  default          [..........]   0.9%  10 / 1024     -        5.68e-09%   0          unknown              running
  invites          [##........]  25.0%  64 / 256      -        1.19e-13%   7          unknown              running
  orders           [..........]   0.0%  0 / 128       -        0%          0          unknown              running
)") << t;
}

TEST_F(OverviewTest, JsonKeepsTheDefaultFieldsAndAddsNamespaces) {
  const Overview o = ReadOverview(shm_.str(), now_);
  const std::string text = FormatJson(o);
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line";
  // Every field of the default namespace's object, in the same order.
  std::string fields = FormatJson(*o.Default());
  fields.resize(fields.size() - 2);  // without "}\n"
  EXPECT_EQ(text.substr(0, fields.size()), fields);
  const auto v = json::Parse(text);
  ASSERT_TRUE(v.has_value()) << text;
  EXPECT_EQ(v->At("segment")->text, shm_.str());
  EXPECT_EQ(v->At("ring.capacity")->number, 1024);
  EXPECT_EQ(v->At("segments_memory_bytes")->number,
            static_cast<double>(Memory()));
  const json::Value* ns = v->At("namespaces");
  ASSERT_NE(ns, nullptr);
  ASSERT_EQ(ns->items.size(), 3u);
  EXPECT_EQ(ns->items[0].At("name")->text, "default");
  EXPECT_EQ(ns->items[0].At("ring.capacity")->number, 1024);
  const json::Value& invites = ns->items[1];
  EXPECT_EQ(invites.At("name")->text, "invites");
  EXPECT_EQ(invites.At("segment")->text, shm_.str() + "@invites");
  EXPECT_EQ(invites.At("state")->text, "running");
  EXPECT_EQ(invites.At("broker.state")->text, "running");
  EXPECT_TRUE(invites.At("broker.alive")->boolean);
  EXPECT_EQ(invites.At("ring.capacity")->number, 256);
  EXPECT_EQ(invites.At("ring.fill")->number, 64);
  EXPECT_EQ(invites.At("ring.fill_fraction")->number, 0.25);
  EXPECT_EQ(invites.At("key.length")->number, 10);
  EXPECT_EQ(invites.At("key.order")->text, "scrambled");
  EXPECT_EQ(invites.At("key_space.size")->number,
            static_cast<double>(keys::KeySpace(10)));
  EXPECT_EQ(invites.At("key_space.used")->number, 1000);
  EXPECT_EQ(invites.At("key_space.exhaustion.state")->text, "unknown");
  EXPECT_EQ(invites.At("rates")->kind, json::Value::Kind::kNull);
  EXPECT_EQ(invites.At("memory_bytes")->number,
            static_cast<double>(shm::SegmentSize(256)));
  EXPECT_EQ(invites.At("error")->kind, json::Value::Kind::kNull);
  EXPECT_EQ(invites.At("keys_blocked")->number, 7);
  EXPECT_EQ(invites.At("ranges.reserved")->number, 3);
  EXPECT_EQ(invites.At("ranges.size")->number, 250000)
      << "each namespace's broker sizes its own ranges (RANGE_SIZE auto)";
  EXPECT_EQ(invites.At("key_space.usable_fraction")->number, 0)
      << "every number used so far was blocked";
  EXPECT_EQ(ns->items[2].At("name")->text, "orders");
}

TEST_F(OverviewTest, RatesAndExhaustionPerNamespace) {
  const Overview before = ReadOverview(shm_.str(), now_);
  invites_->broker().keys_produced.store(500);  // 500 keys in 1 s
  Overview after = ReadOverview(shm_.str(), now_ + 1000 * kNs);
  AddRates(before, &after);
  ASSERT_TRUE(after.namespaces[1].snap->rates.has_value());
  EXPECT_EQ(after.namespaces[1].snap->rates->produced_per_s, 500);
  EXPECT_EQ(after.namespaces[1].snap->exhaustion().kind,
            Exhaustion::Kind::kProjected);
  EXPECT_EQ(after.Default()->rates->produced_per_s, 0);
  EXPECT_EQ(after.namespaces[2].snap->exhaustion().kind,
            Exhaustion::Kind::kNever);
  const auto v = json::Parse(FormatJson(after));
  ASSERT_TRUE(v.has_value());
  const json::Value& invites = v->At("namespaces")->items[1];
  EXPECT_EQ(invites.At("rates.produced_per_s")->number, 500);
  EXPECT_EQ(invites.At("key_space.exhaustion.state")->text, "projected");
}

// A file at a namespace's segment name that is no segment: its row says
// why, the other namespaces are shown as usual.
TEST_F(OverviewTest, UnreadableNamespaceIsARowWithTheReason) {
  const std::string path =
      shm::Segment::ObjectPath(base::NamespaceSegmentName(shm_.str(), "junk"));
  forge::testing::WriteFile(path, std::string(100, 'x'));
  const Overview o = ReadOverview(shm_.str(), now_);
  ASSERT_EQ(Names(o),
            (std::vector<std::string>{"default", "invites", "junk", "orders"}));
  const NamespaceSnapshot& junk = o.namespaces[2];
  EXPECT_FALSE(junk.snap.has_value());
  EXPECT_NE(junk.problem.find(path), std::string::npos) << junk.problem;
  EXPECT_EQ(o.memory_bytes(), Memory()) << "readable segments only";
  EXPECT_NE(FormatTable(o).find("  junk  unreadable: " + junk.problem + "\n"),
            std::string::npos)
      << FormatTable(o);
  const auto v = json::Parse(FormatJson(o));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("namespaces")->items[2].At("error")->text, junk.problem);
}

// Only "default" served: the table is exactly what it was before
// namespaces (the golden tests above), the JSON gains its one row.
TEST_F(StatsTest, OnlyDefaultServedPrintsTheTableAsBefore) {
  const Overview o = ReadOverview(shm_.str(), now_);
  ASSERT_EQ(Names(o), std::vector<std::string>{"default"});
  EXPECT_FALSE(o.HasOthers());
  EXPECT_EQ(FormatTable(o), FormatTable(*o.Default()));
  const auto v = json::Parse(FormatJson(o));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("namespaces")->items.size(), 1u);
  EXPECT_EQ(v->At("segments_memory_bytes")->number,
            static_cast<double>(shm::SegmentSize(1024)));
}

// A broker serving only other namespaces (NAMESPACES=invites): no default
// fields, one row per served namespace.
TEST_F(OverviewTest, DefaultNotServed) {
  const ShmName other;
  const shm::Segment only = NamespaceProducer(other.str(), "invites", 256, 10);
  const Overview o = ReadOverview(other.str(), now_);
  ASSERT_EQ(Names(o), std::vector<std::string>{"invites"});
  EXPECT_EQ(o.Default(), nullptr);
  EXPECT_EQ(FormatTable(o).rfind("namespaces (1), segments ", 0), 0u)
      << FormatTable(o);
  const auto v = json::Parse(FormatJson(o));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("segment"), nullptr);
  EXPECT_EQ(v->At("namespaces")->items.size(), 1u);
}

// A broker creating the default segment while forge-ctl reads: every
// read either finds no segment or has the default namespace, never an
// overview without it (which once made `stats --json` print no fields).
TEST(ReadOverview, DefaultAppearingWhileReadingIsMissingOrRead) {
  for (int round = 0; round < 200; ++round) {
    const ShmName shm;
    std::atomic<bool> created{false};
    std::thread broker([&] {
      shm::SegmentSpec spec;
      spec.capacity = 16;
      spec.key_space = keys::KeySpace(7);
      const shm::Segment seg = shm::Segment::OpenProducer(shm.str(), spec);
      created.store(true);  // seq_cst: a test flag, read by the loop below
    });
    for (bool done = false; !done;) {
      done = created.load();  // seq_cst: see above; one more read after it
      try {
        const Overview o = ReadOverview(shm.str(), base::UnixNowNs());
        EXPECT_NE(o.Default(), nullptr) << "round " << round;
        done = true;
      } catch (const shm::SegmentMissing&) {
        EXPECT_FALSE(done) << "the segment exists by now";
        done = done || created.load();  // seq_cst: see above
      }
    }
    broker.join();
  }
}

TEST(ReadOverview, NoSegmentAtAllIsMissing) {
  const ShmName none;
  EXPECT_THROW(ReadOverview(none.str(), base::UnixNowNs()),
               shm::SegmentMissing);
}

TEST(ByteSize, ExactBytesAndAReadableUnit) {
  EXPECT_EQ(ByteSize(512), "512 bytes");
  EXPECT_EQ(ByteSize(1536), "1.5 KiB (1536 bytes)");
  EXPECT_EQ(ByteSize(3u << 20), "3.0 MiB (3145728 bytes)");
}

}  // namespace
}  // namespace forge::stats
