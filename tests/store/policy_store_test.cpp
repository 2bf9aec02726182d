// Key policy (issue 14) on both stores: each namespace's alphabet, check
// and prefix fixed at creation (round trip, mismatch per field naming the
// namespace and the field), its blocklist (written, read back, the
// store-wide policy generation bumped, seen from another connection), the
// schema-4 upgrade of a schema-3 store, damaged policy rows and a prefix
// that contains a blocked word.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "keys/alphabet.h"
#include "keys/blocklist.h"
#include "keys/key_codec.h"
#include "store/format.h"
#include "store/range_store.h"
#include "tests/store/store_test_util.h"

namespace forge::store::store_test {
namespace {

using keys::BlocklistKind;
using keys::BlocklistSpec;
using keys::CheckKind;
using keys::KeyOrder;

const StoreFormat kDefault7 = Format(7, KeyOrder::kScrambled);

keys::Alphabet AlphabetOf(const std::string& spec) {
  std::string why;
  const auto alphabet = keys::Alphabet::Parse(spec, &why);
  if (!alphabet) throw std::runtime_error(spec + ": " + why);
  return *alphabet;
}

// A wanted format with a policy and a blocklist.
StoreFormat WithPolicy(int length, const std::string& alphabet, CheckKind check,
                       const std::string& prefix,
                       BlocklistSpec blocklist = {BlocklistKind::kDefault, {}},
                       KeyOrder order = KeyOrder::kScrambled) {
  StoreFormat f = Format(length, order);
  f.policy = {AlphabetOf(alphabet), check, prefix};
  f.blocklist = std::move(blocklist);
  return f;
}

class PolicyStoreTest : public BothStoresTest {
 protected:
  // The metadata table of namespace `name`, quoted for SQL.
  std::string MetaOf(const std::string& name) const {
    return TablesHere(name).meta_sql;
  }
  // Schema version `version` in every metadata table (SQLite: and the
  // user_version it checks first).
  void SetVersion(const std::string& url, const std::vector<std::string>& names,
                  int version) {
    std::string sql;
    for (const std::string& name : names) {
      sql += "UPDATE " + MetaOf(name) + " SET value = '" +
             std::to_string(version) + "' WHERE key = 'schema_version';";
    }
    if (GetParam() == Backend::kSqlite) {
      sql += "PRAGMA user_version = " + std::to_string(version) + ";";
    }
    RawSql(url, sql);
  }
};

// Every store call of `url` as forge-ctl opens it (whatever it holds).
std::unique_ptr<RangeStore> SecondConnection(const std::string& url) {
  return OpenStore(url, Format(0, KeyOrder::kScrambled));
}

TEST_P(PolicyStoreTest, EachNamespaceKeepsItsPolicyAndBlocklist) {
  const std::string url = NewUrl();
  // The default namespace is created with blocklist none whatever wanted.
  StoreFormat wanted_default = kDefault7;
  wanted_default.blocklist = {BlocklistKind::kDefault, {}};
  auto store = OpenStore(url, wanted_default);
  EXPECT_EQ(store->format().policy, keys::KeyPolicy{});
  EXPECT_EQ(store->format().blocklist, BlocklistSpec{});

  const StoreFormat invites =
      WithPolicy(10, "base58", CheckKind::kLuhn, "inv_");
  const StoreFormat pins =
      WithPolicy(18, "digits", CheckKind::kNone, "", {BlocklistKind::kNone, {}},
                 KeyOrder::kSequential);
  const StoreFormat codes = WithPolicy(6, "abcdefgh-_", CheckKind::kLuhn, "c-");
  EXPECT_EQ(OpenSpace(*store, "invites", &invites)->format().policy,
            invites.policy);
  OpenSpace(*store, "pins", &pins);
  OpenSpace(*store, "codes", &codes);
  // The key space is the alphabet's: 10^18 numbers for pins.
  EXPECT_EQ(OpenSpace(*store, "pins", nullptr)->Reserve(1000000).last,
            1000000u);

  auto again = SecondConnection(url);
  const auto read = [&](const std::string& name) {
    return OpenSpace(*again, name, nullptr)->format();
  };
  EXPECT_EQ(read("invites").policy, invites.policy);
  EXPECT_EQ(read("invites").key_length, 10);
  EXPECT_EQ(read("invites").blocklist.kind, BlocklistKind::kDefault);
  EXPECT_EQ(read("pins").policy, pins.policy);
  EXPECT_EQ(read("pins").key_length, 18);
  EXPECT_EQ(read("pins").blocklist.kind, BlocklistKind::kNone);
  EXPECT_EQ(read("codes").policy, codes.policy);
  EXPECT_EQ(read("codes").policy.alphabet.spec(), "abcdefgh-_");
  EXPECT_EQ(read("default").policy, keys::KeyPolicy{});
  EXPECT_EQ(read("default").blocklist.kind, BlocklistKind::kNone);
  // Opening with the same policy again is fine; so is another blocklist
  // (it is the stored one that counts).
  StoreFormat other_list = invites;
  other_list.blocklist = {BlocklistKind::kNone, {}};
  EXPECT_EQ(OpenSpace(*again, "invites", &other_list)->format().blocklist.kind,
            BlocklistKind::kDefault);
}

TEST_P(PolicyStoreTest, APolicyMismatchIsRefusedNamingTheNamespaceAndField) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, kDefault7);
  const StoreFormat invites =
      WithPolicy(10, "base58", CheckKind::kLuhn, "inv_");
  OpenSpace(*store, "invites", &invites);
  const auto refused = [&](const StoreFormat& wanted, const std::string& says) {
    const StoreError e =
        ErrorFrom([&] { store->OpenNamespace("invites", &wanted); });
    EXPECT_FALSE(e.transient());
    EXPECT_TRUE(Has(e.what(), "namespace \"invites\": " + says)) << e.what();
    EXPECT_TRUE(Has(e.what(), store->Describe())) << e.what();
  };
  refused(WithPolicy(10, "base62", CheckKind::kLuhn, "inv_"),
          "the store holds alphabet=base58 but config asks alphabet=base62");
  refused(WithPolicy(10, "base58", CheckKind::kNone, "inv_"),
          "the store holds check=luhn but config asks check=none");
  refused(WithPolicy(10, "base58", CheckKind::kLuhn, "inv-"),
          "the store holds prefix=\"inv_\" but config asks prefix=\"inv-\"");
  refused(WithPolicy(10, "base58", CheckKind::kLuhn, ""),
          "the store holds prefix=\"inv_\" but config asks prefix=\"\"");
  // The default namespace (OpenStore) too.
  StoreFormat base58 = kDefault7;
  base58.policy.alphabet = AlphabetOf("base58");
  const StoreError e = ErrorFrom([&] { OpenStore(url, base58); });
  EXPECT_FALSE(e.transient());
  EXPECT_TRUE(Has(e.what(), "config says alphabet=base58")) << e.what();
}

