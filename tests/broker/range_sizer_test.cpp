// The range-size policy (broker/range_sizer.h) on a fake clock: the size
// follows the demand towards one reservation every kTargetInterval,
// within its bounds and its per-step limits.
#include "broker/range_sizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace forge::broker {
namespace {

using std::chrono::milliseconds;
using Clock = RangeSizer::Clock;

// Drives `sizer` at `rate` keys/s for `seconds`: each reservation is
// asked for when the previous one is used up. Returns the reservations.
struct Drive {
  RangeSizer& sizer;
  Clock::time_point now{};
  std::uint64_t taken = 0;

  int Run(double rate, double seconds) {
    const Clock::time_point end =
        now + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(seconds));
    int reservations = 0;
    while (now < end) {
      const std::uint64_t size = sizer.Next(now, taken);
      sizer.Granted(size);
      ++reservations;
      now += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(size) / rate));
      taken += size;
    }
    return reservations;
  }
};

TEST(RangeSizerTest, FixedNeverChanges) {
  RangeSizer sizer = RangeSizer::Fixed(100);
  EXPECT_FALSE(sizer.automatic());
  Drive d{sizer};
  d.Run(1e6, 1);
  EXPECT_EQ(sizer.Next(d.now, d.taken), 100u);
  EXPECT_EQ(sizer.current(), 100u);
}

TEST(RangeSizerTest, StartsAtTheMinimumAndStaysThereWithoutDemand) {
  RangeSizer sizer = RangeSizer::Automatic(1000, 1000000);
  EXPECT_TRUE(sizer.automatic());
  const Clock::time_point t0{};
  EXPECT_EQ(sizer.Next(t0, 0), 1000u);
  sizer.Granted(1000);
  // The start-up burst fills ring and hand; consumers took nothing.
  EXPECT_EQ(sizer.Next(t0 + milliseconds(1), 0), 1000u);
  EXPECT_EQ(sizer.Next(t0 + milliseconds(500), 0), 1000u);
}

// The target: at 100k keys/s, at most one reservation a second
// within 10 s, and the size settles near 2 s of demand.
TEST(RangeSizerTest, UnderSteadyDemandReservationsFallToOneEveryFewSeconds) {
  RangeSizer sizer = RangeSizer::Automatic(1000, 1000000);
  Drive d{sizer};
  d.Run(100000, 10);
  EXPECT_LE(d.Run(100000, 10), 10);  // the next 10 s
  EXPECT_GE(sizer.current(), 150000u);
  EXPECT_LE(sizer.current(), 250000u);
}

TEST(RangeSizerTest, GrowsAtMostEightfoldAndShrinksAtMostByHalfPerStep) {
  RangeSizer sizer = RangeSizer::Automatic(1000, 1000000);
  Clock::time_point now{};
  EXPECT_EQ(sizer.Next(now, 0), 1000u);
  sizer.Granted(1000);
  // 10000 keys in 10 ms (1M keys/s) asks for 2M, capped at 8 x 1000.
  now += milliseconds(10);
  EXPECT_EQ(sizer.Next(now, 10000), 8000u);
  sizer.Granted(8000);
  // Then nothing for an hour: half, not the minimum at once.
  now += std::chrono::hours(1);
  EXPECT_EQ(sizer.Next(now, 10000), 4000u);
}

TEST(RangeSizerTest, StaysWithinItsBounds) {
  RangeSizer sizer = RangeSizer::Automatic(5000, 20000);
  Drive d{sizer};
  d.Run(1e7, 1);
  EXPECT_EQ(sizer.current(), 20000u);
  d.Run(100, 2000);
  EXPECT_EQ(sizer.current(), 5000u);
}

// Asks closer than kMinWindow (a retry, the start-up burst) keep the
// size; the window runs on until it is long enough to measure.
TEST(RangeSizerTest, ShortWindowsKeepTheSize) {
  RangeSizer sizer = RangeSizer::Automatic(1000, 1000000);
  const Clock::time_point t0{};
  EXPECT_EQ(sizer.Next(t0, 0), 1000u);
  sizer.Granted(1000);
  EXPECT_EQ(sizer.Next(t0 + milliseconds(5), 5000), 1000u);
  EXPECT_EQ(sizer.Next(t0 + milliseconds(10), 10000), 8000u);
  EXPECT_EQ(sizer.Next(t0 + milliseconds(11), 10000), 8000u);
  EXPECT_EQ(sizer.current(), 1000u);  // until granted
}

}  // namespace
}  // namespace forge::broker
