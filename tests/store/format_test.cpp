// Unit tests for store/format (the metadata layer both stores share) and
// the range text of store/range_store.h.
#include "store/format.h"

#include <gtest/gtest.h>

#include <string>

#include "keys/alphabet.h"
#include "keys/blocklist.h"
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

// Issue 14: the policy rows round-trip; a store without them (schema 3
// rows raised to 4) reads as today's format.
TEST(StoreFormat, PolicyRowsRoundTripAndAbsentOnesReadAsDefaults) {
  StoreFormat wanted = Format(12, keys::KeyOrder::kScrambled, 5);
  std::string why;
  wanted.policy = {*keys::Alphabet::Parse("crockford32", &why),
                   keys::CheckKind::kLuhn, "inv_"};
  wanted.blocklist = {keys::BlocklistKind::kCustom, {"cat", "dog"}};
  MetaRows rows = NewFormatRows(wanted);
  EXPECT_EQ(rows.at("blocklist_words"), "cat\ndog");
  const StoreFormat f = ParseFormat("sqlite:/x", kTable, rows);
  EXPECT_EQ(f.policy, wanted.policy);
  EXPECT_EQ(f.blocklist, wanted.blocklist);
  EXPECT_EQ(f.key_length, 12);
  EXPECT_EQ(DescribeFormat(f),
            "KEY_LENGTH=12 KEY_ORDER=scrambled alphabet=crockford32 "
            "check=luhn prefix=\"inv_\"");
  EXPECT_EQ(CreatedDefault(wanted).blocklist, keys::BlocklistSpec{});

  rows = NewFormatRows(Format(7, keys::KeyOrder::kSequential));
  for (const char* key :
       {"alphabet", "check", "prefix", "blocklist", "blocklist_words"}) {
    rows.erase(key);
  }
  const StoreFormat old = ParseFormat("sqlite:/x", kTable, rows);
  EXPECT_EQ(old.policy, keys::KeyPolicy{});
  EXPECT_EQ(old.blocklist, keys::BlocklistSpec{});
  EXPECT_EQ(DescribeFormat(old), "KEY_LENGTH=7 KEY_ORDER=sequential");
}

TEST(StoreFormat, APolicyMismatchNamesTheFieldBothWays) {
  StoreFormat stored = Format(7, keys::KeyOrder::kScrambled);
  std::string why;
  stored.policy.alphabet = *keys::Alphabet::Parse("base58", &why);
  StoreFormat wanted = stored;
  EXPECT_NO_THROW(CheckFormat("sqlite:/x", stored, wanted));
  wanted.blocklist = {keys::BlocklistKind::kDefault, {}};  // never compared
  EXPECT_TRUE(SameKeyFormat(stored, wanted));
  wanted.policy.alphabet = keys::Alphabet();
  wanted.policy.prefix = "p";
  EXPECT_FALSE(SameKeyFormat(stored, wanted));
  EXPECT_EQ(ErrorFrom([&] { CheckFormat("sqlite:/x", stored, wanted); }).what(),
            std::string("store sqlite:/x was created with KEY_LENGTH=7 "
                        "KEY_ORDER=scrambled alphabet=base58; config says "
                        "alphabet=base62 prefix=\"p\": keys would collide "
                        "with the ones already issued. Use the store's "
                        "values or a new DB_URL"));
  EXPECT_TRUE(Has(ErrorFrom([&] {
                    CheckNamespaceFormat("sqlite:/x", "inv", stored, wanted);
                  }).what(),
                  "namespace \"inv\": the store holds alphabet=base58 "
                  "prefix=\"\" but config asks alphabet=base62 prefix=\"p\""));
}

TEST(StoreFormat, APolicyGenerationRowIsANumberOrAbsent) {
  EXPECT_EQ(ParsePolicyGeneration("sqlite:/x", kTable, std::nullopt), 0u);
  EXPECT_EQ(ParsePolicyGeneration("sqlite:/x", kTable, "41"), 41u);
  EXPECT_TRUE(Has(
      ErrorFrom([] { ParsePolicyGeneration("sqlite:/x", kTable, "x"); }).what(),
      "is damaged: meta.policy_generation='x' is not valid"));
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
