// tests/shm/notify_test.cpp — futex sleeps and wake-ups across processes.
#include "shm/notify.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/shm/child.h"
#include "tests/shm/test_keys.h"
#include "tests/support/process.h"

namespace forge::shm::testing {
namespace {

using forge::testing::ShmName;
using forge::testing::WaitUntil;
using namespace std::chrono;  // durations and clocks throughout

class NotifyTest : public ::testing::Test {
 protected:
  NotifyTest() : seg_(Segment::OpenProducer(name_.str(), Spec())) {
    seg_.broker().low_water.store(8);
  }
  static SegmentSpec Spec() {
    SegmentSpec s;
    s.capacity = 16;
    return s;
  }
  void Fill(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const Key k = MakeKey(i);
      ASSERT_EQ(seg_.ring().Push(&k, 1), 1u);
    }
  }
  // Another producer segment like seg_ (low water 8), its 16 slots full.
  static Segment FullSecondSegment(const ShmName& name) {
    Segment other = Segment::OpenProducer(name.str(), Spec());
    other.broker().low_water.store(8);
    for (std::size_t i = 0; i < 16; ++i) {
      const Key k = MakeKey(100 + i);
      EXPECT_EQ(other.ring().Push(&k, 1), 1u);
    }
    return other;
  }
  // A consumer process that pops 9 of 16 keys from segment `name`, waking
  // the producer, once the producer sleeps on it (exit 0; else 1 or 2).
  static Child PopBelowLowWaterOnceAsleep(const std::string& name) {
    return Child([name] {
      Segment seg = Segment::Attach(name);
      if (!WaitUntil([&] { return seg.broker().producer_sleeping == 1; },
                     seconds(20))) {
        return 1;
      }
      Key k;
      for (int i = 0; i < 9; ++i) {
        if (!seg.ring().TryPop(&k)) return 2;
        MaybeWakeProducer(seg);
      }
      return 0;
    });
  }
  void Pop(std::size_t n) {
    Key k;
    for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(seg_.ring().TryPop(&k));
  }

