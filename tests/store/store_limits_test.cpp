// Unit tests for store/store_limits (how long a store call may wait, and
// the stop signal cutting it short).
#include "store/store_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace forge::store {
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

}  // namespace
}  // namespace forge::store
