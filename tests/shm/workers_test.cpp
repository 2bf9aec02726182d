// tests/shm/workers_test.cpp — worker stats slots: claim, release, reuse.
#include "shm/workers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "tests/shm/child.h"
#include "tests/support/process.h"

namespace forge::shm {
namespace {

using forge::testing::ShmName;
using testing::Child;

// A pid that existed and is now dead (exited and reaped).
pid_t DeadPid() {
  Child c([] { return 0; });
  const pid_t pid = c.pid();
  EXPECT_EQ(c.Wait(std::chrono::seconds(10)), 0);
  return pid;
}

class WorkersTest : public ::testing::Test {
 protected:
  WorkersTest() : seg_(Segment::OpenProducer(name_.str(), SegmentSpec{})) {}
  ShmName name_;
  Segment seg_;
};

TEST_F(WorkersTest, LiveWorkerPidsListsOnlyLiveHolders) {
  EXPECT_TRUE(LiveWorkerPids(seg_).empty());
  const pid_t me = ::getpid();
  const pid_t dead = DeadPid();
  seg_.worker(0).pid.store(dead);
  seg_.worker(2).pid.store(me);
  seg_.worker(kMaxWorkers - 1).pid.store(::getppid());
  EXPECT_EQ(LiveWorkerPids(seg_), (std::vector<pid_t>{me, ::getppid()}));
  seg_.worker(2).pid.store(0);
  seg_.worker(kMaxWorkers - 1).pid.store(0);
  EXPECT_TRUE(LiveWorkerPids(seg_).empty());
}

TEST_F(WorkersTest, ClaimsTheLowestFreeSlot) {
  const pid_t me = ::getpid();
  const pid_t parent = ::getppid();  // alive for the whole test
  EXPECT_EQ(ClaimWorkerSlot(seg_, me, 77), 0u);
  EXPECT_EQ(seg_.worker(0).pid.load(), me);
  EXPECT_EQ(seg_.worker(0).frontend_pid.load(), 77u);
  EXPECT_GT(seg_.worker(0).start_unix_ns.load(), 0u);
  EXPECT_EQ(ClaimWorkerSlot(seg_, parent, 77), 1u);
}

TEST_F(WorkersTest, SamePidGetsItsSlotBack) {
  EXPECT_EQ(ClaimWorkerSlot(seg_, ::getpid(), 1), 0u);
  EXPECT_EQ(ClaimWorkerSlot(seg_, ::getpid(), 1), 0u);
}

TEST_F(WorkersTest, ReleaseFreesOnlyTheOwnersSlot) {
  const pid_t me = ::getpid();
  ASSERT_EQ(ClaimWorkerSlot(seg_, me, 1), 0u);
  ReleaseWorkerSlot(seg_, 0, me + 1);  // not the owner: ignored
  EXPECT_EQ(seg_.worker(0).pid.load(), me);
  ReleaseWorkerSlot(seg_, 0, me);
  EXPECT_EQ(seg_.worker(0).pid.load(), 0);
  ReleaseWorkerSlot(seg_, kMaxWorkers, me);  // out of range: ignored
}

TEST_F(WorkersTest, DeadPidSlotIsReusedWithCountersKept) {
  const pid_t dead = DeadPid();
  ASSERT_EQ(ClaimWorkerSlot(seg_, dead, 1), 0u);
  seg_.worker(0).served.store(42);
  // Slot 1 is free too, but the dead holder's slot 0 comes first.
  EXPECT_EQ(ClaimWorkerSlot(seg_, ::getpid(), 2), 0u);
  EXPECT_EQ(seg_.worker(0).pid.load(), ::getpid());
  EXPECT_EQ(seg_.worker(0).served.load(), 42u);  // counters only grow
}

TEST_F(WorkersTest, NoSlotWhenAllAreTakenByLiveProcesses) {
  for (std::uint32_t i = 0; i < kMaxWorkers; ++i) {
    seg_.worker(i).pid.store(::getppid());
  }
  EXPECT_FALSE(ClaimWorkerSlot(seg_, ::getpid(), 1).has_value());
}

// Children claim at the same time and hold their slots (blocked on a pipe
// the parent closes at the end), so no slot is free again mid-test.
TEST_F(WorkersTest, ConcurrentClaimsNeverShareASlot) {
  constexpr int kChildren = 16;
  int hold[2];
  ASSERT_EQ(::pipe(hold), 0);
  std::vector<Child> children;
  for (int i = 0; i < kChildren; ++i) {
    children.emplace_back([this, &hold] {
      ::close(hold[1]);
      if (!ClaimWorkerSlot(seg_, ::getpid(), ::getppid())) return 1;
      char c;
      return ::read(hold[0], &c, 1) == 0 ? 0 : 2;  // EOF: parent is done
    });
  }
  ::close(hold[0]);
  auto owners = [this](pid_t pid) {
    int n = 0;
    for (std::uint32_t i = 0; i < kMaxWorkers; ++i) {
      n += seg_.worker(i).pid.load() == pid;
    }
    return n;
  };
  const bool all_claimed = forge::testing::WaitUntil(
      [&] {
        for (Child& c : children) {
          if (owners(c.pid()) == 0) return false;
        }
        return true;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(all_claimed);
  for (Child& c : children) EXPECT_EQ(owners(c.pid()), 1) << c.pid();
  ::close(hold[1]);
  for (Child& c : children) EXPECT_EQ(c.Wait(std::chrono::seconds(10)), 0);
}

// A slot index past kMaxWorkers is a programming error (FORGE_CHECK).
TEST_F(WorkersTest, OutOfRangeSlotIsAProgrammingError) {
  EXPECT_DEATH((void)seg_.worker(kMaxWorkers),
               "worker slot .* is out of range");
}

}  // namespace
}  // namespace forge::shm
