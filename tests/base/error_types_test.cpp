// The thrown error types of the folders are forge::Error (base/status.h):
// what() unchanged, a Status with the right code, transient() as before.
#include <gtest/gtest.h>

#include <string>

#include "base/status.h"
#include "config/config.h"
#include "shm/segment.h"
#include "store/range_store.h"

namespace forge {
namespace {

template <typename E>
Status Caught(const E& thrown) {
  try {
    throw thrown;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), e.status().message());
    return e.status();
  }
}

TEST(ErrorTypes, SegmentErrorsCarryTheirKind) {
  EXPECT_EQ(Caught(shm::SegmentError("bad")).code(), Code::kUnavailable);
  EXPECT_EQ(Caught(shm::SegmentMissing("gone")).code(), Code::kNotFound);
  const Status locked = Caught(shm::ProducerLocked("held by pid 7", 7));
  EXPECT_EQ(locked.code(), Code::kBusy);
  EXPECT_EQ(locked.message(), "held by pid 7");
  EXPECT_EQ(shm::ProducerLocked("x", 7).holder_pid(), 7);
}

TEST(ErrorTypes, ConfigErrorIsAnInvalidArgument) {
  const Status s = Caught(config::ConfigError("config: PORT=0 ..."));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "config: PORT=0 ...");
}

TEST(ErrorTypes, StoreErrorKeepsTransientAndMapsItToTheCode) {
  const store::StoreError busy("database is locked", true);
  EXPECT_TRUE(busy.transient());
  EXPECT_EQ(Caught(busy).code(), Code::kUnavailable);
  const store::StoreError broken("disk image is malformed", false);
  EXPECT_FALSE(broken.transient());
  EXPECT_EQ(Caught(broken).code(), Code::kIoError);
  EXPECT_STREQ(broken.what(), "disk image is malformed");
}

}  // namespace
}  // namespace forge