TEST_P(PolicyStoreTest, AWantedFormatTheAlphabetCannotHoldIsRefused) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, kDefault7);
  const auto refused = [&](const StoreFormat& wanted, const std::string& says) {
    const StoreError e = ErrorFrom([&] { store->OpenNamespace("x", &wanted); });
    EXPECT_FALSE(e.transient());
    EXPECT_TRUE(Has(e.what(), says)) << e.what();
  };
  refused(WithPolicy(11, "base62", CheckKind::kNone, ""),
          "KEY_LENGTH=11 is not allowed (base62 keys are 1 to 10 characters");
  refused(WithPolicy(19, "digits", CheckKind::kNone, ""),
          "digits keys are 1 to 18 characters");
  refused(WithPolicy(5, "abc", CheckKind::kLuhn, ""),
          "check=luhn is not allowed (check luhn needs an alphabet of even "
          "size");
  refused(WithPolicy(5, "base62", CheckKind::kNone, "in v"),
          "prefix=\"in v\" is not allowed (allowed: " +
              std::string(keys::kPrefixRule) + ")");
  EXPECT_EQ(store->Namespaces(), std::vector<std::string>{"default"});
}

TEST_P(PolicyStoreTest, WritingABlocklistBumpsTheGenerationForEveryone) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, kDefault7);
  const StoreFormat created = WithPolicy(8, "base36", CheckKind::kNone, "");
  auto invites = OpenSpace(*store, "invites", &created);
  auto watcher = SecondConnection(url);
  EXPECT_EQ(store->PolicyGeneration(), 0u);
  EXPECT_EQ(watcher->PolicyGeneration(), 0u);
  EXPECT_EQ(invites->ReadBlocklist().kind, BlocklistKind::kDefault);

  invites->WriteBlocklist({BlocklistKind::kNone, {}});
  EXPECT_EQ(invites->ReadBlocklist().kind, BlocklistKind::kNone);
  EXPECT_EQ(watcher->PolicyGeneration(), 1u);
  EXPECT_EQ(OpenSpace(*watcher, "invites", nullptr)->ReadBlocklist().kind,
            BlocklistKind::kNone);
  // The default namespace opts in; the generation is store-wide.
  store->WriteBlocklist({BlocklistKind::kDefault, {}});
  EXPECT_EQ(watcher->ReadBlocklist().kind, BlocklistKind::kDefault);
  EXPECT_EQ(OpenSpace(*watcher, "invites", nullptr)->PolicyGeneration(), 2u);
  // Format() stays what was read at open; the key format never changes.
  EXPECT_EQ(store->format().blocklist.kind, BlocklistKind::kNone);
  EXPECT_EQ(OpenSpace(*watcher, "default", nullptr)->format().blocklist.kind,
            BlocklistKind::kDefault);

  // A custom list round-trips word for word.
  const BlocklistSpec custom{BlocklistKind::kCustom, {"cat", "dog", "zebra"}};
  invites->WriteBlocklist(custom);
  EXPECT_EQ(OpenSpace(*watcher, "invites", nullptr)->ReadBlocklist(), custom);
  EXPECT_EQ(watcher->PolicyGeneration(), 3u);

  // An invalid spec is refused and changes nothing.
  for (const BlocklistSpec& bad :
       {BlocklistSpec{BlocklistKind::kNone, {"cat"}},
        BlocklistSpec{BlocklistKind::kCustom, {}},
        BlocklistSpec{BlocklistKind::kCustom, {"Cat!"}},
        BlocklistSpec{BlocklistKind::kCustom, {"dog", "cat"}}}) {
    const StoreError e = ErrorFrom([&] { invites->WriteBlocklist(bad); });
    EXPECT_FALSE(e.transient());
    EXPECT_TRUE(Has(e.what(), "namespace \"invites\"")) << e.what();
  }
  EXPECT_EQ(invites->ReadBlocklist(), custom);
  EXPECT_EQ(watcher->PolicyGeneration(), 3u);
}

