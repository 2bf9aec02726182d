// GET /check-key through the Router (issue 14): the JSON answer, when the
// number is shown (sequential order, or a token that reaches the
// namespace), no token needed to call it, 400 for a missing key, 404 for an
// unknown namespace, 503 while detached; and long keys from /get-key(s).
#include <gtest/gtest.h>

#include <string>

#include "frontend/handlers.h"
#include "keys/alphabet.h"
#include "keys/key_codec.h"
#include "tests/frontend/fake_backend.h"

namespace forge::frontend {
namespace {

using testing::FakeBackend;
using testing::FakeNamespaces;
using testing::HealthySnapshot;

constexpr const char* kGlobal = "Bearer global-token-0123456789";
constexpr const char* kInvites = "Bearer invites-token-0123456789";
constexpr const char* kOrders = "Bearer orders-token-0123456789";

keys::KeyCodec InviteCodec(keys::KeyOrder order) {
  std::string why;
  keys::KeyPolicy policy;
  policy.alphabet = *keys::Alphabet::Parse("base58", &why);
  policy.check = keys::CheckKind::kLuhn;
  policy.prefix = "inv_";
  return keys::KeyCodec(8, order, 0x1234abcdULL, policy);
}

class CheckKeyTest : public ::testing::Test {
 protected:
  CheckKeyTest() {
    default_.SetSnapshot(HealthySnapshot());
    default_.SetCodec(keys::KeyCodec(7, keys::KeyOrder::kSequential, 0));
    invites_.SetCodec(InviteCodec(keys::KeyOrder::kScrambled));
    namespaces_.Add("invites", invites_);
  }

  Reply Check(const std::string& ns, const std::string& key,
              std::string_view authorization = "") const {
    QueryParams q{{"key", key}};
    if (!ns.empty()) q.emplace("ns", ns);
    return router_.Handle("GET", "/check-key", q, authorization);
  }

  FakeBackend default_;
  FakeBackend invites_;
  FakeNamespaces namespaces_{default_};
  Router router_{
      namespaces_, RouterLimits{100},
      AuthPolicy{.token = "global-token-0123456789",
                 .scoped = {{"invites-token-0123456789", {"invites"}},
                            {"orders-token-0123456789", {"orders"}}},
                 .tokens_file = true}};
};

TEST_F(CheckKeyTest, AnswersJsonAndShowsAScrambledNumberOnlyToATokenOfItsNs) {
  const keys::KeyCodec codec = InviteCodec(keys::KeyOrder::kScrambled);
  const std::string good = codec.Encode(123456);
  ASSERT_EQ(good.size(), 4u + 8u + 1u);
  ASSERT_EQ(good.substr(0, 4), "inv_");

  Reply r = Check("invites", good);  // no token: allowed, no number
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\"namespace\":\"invites\",\"well_formed\":true,"
            "\"check_ok\":true}\n");
  const std::string with_number =
      "{\"namespace\":\"invites\",\"well_formed\":true,\"check_ok\":true,"
      "\"number\":123456}\n";
  EXPECT_EQ(Check("invites", good, kGlobal).body, with_number);
  EXPECT_EQ(Check("invites", good, kInvites).body, with_number);
  EXPECT_EQ(Check("invites", good.substr(4), kInvites).body, with_number)
      << "the prefix may be left out";
  const std::string no_number =
      "{\"namespace\":\"invites\",\"well_formed\":true,\"check_ok\":true}\n";
  EXPECT_EQ(Check("invites", good, kOrders).body, no_number)
      << "a scoped token of another namespace does not reveal it";
  EXPECT_EQ(Check("invites", good, "Bearer wrong-token-0123456789").body,
            no_number);
  EXPECT_EQ(Check("invites", good, "Basic Z2xvYmFs").body, no_number);
}

TEST_F(CheckKeyTest, TyposAndMalformedKeys) {
  const keys::KeyCodec codec = InviteCodec(keys::KeyOrder::kScrambled);
  std::string typo = codec.Encode(99);
  typo[6] = typo[6] == 'a' ? 'b' : 'a';  // one character changed
  EXPECT_EQ(Check("invites", typo, kGlobal).body,
            "{\"namespace\":\"invites\",\"well_formed\":true,"
            "\"check_ok\":false}\n");
  for (const std::string bad : {"inv_0OIl0OIl0", "short", "", "inv_"}) {
    EXPECT_EQ(Check("invites", bad, kGlobal).body,
              "{\"namespace\":\"invites\",\"well_formed\":false,"
              "\"check_ok\":false}\n")
        << bad;
  }
}

TEST_F(CheckKeyTest, SequentialNumbersAreNoSecret) {
  EXPECT_EQ(Check("", "000000Z").body,
            "{\"namespace\":\"default\",\"well_formed\":true,"
            "\"check_ok\":true,\"number\":35}\n");
  EXPECT_EQ(Check("default", "00000!Z").body,
            "{\"namespace\":\"default\",\"well_formed\":false,"
            "\"check_ok\":false}\n");
}

TEST_F(CheckKeyTest, MissingKeyUnknownNamespaceAndDetached) {
  Reply r = router_.Handle("GET", "/check-key", {{"ns", "invites"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.rfind("key is missing: use /check-key?key=KEY", 0), 0u)
      << r.body;
  EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << "one line";
  r = router_.Handle("GET", "/check-key", {{"key", "a"}, {"key", "b"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("key is given 2 times"), std::string::npos);
  r = Check("orders", "abc");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "namespace \"orders\" is not served here\n");
  EXPECT_EQ(Check("Bad!", "abc").status, 400);
  EXPECT_EQ(router_.Handle("POST", "/check-key", {{"key", "a"}}).status, 405);

  FakeBackend detached;  // no codec: no segment attached
  namespaces_.Add("later", detached);
  EXPECT_EQ(Check("later", "abc").status, 503);
}

TEST_F(CheckKeyTest, ProtectAllAsksForATokenHereToo) {
  Router all{
      namespaces_, RouterLimits{100},
      AuthPolicy{.token = "global-token-0123456789", .protect_all = true}};
  QueryParams q{{"key", "000000Z"}};
  EXPECT_EQ(all.Handle("GET", "/check-key", q).status, 401);
  EXPECT_EQ(all.Handle("GET", "/check-key", q, kGlobal).status, 200);
}

// Keys of more than 15 characters (several ring slots) come out whole.
TEST(LongKeysTest, GetKeyAndGetKeysServeLongKeysWhole) {
  FakeBackend backend;
  backend.SwapLengthAfterTake(23);
  Router router{backend, RouterLimits{100}};
  EXPECT_EQ(router.Handle("GET", "/get-key", {}).body, "k000000");
  Reply r = router.Handle("GET", "/get-key", {});
  EXPECT_EQ(r.body, "k0000000000000000000001");
  r = router.Handle("GET", "/get-keys", {{"count", "3"}});
  EXPECT_EQ(r.body,
            "k0000000000000000000002\nk0000000000000000000003\n"
            "k0000000000000000000004\n");
}

}  // namespace
}  // namespace forge::frontend