  ShmName name_;
  Segment seg_;
};

TEST_F(NotifyTest, WaitForKeysReturnsAtOnceWhenKeysAreThere) {
  Fill(1);
  const auto start = steady_clock::now();
  EXPECT_TRUE(WaitForKeys(seg_, start + seconds(30)));
  EXPECT_LT(steady_clock::now() - start, seconds(5));
}

TEST_F(NotifyTest, WaitForKeysGivesUpAtTheDeadline) {
  const auto start = steady_clock::now();
  EXPECT_FALSE(WaitForKeys(seg_, start + milliseconds(60)));
  const auto waited = steady_clock::now() - start;
  EXPECT_GE(waited, milliseconds(60));
  EXPECT_LT(waited, seconds(5));
  EXPECT_EQ(seg_.broker().consumers_waiting.load(), 0u);
}

// The child pushes only once the parent has announced itself as waiting,
// so an early return proves the futex wake-up (not a lucky re-check).
TEST_F(NotifyTest, WaitForKeysIsWokenByAPushFromAnotherProcess) {
  Child producer([this] {
    if (!WaitUntil([this] { return seg_.broker().consumers_waiting > 0; },
                   seconds(20))) {
      return 1;
    }
    const Key k = MakeKey(5);
    if (seg_.ring().Push(&k, 1) != 1) return 2;
    WakeConsumers(seg_);
    return 0;
  });
  const auto start = steady_clock::now();
  EXPECT_TRUE(WaitForKeys(seg_, start + seconds(30)));
  EXPECT_LT(steady_clock::now() - start, seconds(10));
  EXPECT_EQ(producer.Wait(seconds(10)), 0);
}

TEST_F(NotifyTest, WakeConsumersBumpsOnlyWhenSomeoneWaits) {
  BrokerStats& b = seg_.broker();
  const std::uint32_t before = b.consumer_wake.load();
  WakeConsumers(seg_);
  EXPECT_EQ(b.consumer_wake.load(), before);
  b.consumers_waiting.store(1);
  WakeConsumers(seg_);
  EXPECT_EQ(b.consumer_wake.load(), before + 1);
}

TEST_F(NotifyTest, WaitForLowWaterReturnsAtOnceBelowTheMark) {
  Fill(7);  // low water 8
  const auto start = steady_clock::now();
  WaitForLowWater(seg_, seconds(30));
  EXPECT_LT(steady_clock::now() - start, seconds(5));
}

TEST_F(NotifyTest, WaitForLowWaterSleepsUntilMaxSleepWhenNobodyPops) {
  Fill(16);
  const auto start = steady_clock::now();
  WaitForLowWater(seg_, milliseconds(60));
  const auto slept = steady_clock::now() - start;
  EXPECT_GE(slept, milliseconds(60));
  EXPECT_LT(slept, seconds(5));
  EXPECT_EQ(seg_.broker().producer_sleeping.load(), 0u);
}

TEST_F(NotifyTest, MaybeWakeProducerStaysQuietAboveLowWater) {
  BrokerStats& b = seg_.broker();
  Fill(16);
  b.producer_sleeping.store(1);
  const std::uint32_t before = b.producer_wake.load();
  Pop(8);  // 8 left: not below the mark
  MaybeWakeProducer(seg_);
  EXPECT_EQ(b.producer_wake.load(), before);
  Pop(1);  // 7 left
  MaybeWakeProducer(seg_);
  EXPECT_EQ(b.producer_wake.load(), before + 1);
  EXPECT_EQ(b.producer_sleeping.load(), 0u);
  MaybeWakeProducer(seg_);  // already woken: no second bump
  EXPECT_EQ(b.producer_wake.load(), before + 1);
}

// The child consumer pops below low water only once the parent sleeps.
TEST_F(NotifyTest, WaitForLowWaterIsWokenByAConsumerInAnotherProcess) {
  Fill(16);
  Child consumer = PopBelowLowWaterOnceAsleep(name_.str());
  const auto start = steady_clock::now();
  WaitForLowWater(seg_, seconds(30));
  EXPECT_LT(steady_clock::now() - start, seconds(10));
  EXPECT_LT(seg_.ring().Size(), 8u);
  EXPECT_EQ(consumer.Wait(seconds(10)), 0);
}

// One sleep for several segments (a broker serving many namespaces): a
// consumer of the SECOND segment, in another process, ends it.
TEST_F(NotifyTest, WaitForLowWaterOfManySegmentsWakesOnAnyOfThem) {
  Fill(16);
  ShmName other_name;
  Segment other = FullSecondSegment(other_name);
  Child consumer = PopBelowLowWaterOnceAsleep(other_name.str());
  Segment* const both[] = {&seg_, &other};
  const auto start = steady_clock::now();
  WaitForLowWater(std::span<Segment* const>(both), seconds(30));
  EXPECT_LT(steady_clock::now() - start, seconds(10));
  EXPECT_LT(other.ring().Size(), 8u);
  EXPECT_EQ(seg_.ring().Size(), 16u);
  EXPECT_EQ(consumer.Wait(seconds(10)), 0);
  EXPECT_EQ(seg_.broker().producer_sleeping.load(), 0u);
  EXPECT_EQ(other.broker().producer_sleeping.load(), 0u);
}

TEST_F(NotifyTest, WaitForLowWaterOfManySegmentsSleepsUntilMaxSleep) {
  Fill(16);
  ShmName other_name;
  Segment other = FullSecondSegment(other_name);
  Segment* const both[] = {&seg_, &other};
  const auto start = steady_clock::now();
  WaitForLowWater(std::span<Segment* const>(both), milliseconds(60));
  const auto waited = steady_clock::now() - start;
  EXPECT_GE(waited, milliseconds(60));
  EXPECT_LT(waited, seconds(5));
}

}  // namespace
}  // namespace forge::shm::testing
