// base::ProcessAlive (base/process.h): kill(pid, 0) liveness.
#include "base/process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace forge::base {
namespace {

// A pid that existed and is now dead: a child that exited and was reaped.
pid_t DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return pid;
}

TEST(ProcessAlive, SelfAndParentAreAlive) {
  EXPECT_TRUE(ProcessAlive(::getpid()));
  EXPECT_TRUE(ProcessAlive(::getppid()));
}

TEST(ProcessAlive, InitIsAliveThoughWeMayNotSignalIt) {
  EXPECT_TRUE(ProcessAlive(1));  // EPERM when not root: still alive
}

TEST(ProcessAlive, NoPidAndAReapedChildAreNot) {
  EXPECT_FALSE(ProcessAlive(0));   // a free slot, never "my group"
  EXPECT_FALSE(ProcessAlive(-1));  // never "every process"
  EXPECT_FALSE(ProcessAlive(DeadPid()));
}

}  // namespace
}  // namespace forge::base
