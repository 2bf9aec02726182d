// Unit tests for broker/store_limits (how long a store call may wait, and
// the stop signal cutting it short) and broker/store_trouble (one log line
// per run of store errors, then at most one per interval).
#include "broker/store_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "broker/store_trouble.h"

namespace forge::broker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

TEST(CallClockTest, LeftCountsDownFromAllowed) {
  CallClock clock(StoreLimits{});
  clock.Begin(milliseconds(300));
  const milliseconds left = clock.Left();
  EXPECT_GT(left, milliseconds::zero());
  EXPECT_LE(left, milliseconds(300));
  std::this_thread::sleep_for(milliseconds(320));
  EXPECT_EQ(clock.Left(), milliseconds::zero());
  EXPECT_NE(clock.Why().find("no answer within 300 ms"), std::string::npos)
      << clock.Why();
}

TEST(CallClockTest, StopDuringACallEndsItAtOnce) {
  std::atomic<bool> stop{false};
  StoreLimits limits;
  limits.stop = &stop;
  CallClock clock(limits);
  clock.Begin(milliseconds(60000));
  EXPECT_GT(clock.Left(), milliseconds(59000));
  stop = true;
  EXPECT_EQ(clock.Left(), milliseconds::zero());
  EXPECT_NE(clock.Why().find("stopping"), std::string::npos) << clock.Why();
}

TEST(CallClockTest, CallsAfterStopShareOneBudget) {
  std::atomic<bool> stop{true};
  StoreLimits limits;
  limits.stop = &stop;
  limits.stop_budget = milliseconds(200);
  CallClock clock(limits);
  clock.Begin(milliseconds(60000));  // the first call after the stop
  EXPECT_GT(clock.Left(), milliseconds::zero());
  EXPECT_LE(clock.Left(), milliseconds(200));
  std::this_thread::sleep_for(milliseconds(150));
  clock.Begin(milliseconds(60000));  // a retry: what is left, not 200 again
  EXPECT_LE(clock.Left(), milliseconds(60));
  std::this_thread::sleep_for(milliseconds(80));
  clock.Begin(milliseconds(60000));
  EXPECT_EQ(clock.Left(), milliseconds::zero());
}

TEST(CallClockTest, OnWaitIsCalledWhileWaiting) {
  int calls = 0;
  StoreLimits limits;
  limits.on_wait = [&] { ++calls; };
  CallClock clock(limits);
  clock.Begin(milliseconds(100));
  (void)clock.Left();
  (void)clock.Left();
  EXPECT_EQ(calls, 2);
}

TEST(StoreTroubleTest, OneLineAtStartThenOnePerIntervalThenRecovery) {
  StoreTrouble trouble("store error", seconds(60));
  const Clock::time_point t0 = Clock::now();
  const auto first = trouble.Failed(t0, "disk full", "will retry in 50 ms");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, "store error (will retry in 50 ms): disk full");
  int lines = 0;
  // A retry every 5 s for 59 s: no more lines.
  for (int s = 5; s < 60; s += 5) {
    lines += trouble.Failed(t0 + seconds(s), "disk full", "x").has_value();
  }
  EXPECT_EQ(lines, 0);
  const auto minute = trouble.Failed(t0 + seconds(61), "disk full", "x");
  ASSERT_TRUE(minute.has_value());
  EXPECT_EQ(*minute,
            "store error for 61 s, 12 failed attempts since the last line "
            "(x): disk full");
  EXPECT_FALSE(trouble.Failed(t0 + seconds(62), "other", "x").has_value());
  EXPECT_TRUE(trouble.active());
  const auto back = trouble.Recovered(t0 + seconds(70), "store recovered");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, "store recovered after 70 s and 14 failed attempts");
  EXPECT_FALSE(trouble.active());
  EXPECT_FALSE(trouble.Recovered(t0 + seconds(71), "again").has_value());
  // A new run starts with a line of its own.
  EXPECT_TRUE(trouble.Failed(t0 + seconds(72), "locked", "y").has_value());
}

}  // namespace
}  // namespace forge::broker