TEST_P(PolicyStoreTest, APrefixContainingABlockedWordIsRefused) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, kDefault7);
  const BlocklistSpec words{BlocklistKind::kCustom, {"cat", "dog"}};
  // At creation: the prefix matches look-alikes too (d0g_).
  const StoreFormat dog =
      WithPolicy(6, "base36", CheckKind::kNone, "d0g_", words);
  const StoreError e = ErrorFrom([&] { store->OpenNamespace("pets", &dog); });
  EXPECT_FALSE(e.transient());
  EXPECT_TRUE(Has(e.what(), "contains the blocked word \"dog\"")) << e.what();
  EXPECT_EQ(store->Namespaces(), std::vector<std::string>{"default"});
  // When the list is set later.
  const StoreFormat cat = WithPolicy(6, "base36", CheckKind::kNone, "cat_",
                                     {BlocklistKind::kNone, {}});
  auto pets = OpenSpace(*store, "pets", &cat);
  const StoreError later = ErrorFrom([&] { pets->WriteBlocklist(words); });
  EXPECT_FALSE(later.transient());
  EXPECT_TRUE(Has(later.what(), "contains the blocked word \"cat\""))
      << later.what();
  EXPECT_EQ(pets->ReadBlocklist().kind, BlocklistKind::kNone);
  EXPECT_EQ(store->PolicyGeneration(), 0u);
}

