// Tests for pq/libpq.h: the installed libpq is found and callable; a
// missing or foreign library is one line naming it and the fix.
#include "pq/libpq.h"

#include <gtest/gtest.h>

#include <string>

namespace forge::pq {
namespace {

TEST(LibpqTest, TheInstalledLibpqLoadsAndAnswers) {
  ASSERT_TRUE(Loaded());
  EXPECT_TRUE(Probe(kLibpqFile).ok());
  char* error = nullptr;
  PQconninfoOption* options =
      Lib().PQconninfoParse("host=db1 dbname=forge", &error);
  ASSERT_NE(options, nullptr) << (error ? error : "");
  std::string dbname;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string(o->keyword) == "dbname" && o->val) dbname = o->val;
  }
  Lib().PQconninfoFree(options);
  EXPECT_EQ(dbname, "forge");
}

TEST(LibpqTest, AMissingLibraryIsOneLineNamingItAndTheFix) {
  const Status s = Probe("libforge-absent.so.9");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("libforge-absent.so.9 cannot be loaded"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("apt-get install libpq5"), std::string::npos);
  EXPECT_NE(s.message().find("sqlite: DB_URL"), std::string::npos);
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

TEST(LibpqTest, ALibraryWithoutLibpqsFunctionsIsRefused) {
  const Status s = Probe("libc.so.6");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("libc.so.6 has no PQclear (not a usable libpq)"),
            std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace forge::pq
