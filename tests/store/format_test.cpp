// Unit tests for store/format (the metadata layer both stores share) and
// the range text of store/range_store.h.
#include "store/format.h"

#include <gtest/gtest.h>

#include <string>

#include "store/range_store.h"
#include "tests/store/store_test_util.h"

namespace forge::store::store_test {
namespace {

constexpr MetaTable kTable{"meta", "move it away"};

TEST(StoreFormat, NewRowsParseBackToTheWantedFormat) {
  const MetaRows rows =
      NewFormatRows(Format(5, keys::KeyOrder::kScrambled, 1234));
  const StoreFormat f = ParseFormat("sqlite:/x", kTable, rows);
  EXPECT_EQ(f.key_length, 5);
  EXPECT_EQ(f.order, keys::KeyOrder::kScrambled);
  EXPECT_EQ(f.secret, 1234u);
  EXPECT_TRUE(ValidStoreId(f.store_id)) << f.store_id;
  EXPECT_GT(f.created_unix_s, 0);
  // Sequential stores keep no secret; scrambled ones get a random one.
  EXPECT_EQ(
      NewFormatRows(Format(7, keys::KeyOrder::kSequential, 9)).at("secret"),
      "0");
  EXPECT_NE(NewFormatRows(Format(7, keys::KeyOrder::kScrambled)).at("secret"),
            "0");
}

TEST(StoreFormat, DamagedRowsAreNamedWithTheTableAndTheRepair) {
  MetaRows rows = NewFormatRows(Format(7, keys::KeyOrder::kSequential));
  rows["key_order"] = "sideways";
  EXPECT_EQ(
      ErrorFrom([&] { ParseFormat("sqlite:/x", kTable, rows); }).what(),
      std::string("store sqlite:/x is damaged: meta.key_order='sideways' is "
                  "not valid; move it away"));
  rows.erase("key_order");
  const StoreError missing =
      ErrorFrom([&] { ParseFormat("sqlite:/x", kTable, rows); });
  EXPECT_EQ(missing.what(), std::string("store sqlite:/x is damaged: "
                                        "meta.key_order is missing; move "
                                        "it away"));
  EXPECT_FALSE(missing.transient());
}

TEST(StoreFormat, NewerSchemaIsNamedAsSuch) {
  CheckNotNewer("sqlite:/x", kStoreSchemaVersion);
  EXPECT_EQ(ErrorFrom([] { CheckNotNewer("sqlite:/x", 99); }).what(),
            std::string("store sqlite:/x has schema version 99, newer than "
                        "this program understands (4); upgrade mini-forge "
                        "or use another DB_URL"));
}

TEST(StoreFormat, SameKeyFormatIgnoresWhatTheStoreChose) {
  StoreFormat a = Format(7, keys::KeyOrder::kScrambled, 1);
  StoreFormat b = Format(7, keys::KeyOrder::kScrambled, 2);
  EXPECT_TRUE(SameKeyFormat(a, b));
  EXPECT_FALSE(SameStore(a, b));
  b.secret = 1;
  EXPECT_TRUE(SameStore(a, b));
  b.store_id = "x";
  EXPECT_FALSE(SameStore(a, b));
  EXPECT_FALSE(SameKeyFormat(a, Format(7, keys::KeyOrder::kSequential, 1)));
}

TEST(StoreFormat, KeyOrderRoundTripsThroughTheSegmentLayout) {
  for (const keys::KeyOrder order :
       {keys::KeyOrder::kScrambled, keys::KeyOrder::kSequential}) {
    EXPECT_EQ(
        KeyOrderOfLayout(static_cast<std::uint32_t>(LayoutKeyOrder(order))),
        order);
  }
  EXPECT_EQ(static_cast<std::uint32_t>(shm::KeyOrder::kSequential), 1u);
  EXPECT_EQ(KeyOrderOfLayout(0), keys::KeyOrder::kScrambled);
}

TEST(StoreFormat, RangeTextIsHalfOpen) {
  EXPECT_EQ(RangeText(Range{3, 18446744073709551615ull}),
            "[3, 18446744073709551615)");
}

}  // namespace
}  // namespace forge::store::store_test
