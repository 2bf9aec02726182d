// Status, Result, Error and FORGE_CHECK (base/status.h).
#include "base/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace forge {
namespace {

TEST(Status, DefaultIsOkWithoutMessage) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(Status, KeepsCodeAndMessageByteForByte) {
  const std::string line = "shared memory /dev/shm/x: \"odd\" \xc3\xa9 text";
  const Status s = Status::Corruption(line);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.message(), line);
  EXPECT_EQ(Status::InvalidArgument("a").code(), Code::kInvalidArgument);
  EXPECT_EQ(Status::NotFound("a").code(), Code::kNotFound);
  EXPECT_EQ(Status::Busy("a").code(), Code::kBusy);
  EXPECT_EQ(Status::Unavailable("a").code(), Code::kUnavailable);
  EXPECT_EQ(Status::IoError("a").code(), Code::kIoError);
  EXPECT_STREQ(CodeName(Code::kBusy), "busy");
}

TEST(Result, HoldsAValueOrAnError) {
  const Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().ok());

  const Result<int> bad = Status::NotFound("no such thing");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
  EXPECT_EQ(bad.status().message(), "no such thing");
}

TEST(Result, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  const std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Error, WhatIsTheMessageAndTheStatusIsKept) {
  try {
    throw Error(Status::Busy("held by pid 12"));
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "held by pid 12");
    const auto* error = dynamic_cast<const Error*>(&e);
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->code(), Code::kBusy);
    EXPECT_EQ(error->status().message(), "held by pid 12");
  }
}

using StatusDeathTest = ::testing::Test;

TEST_F(StatusDeathTest, CheckPrintsWhereAndWhatThenAborts) {
  EXPECT_DEATH(FORGE_CHECK(1 + 1 == 3, "arithmetic broke"),
               "status_test.cpp:[0-9]+: check failed: 1 \\+ 1 == 3: "
               "arithmetic broke");
}

TEST_F(StatusDeathTest, ValueOfAFailedResultIsAProgrammingError) {
  const Result<int> bad = Status::IoError("disk gone");
  EXPECT_DEATH((void)bad.value(), "value\\(\\) of a failed Result: disk gone");
}

TEST_F(StatusDeathTest, AResultFromAnOkStatusIsAProgrammingError) {
  EXPECT_DEATH((void)Result<int>(Status::Ok()),
               "a Result needs a value or an error");
}

}  // namespace
}  // namespace forge
