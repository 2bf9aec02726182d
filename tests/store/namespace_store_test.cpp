// Namespaces (issue 13) on both stores, through OpenStore and
// RangeStore::OpenNamespace: independent counters, returned lists and
// exhaustion per namespace, formats fixed at creation (mismatch and bad
// names refused, naming the namespace), racing creators, and OpenStore
// with key_length 0 (forge-ctl: take the stored format, never create).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/names.h"
#include "keys/key_codec.h"
#include "store/range_store.h"
#include "tests/store/store_test_util.h"

namespace forge::store::store_test {
namespace {

const StoreFormat kDefault7 = Format(7, keys::KeyOrder::kScrambled);
const StoreFormat kInvites10 = Format(10, keys::KeyOrder::kScrambled);
const StoreFormat kOrders8 = Format(8, keys::KeyOrder::kSequential);

class NamespaceTest : public BothStoresTest {};

TEST_P(NamespaceTest, EachNamespaceHasItsOwnFormatCounterAndReturnedList) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, kDefault7);
  EXPECT_EQ(store->namespace_name(), "default");
  EXPECT_EQ(store->Namespaces(), std::vector<std::string>{"default"});
  EXPECT_EQ(store->OpenNamespace("invites", nullptr), nullptr);
  EXPECT_EQ(store->Reserve(30).last, 30u);

  auto invites = OpenSpace(*store, "invites", &kInvites10);
  auto orders = OpenSpace(*store, "orders", &kOrders8);
  EXPECT_EQ(invites->namespace_name(), "invites");
  EXPECT_EQ(store->Namespaces(),
            (std::vector<std::string>{"default", "invites", "orders"}));
  // Own formats and secrets; the store's identity.
  EXPECT_EQ(invites->format().key_length, 10);
  EXPECT_NE(invites->format().secret, 0u);
  EXPECT_NE(invites->format().secret, store->format().secret);
  EXPECT_EQ(orders->format().order, keys::KeyOrder::kSequential);
  EXPECT_EQ(orders->format().secret, 0u);
  EXPECT_EQ(invites->format().store_id, store->format().store_id);
  EXPECT_EQ(orders->format().store_id, store->format().store_id);
  EXPECT_EQ(invites->Describe(), store->Describe());

  // Reserving in one never moves another's counter.
  EXPECT_EQ(invites->Reserve(100).first, 0u);
  EXPECT_EQ(invites->Reserve(100).first, 100u);
  EXPECT_EQ(store->Next(), 30u);
  EXPECT_EQ(orders->Next(), 0u);
  EXPECT_EQ(orders->Reserve(5).first, 0u);
  EXPECT_EQ(store->Reserve(10).first, 30u);
  EXPECT_EQ(invites->Next(), 200u);

  // Returned numbers come back in their own namespace only.
  invites->Return({Range{10, 20}});
  store->Return({Range{0, 5}});
  EXPECT_EQ(orders->Reserve(5).first, 5u);
  const Range back = invites->Reserve(4);
  EXPECT_EQ(back.first, 10u);
  EXPECT_EQ(back.last, 14u);
  EXPECT_EQ(store->Reserve(5).first, 0u);
  EXPECT_EQ(store->Reserve(5).first, 40u);

  // A namespace object for "default" shares the default key space.
  auto def = OpenSpace(*store, "default", nullptr);
  EXPECT_EQ(def->Next(), 45u);

  // Everything survives reopening, and nothing was created twice.
  invites.reset();
  orders.reset();
  def.reset();
  store.reset();
  auto again = OpenStore(url, kDefault7);
  auto invites2 = OpenSpace(*again, "invites", nullptr);
  EXPECT_EQ(invites2->Next(), 200u);
  EXPECT_EQ(invites2->format().secret,
            OpenSpace(*again, "invites", &kInvites10)->format().secret);
  EXPECT_EQ(invites2->Reserve(10).first, 14u);  // the rest of [10, 20)
  EXPECT_EQ(OpenSpace(*again, "orders", &kOrders8)->Reserve(1).first, 10u);
}

TEST_P(NamespaceTest, ExhaustingOneNamespaceLeavesTheOthersServing) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, Format(1, keys::KeyOrder::kSequential));
  const StoreFormat tiny = Format(1, keys::KeyOrder::kScrambled);
  auto a = OpenSpace(*store, "tiny-a", &tiny);
  auto b = OpenSpace(*store, "tiny-b", &tiny);
  EXPECT_EQ(a->Reserve(1000).last, 62u);
  EXPECT_TRUE(a->Reserve(1).empty());
  EXPECT_EQ(b->Reserve(10).last, 10u);
  EXPECT_EQ(store->Reserve(10).last, 10u);
  a->Return({Range{3, 5}});  // a comes back to life with what it got back
  EXPECT_EQ(a->Reserve(10).first, 3u);
  EXPECT_TRUE(a->Reserve(1).empty());
  EXPECT_EQ(store->Reserve(100).last, 62u);
  EXPECT_TRUE(store->Reserve(1).empty());
  EXPECT_EQ(b->Reserve(100).first, 10u);
}

