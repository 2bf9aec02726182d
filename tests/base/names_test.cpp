// base/names.h: the SHM_NAME rule, segment names and the DB_URL scheme,
// each as a table.
#include "base/names.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace forge::base {
namespace {

TEST(ShmName, AcceptsAndRejectsByTheRule) {
  struct Case {
    std::string name;
    ShmNameFault fault;
  };
  for (const Case& c : {
           Case{"default", ShmNameFault::kNone},
           Case{"A-z_0.9", ShmNameFault::kNone},
           Case{"x.lock.d", ShmNameFault::kNone},
           Case{".lock.x", ShmNameFault::kNone},
           Case{std::string(kMaxShmNameLength, 'a'), ShmNameFault::kNone},
           Case{"", ShmNameFault::kEmpty},
           Case{std::string(kMaxShmNameLength + 1, 'a'),
                ShmNameFault::kTooLong},
           Case{"a/b", ShmNameFault::kBadCharacter},
           Case{"a b", ShmNameFault::kBadCharacter},
           Case{"caf\xc3\xa9", ShmNameFault::kBadCharacter},
           Case{std::string("a\0b", 3), ShmNameFault::kBadCharacter},
           Case{"x.lock", ShmNameFault::kLockSuffix},
           Case{".lock", ShmNameFault::kLockSuffix},
           // The first rule broken is reported.
           Case{std::string(kMaxShmNameLength + 1, '/'),
                ShmNameFault::kTooLong},
           Case{"a/.lock", ShmNameFault::kBadCharacter},
       }) {
    EXPECT_EQ(CheckShmName(c.name), c.fault) << '"' << c.name << '"';
  }
}

TEST(ShmName, CharactersAreExactlyTheListedOnes) {
  std::string allowed;
  for (int b = 0; b < 256; ++b) {
    if (IsShmNameChar(static_cast<char>(b))) allowed += static_cast<char>(b);
  }
  EXPECT_EQ(
      allowed,
      "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz");
}

// forge-ctl segment: a file name back to SHM_NAME and namespace.
TEST(SegmentName, SplitsWhatNamespaceSegmentNameJoins) {
  for (const auto& [shm, ns] :
       {std::pair{"prod", "default"}, std::pair{"prod", "invites"},
        std::pair{"a.b-c", "x_1"}}) {
    const std::string joined = NamespaceSegmentName(shm, ns);
    const SegmentNameParts parts = SplitSegmentName(joined);
    EXPECT_EQ(parts.shm_name, shm) << joined;
    EXPECT_EQ(parts.ns, ns) << joined;
    EXPECT_TRUE(IsSegmentName(joined)) << joined;
  }
  for (const char* bad :
       {"", "x~new", "x.lock", "x@", "x@Bad", "@ns", "a b@ns", "x@ns@more"}) {
    EXPECT_FALSE(IsSegmentName(bad)) << bad;
  }
}

TEST(DbUrlScheme, LowerCaseSchemesOnly) {
  struct Case {
    std::string url;
    std::string scheme;
    StoreKind kind;
    bool miscased;
  };
  for (const Case& c : {
           Case{"sqlite:./data/forge.db", "sqlite:", StoreKind::kSqlite, false},
           Case{"sqlite:", "sqlite:", StoreKind::kSqlite, false},
           Case{"sqlite:///abs", "sqlite:", StoreKind::kSqlite, false},
           Case{"postgres://u@h/db", "postgres://", StoreKind::kPostgres,
                false},
           Case{"postgresql://h/db", "postgresql://", StoreKind::kPostgres,
                false},
           Case{"postgres://", "postgres://", StoreKind::kPostgres, false},
           // Case variants: no scheme, but named as a case mistake.
           Case{"SQLITE:x", "", StoreKind::kUnknown, true},
           Case{"Sqlite:x", "", StoreKind::kUnknown, true},
           Case{"POSTGRES://h/db", "", StoreKind::kUnknown, true},
           Case{"PostgreSQL://h/db", "", StoreKind::kUnknown, true},
           // Not a scheme at all.
           Case{"", "", StoreKind::kUnknown, false},
           Case{"sqlite", "", StoreKind::kUnknown, false},
           Case{"postgres:/h/db", "", StoreKind::kUnknown, false},
           Case{"mysql://h/db", "", StoreKind::kUnknown, false},
           Case{"./forge.db", "", StoreKind::kUnknown, false},
           Case{" sqlite:x", "", StoreKind::kUnknown, false},
       }) {
    EXPECT_EQ(DbUrlScheme(c.url), c.scheme) << c.url;
    EXPECT_EQ(StoreKindOf(c.url), c.kind) << c.url;
    EXPECT_EQ(DbUrlSchemeMiscased(c.url), c.miscased) << c.url;
  }
}

TEST(DbUrlScheme, KindNames) {
  EXPECT_STREQ(StoreKindName(StoreKind::kSqlite), "sqlite");
  EXPECT_STREQ(StoreKindName(StoreKind::kPostgres), "postgres");
  EXPECT_STREQ(StoreKindName(StoreKind::kUnknown), "unknown");
}

}  // namespace
}  // namespace forge::base