TEST_P(PolicyStoreTest, ASchema3StoreIsUpgradedInPlaceAndReadsDefaults) {
  const std::string url = NewUrl();
  {
    auto store = OpenStore(url, kDefault7);
    EXPECT_EQ(store->Reserve(40).last, 40u);
    OpenSpace(*store, "invites", &kDefault7)->Reserve(7);
  }
  // What schema-3 code wrote: no policy rows, version 3 everywhere.
  std::string age;
  for (const char* name : {"default", "invites"}) {
    age += "DELETE FROM " + MetaOf(name) +
           " WHERE key IN ('alphabet', 'check', 'prefix', 'blocklist', "
           "'blocklist_words');";
  }
  RawSql(url, age);
  SetVersion(url, {"default", "invites"}, 3);

  auto store = OpenStore(url, kDefault7);
  EXPECT_EQ(store->format().policy, keys::KeyPolicy{});
  EXPECT_EQ(store->format().blocklist, BlocklistSpec{});
  EXPECT_EQ(store->Reserve(10).first, 40u);
  EXPECT_EQ(store->PolicyGeneration(), 0u);
  auto invites = OpenSpace(*store, "invites", &kDefault7);
  EXPECT_EQ(invites->format().policy, keys::KeyPolicy{});
  EXPECT_EQ(invites->ReadBlocklist(), BlocklistSpec{});
  EXPECT_EQ(invites->Reserve(3).first, 7u);
  // Every metadata table now says 4: a schema-3 program refuses it.
  invites->WriteBlocklist({BlocklistKind::kDefault, {}});
  EXPECT_EQ(SecondConnection(url)->PolicyGeneration(), 1u);
}

TEST_P(PolicyStoreTest, ASchema5StoreIsRefused) {
  const std::string url = NewUrl();
  OpenStore(url, kDefault7);
  SetVersion(url, {"default"}, 5);
  const StoreError e = ErrorFrom([&] { OpenStore(url, kDefault7); });
  EXPECT_FALSE(e.transient());
  EXPECT_TRUE(Has(e.what(),
                  "schema version 5, newer than this program "
                  "understands (4)"))
      << e.what();
}

TEST_P(PolicyStoreTest, AnInvalidPolicyRowIsDamagedNamingIt) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, kDefault7);
  const StoreFormat twelve = WithPolicy(12, "base36", CheckKind::kNone, "");
  OpenSpace(*store, "ns", &twelve);
  const auto set = [&](const std::string& key, const std::string& value) {
    RawSql(url, "UPDATE " + MetaOf("ns") + " SET value = '" + value +
                    "' WHERE key = '" + key + "'");
  };
  const auto damaged = [&](const std::string& key, const std::string& value,
                           const std::string& names) {
    set(key, value);
    const StoreError e =
        ErrorFrom([&] { store->OpenNamespace("ns", nullptr); });
    EXPECT_FALSE(e.transient());
    EXPECT_TRUE(Has(e.what(), "is damaged: ")) << e.what();
    EXPECT_TRUE(Has(e.what(), names)) << e.what();
  };
  damaged("alphabet", "aab", "meta@ns.alphabet='aab' is not valid");
  // base62 cannot hold 12 characters.
  damaged("alphabet", "base62", "meta@ns.key_length='12' is not valid");
  set("alphabet", "base36");
  EXPECT_NE(store->OpenNamespace("ns", nullptr), nullptr);
  damaged("check", "crc", "meta@ns.check='crc' is not valid");
  set("check", "luhn");  // base36 is even: fine
  EXPECT_NE(store->OpenNamespace("ns", nullptr), nullptr);
  set("alphabet", "abc");
  damaged("check", "luhn", "meta@ns.check='luhn' does not fit the alphabet");
  set("alphabet", "base36");
  set("check", "none");
  damaged("prefix", "a b", "meta@ns.prefix='a b' is not valid");
  set("prefix", "");
  damaged("blocklist", "some", "meta@ns.blocklist='some' is not valid");
  set("blocklist", "default");
  damaged("blocklist_words", "cat",
          "meta@ns.blocklist_words is set but blocklist is default");
  set("blocklist_words", "");
  EXPECT_NE(store->OpenNamespace("ns", nullptr), nullptr);
}

FORGE_ON_BOTH_STORES(PolicyStoreTest);

}  // namespace
}  // namespace forge::store::store_test
