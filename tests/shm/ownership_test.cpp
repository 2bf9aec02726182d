// tests/shm/ownership_test.cpp — CheckOwnership (shm/segment_check.h): who
// may attach a segment, which holds the key secret (SHM_MODE).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/segment_check.h"

namespace forge::shm {
namespace {

using ::testing::HasSubstr;

struct stat Stat(uid_t uid, gid_t gid, mode_t mode) {
  struct stat st {};
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_mode = S_IFREG | mode;
  return st;
}

TEST(OwnershipTest, OwnerMayUseOwnerOnlyAndGroupModes) {
  EXPECT_TRUE(CheckOwnership(Stat(::geteuid(), 12345, 0600), "/p").ok());
  EXPECT_TRUE(CheckOwnership(Stat(::geteuid(), 12345, 0660), "/p").ok());
}

TEST(OwnershipTest, OtherUsersAreNeverLetIn) {
  for (mode_t mode : {0604, 0644, 0666, 0640, 0700, 0606}) {
    const Status s = CheckOwnership(Stat(::geteuid(), ::getegid(), mode), "/p");
    EXPECT_FALSE(s.ok()) << std::oct << mode;
    EXPECT_THAT(s.message(), HasSubstr("allowed 0600, or 0660"));
  }
}

TEST(OwnershipTest, AnotherOwnerOnlyThroughOurGroupAndMode0660) {
  const uid_t other = ::geteuid() + 1;
  EXPECT_TRUE(CheckOwnership(Stat(other, ::getegid(), 0660), "/p").ok());
  const Status owner_only =
      CheckOwnership(Stat(other, ::getegid(), 0600), "/p");
  EXPECT_FALSE(owner_only.ok());
  EXPECT_THAT(owner_only.message(), HasSubstr("SHM_MODE=0660"));
  // A group we are not in (gid_t max is no real group).
  EXPECT_FALSE(
      CheckOwnership(Stat(other, static_cast<gid_t>(-2), 0660), "/p").ok());
}

}  // namespace
}  // namespace forge::shm
