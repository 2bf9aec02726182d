// The control thread's timer (frontend/maintain_schedule.h), on made-up
// times: quick attach retries while the default segment is missing, the
// full Maintain every 150 ms all the same, and the back-off.
#include "frontend/maintain_schedule.h"

#include <gtest/gtest.h>

namespace forge::frontend {
namespace {

using Clock = MaintainSchedule::Clock;
using std::chrono::milliseconds;

const Clock::time_point kStart{};

TEST(MaintainScheduleTest, AttachedWaitsTheFullPeriod) {
  MaintainSchedule schedule(kStart);
  const MaintainSchedule::Step next = schedule.After(true, kStart);
  EXPECT_TRUE(next.full);
  EXPECT_EQ(next.at, kStart + kMaintainEvery);
}

TEST(MaintainScheduleTest, DetachedRetriesQuicklyAndStillMaintainsOnTime) {
  MaintainSchedule schedule(kStart);
  Clock::time_point now = kStart;
  MaintainSchedule::Step next = schedule.After(false, now);
  int quick = 0;
  while (!next.full) {
    EXPECT_EQ(next.at, now + kQuickAttachEvery);
    ++quick;
    now = next.at;
    next = schedule.After(false, now);
  }
  // Every retry in between was a quick one; the full Maintain keeps its
  // period, not pushed back by them.
  EXPECT_EQ(quick, kMaintainEvery / kQuickAttachEvery - 1);
  EXPECT_EQ(next.at, kStart + kMaintainEvery);
}

TEST(MaintainScheduleTest, ABrokerStartingLaterIsAttachedWithinAQuickStep) {
  MaintainSchedule schedule(kStart);
  Clock::time_point now = kStart;
  MaintainSchedule::Step next = schedule.After(false, now);
  const Clock::time_point broker_up = kStart + milliseconds(37);
  while (next.at < broker_up) {
    now = next.at;
    next = schedule.After(false, now);
  }
  EXPECT_LE(next.at - broker_up, kQuickAttachEvery);
  // Once attached, only the full Maintain, on its own 150 ms beat.
  now = next.at;
  next = schedule.After(true, now);
  EXPECT_TRUE(next.full);
  EXPECT_EQ(next.at, kStart + kMaintainEvery);
  now = next.at;
  next = schedule.After(true, now);
  EXPECT_TRUE(next.full);
  EXPECT_EQ(next.at - now, kMaintainEvery);
}

TEST(MaintainScheduleTest, NoBrokerForLongBacksOffToTheFullPeriod) {
  MaintainSchedule schedule(kStart);
  Clock::time_point now = kStart;
  MaintainSchedule::Step next = schedule.After(false, now);
  int steps = 0;
  while (now - kStart < kQuickAttachFor) {
    now = next.at;
    next = schedule.After(false, now);
    ++steps;
  }
  // About kQuickAttachFor / kQuickAttachEvery retries, then none quick.
  EXPECT_LE(steps, kQuickAttachFor / kQuickAttachEvery + 1);
  ASSERT_TRUE(next.full);  // the rest of the current 150 ms
  now = next.at;
  next = schedule.After(false, now);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(next.full);
    EXPECT_EQ(next.at - now, kMaintainEvery);
    now = next.at;
    next = schedule.After(false, now);
  }
}

TEST(MaintainScheduleTest, ASegmentLostLaterIsRetriedQuicklyAgain) {
  MaintainSchedule schedule(kStart);
  Clock::time_point now = kStart;
  MaintainSchedule::Step next = schedule.After(false, now);
  while (now - kStart < kQuickAttachFor + kMaintainEvery) {
    now = next.at;
    next = schedule.After(false, now);
  }
  ASSERT_TRUE(next.full);  // backed off
  now = next.at;
  next = schedule.After(true, now);  // the broker came
  now = next.at;
  next = schedule.After(false, now);  // its segment was replaced
  EXPECT_FALSE(next.full);
  EXPECT_EQ(next.at, now + kQuickAttachEvery);
}

}  // namespace
}  // namespace forge::frontend
