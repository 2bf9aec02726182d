// Unit tests for broker/store_trouble (one log line per run of store
// errors, then at most one per interval).
#include "broker/store_trouble.h"

#include <gtest/gtest.h>

#include <chrono>

namespace forge::broker {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

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
