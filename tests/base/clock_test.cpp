// base::UnixNowNs (base/clock.h): the wall clock in Unix nanoseconds.
#include "base/clock.h"

#include <gtest/gtest.h>

#include <ctime>

namespace forge::base {
namespace {

constexpr std::uint64_t kNsPerS = 1'000'000'000;

TEST(Clock, AgreesWithTimeOfDay) {
  const std::uint64_t before = static_cast<std::uint64_t>(std::time(nullptr));
  const std::uint64_t now_s = UnixNowNs() / kNsPerS;
  const std::uint64_t after = static_cast<std::uint64_t>(std::time(nullptr));
  // time() truncates to the second: the reading lies within [before, after]
  // give or take the second the two clocks may straddle.
  EXPECT_GE(now_s + 1, before);
  EXPECT_LE(now_s, after + 1);
}

TEST(Clock, CarriesSubSecondDigitsAndMovesForward) {
  const std::uint64_t first = UnixNowNs();
  std::uint64_t later = first;
  // Nanosecond resolution: two readings differ within a few calls, and a
  // wall clock that nobody steps during the test does not go back.
  for (int i = 0; i < 1000 && later == first; ++i) later = UnixNowNs();
  EXPECT_GT(later, first);
  EXPECT_GT(first, 1'600'000'000 * kNsPerS);  // after September 2020
}

}  // namespace
}  // namespace forge::base
