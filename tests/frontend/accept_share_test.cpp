// AcceptShare (frontend/accept_share.h): which worker should take the next
// connection, and that the counts are shared with forked children.
#include "frontend/accept_share.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace forge::frontend {
namespace {

TEST(AcceptShare, AWorkerTakesConnectionsUntilItHoldsMoreThanTheLeast) {
  AcceptShare share(3);
  share.Set(0, 0);
  share.Set(1, 0);
  share.Set(2, 0);
  EXPECT_TRUE(share.Fair(0, 0));
  EXPECT_TRUE(share.Fair(0, 1)) << "one more than the least is fine";
  EXPECT_FALSE(share.Fair(0, 2));
  share.Set(1, 5);
  EXPECT_FALSE(share.Fair(0, 2)) << "worker 2 still holds none";
  share.Set(2, 3);
  EXPECT_TRUE(share.Fair(0, 4));
  EXPECT_FALSE(share.Fair(0, 5));
  // Slack grows with the load: 1/16 of the least loaded worker's count.
  share.Set(1, 320);
  share.Set(2, 320);
  EXPECT_TRUE(share.Fair(0, 341));
  EXPECT_FALSE(share.Fair(0, 342));
}

TEST(AcceptShare, WorkersThatAreGoneOrNotStartedDoNotCount) {
  AcceptShare share(2);  // both start as gone
  EXPECT_TRUE(share.Fair(0, 1000)) << "alone: always fair";
  share.Set(1, 0);
  EXPECT_FALSE(share.Fair(0, 1000));
  share.MarkGone(1);
  EXPECT_TRUE(share.Fair(0, 1000)) << "a reaped worker holds nothing";
}

TEST(AcceptShare, ForkedChildrenSeeAndUpdateTheSameCounts) {
  AcceptShare share(2);
  share.Set(0, 0);
  share.Set(1, 0);
  const pid_t child = ::fork();
  if (child == 0) {
    share.Set(1, 9);  // the child is worker 1
    ::_exit(share.Fair(1, 9) ? 1 : 0);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child saw worker 0 holding none";
  EXPECT_TRUE(share.Fair(0, 5)) << "the parent sees the child's 9";
  EXPECT_FALSE(share.Fair(1, 9));
}

}  // namespace
}  // namespace forge::frontend
