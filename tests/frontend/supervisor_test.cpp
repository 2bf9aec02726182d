// The restart back-off of the master (frontend/supervisor.h).
#include "frontend/supervisor.h"

#include <gtest/gtest.h>

namespace forge::frontend {
namespace {

using std::chrono::milliseconds;

TEST(RestartDelayTest, AWorkerThatLivedASecondIsRestartedAtOnce) {
  EXPECT_EQ(RestartDelay(milliseconds(3200), std::chrono::seconds(1)),
            milliseconds(0));
  EXPECT_EQ(RestartDelay(milliseconds(0), std::chrono::hours(5)),
            milliseconds(0));
}

TEST(RestartDelayTest, ACrashLoopBacksOffFrom100MsDoublingTo5s) {
  milliseconds d(0);
  std::vector<long> seen;
  for (int i = 0; i < 9; ++i) {
    d = RestartDelay(d, milliseconds(20));
    seen.push_back(static_cast<long>(d.count()));
  }
  EXPECT_EQ(seen, (std::vector<long>{100, 200, 400, 800, 1600, 3200, 5000, 5000,
                                     5000}));
}

}  // namespace
}  // namespace forge::frontend
