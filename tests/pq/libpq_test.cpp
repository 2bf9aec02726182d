// Tests for pq/libpq.h: the installed libpq is found and callable; a
// missing or foreign library is one line naming it and the fix.
#include "pq/libpq.h"

#include <gtest/gtest.h>

#include <initializer_list>
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

// Probe(file) is refused: unavailable, one line, saying each of `says`.
void ExpectRefused(const char* file, std::initializer_list<const char*> says) {
  const Status s = Probe(file);
  ASSERT_FALSE(s.ok()) << file;
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  for (const char* part : says) {
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  }
}

TEST(LibpqTest, AMissingLibraryIsOneLineNamingItAndTheFix) {
  ExpectRefused("libforge-absent.so.9",
                {"libforge-absent.so.9 cannot be loaded",
                 "apt-get install libpq5", "sqlite: DB_URL"});
}

TEST(LibpqTest, ALibraryWithoutLibpqsFunctionsIsRefused) {
  ExpectRefused("libc.so.6", {"libc.so.6 has no PQclear (not a usable libpq)"});
}

}  // namespace
}  // namespace forge::pq