TEST_P(NamespaceTest, AFormatMismatchOrABadNameIsRefusedNamingIt) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, kDefault7);
  OpenSpace(*store, "invites", &kInvites10)->Reserve(5);

  // OpenNamespace(name, wanted) is refused, naming the store, the
  // namespace and the fields.
  const auto refused = [&](const std::string& name, const StoreFormat& wanted,
                           const std::string& says) {
    const StoreError e =
        ErrorFrom([&] { store->OpenNamespace(name, &wanted); });
    EXPECT_FALSE(e.transient());
    EXPECT_TRUE(Has(e.what(), "namespace \"" + name + "\": " + says))
        << e.what();
    EXPECT_TRUE(Has(e.what(), store->Describe())) << e.what();
  };
  const StoreFormat eight = Format(8, keys::KeyOrder::kScrambled);
  refused("invites", eight,
          "the store holds KEY_LENGTH=10 but config asks KEY_LENGTH=8");
  refused("invites", Format(10, keys::KeyOrder::kSequential),
          "the store holds KEY_ORDER=scrambled but config asks "
          "KEY_ORDER=sequential");
  // "default" is checked the same way.
  refused("default", eight,
          "the store holds KEY_LENGTH=7 but config asks KEY_LENGTH=8");

  const std::vector<std::string> bad_names{
      "", "Invites", "-x", "a b", "a@b", "x;drop", std::string(33, 'a')};
  for (const std::string& bad : bad_names) {
    const StoreError e =
        ErrorFrom([&] { store->OpenNamespace(bad, &kInvites10); });
    EXPECT_FALSE(e.transient());
    EXPECT_TRUE(Has(e.what(), "\"" + bad + "\" is not a valid name"))
        << e.what();
    EXPECT_TRUE(Has(e.what(), std::string(base::kNamespaceRule))) << e.what();
  }
  const StoreFormat eleven = Format(11, keys::KeyOrder::kScrambled);
  const StoreError too_long =
      ErrorFrom([&] { store->OpenNamespace("x", &eleven); });
  EXPECT_FALSE(too_long.transient());
  EXPECT_TRUE(Has(too_long.what(), "base62 keys are 1 to 10 characters long"))
      << too_long.what();
  // Nothing was created by the refused calls; the namespace is untouched.
  EXPECT_EQ(store->Namespaces(),
            (std::vector<std::string>{"default", "invites"}));
  EXPECT_EQ(OpenSpace(*store, "invites", nullptr)->Next(), 5u);
}

// Brokers starting together with the same declaration: one creates the
// namespace, the others open it, and all serve the one key space.
TEST_P(NamespaceTest, RacingCreatorsEndUpInOneNamespace) {
  const std::string url = NewUrl();
  OpenStore(url, kDefault7);  // the store exists; the namespace does not
  const auto texts = InChildren(4, [&](int) {
    auto store = OpenStore(url, kDefault7);
    auto invites = OpenSpace(*store, "invites", &kInvites10);
    std::vector<Range> got;
    for (int k = 0; k < 20; ++k) got.push_back(invites->Reserve(7));
    return std::to_string(invites->format().secret) + " " +
           std::to_string(invites->format().created_unix_s) + "\n" +
           Serialize(got);
  });
  std::set<std::string> formats;
  std::vector<std::string> ranges;
  for (const std::string& t : texts) {
    formats.insert(t.substr(0, t.find('\n')));
    ranges.push_back(t.substr(t.find('\n') + 1));
  }
  EXPECT_EQ(formats.size(), 1u);
  ExpectTiles(Parse(ranges), 4 * 20 * 7);
  auto store = OpenStore(url, kDefault7);
  EXPECT_EQ(store->Namespaces(),
            (std::vector<std::string>{"default", "invites"}));
  EXPECT_EQ(store->Next(), 0u);
}

// forge-ctl opens with key_length 0: whatever the store holds, but it
// never creates a store.
TEST_P(NamespaceTest, KeyLengthZeroTakesTheStoredFormatAndNeverCreates) {
  const std::string url = NewUrl();
  const StoreFormat any = Format(0, keys::KeyOrder::kScrambled);
  const StoreError none = ErrorFrom([&] { OpenStore(url, any); });
  EXPECT_FALSE(none.transient());
  EXPECT_TRUE(Has(none.what(),
                  "has no key space yet; start forge-broker "
                  "once to create it"))
      << none.what();
  if (GetParam() == Backend::kSqlite) {
    EXPECT_FALSE(std::filesystem::exists(url.substr(7))) << "file created";
  }
  OpenStore(url, kOrders8)->Reserve(3);
  auto store = OpenStore(url, any);
  EXPECT_EQ(store->format().key_length, 8);
  EXPECT_EQ(store->format().order, keys::KeyOrder::kSequential);
  EXPECT_EQ(store->Next(), 3u);
  // It may create a namespace, with the format asked for.
  EXPECT_EQ(OpenSpace(*store, "invites", &kInvites10)->format().key_length, 10);
}

FORGE_ON_BOTH_STORES(NamespaceTest);

}  // namespace
}  // namespace forge::store::store_test
