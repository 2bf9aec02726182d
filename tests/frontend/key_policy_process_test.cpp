// Key policy (issue 14) through the real forge-frontend: the real broker
// serves "default"; the test plays the broker of namespaces with other key
// formats (tests/frontend/fake_broker.h), pushing keys that their
// segment's own codec (shm::SegmentCodec) spells. Covers keys longer than
// 15 characters (several ring slots) on /get-key (fast path) and
// /get-keys, GET /check-key (JSON, number per token and order, 400, 404),
// and forge_keys_blocked_total.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "base/names.h"
#include "keys/alphabet.h"
#include "keys/key_codec.h"
#include "shm/segment_codec.h"
#include "tests/frontend/fake_broker.h"
#include "tests/frontend/ops_fixture.h"

namespace forge::ops {
namespace {

using frontend::testing::FakeBroker;

constexpr const char* kGlobal = "Bearer global-token-0123456789";
constexpr const char* kInvites = "Bearer invites-token-0123456789";
constexpr const char* kOrders = "Bearer orders-token-0123456789";

shm::SegmentSpec SpecOf(const std::string& alphabet, std::uint32_t digits,
                        keys::CheckKind check, const std::string& prefix,
                        std::uint32_t order) {
  std::string why;
  shm::SegmentSpec s;
  s.capacity = 1024;
  s.key_length = digits;
  s.key_order = order;
  s.policy.alphabet = *keys::Alphabet::Parse(alphabet, &why);
  s.policy.check = check;
  s.policy.prefix = prefix;
  s.key_space =
      keys::KeySpace(s.policy.alphabet.size(), static_cast<int>(digits));
  s.secret = order == 0 ? 0x0badc0ffee123457ULL : 0;
  s.store = "sqlite:/tmp/test.db";
  return s;
}

class KeyPolicyProcessTest : public OpsProcessTest {
 protected:
  std::string SegmentOf(const std::string& ns) const {
    return base::NamespaceSegmentName(shm(), ns);
  }
  // Pushes the keys of numbers first.. as the segment's codec spells them.
  static std::vector<std::string> PushNumbers(FakeBroker& broker, int first,
                                              int n) {
    const keys::KeyCodec codec = shm::SegmentCodec(broker.seg);
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i) texts.push_back(codec.Encode(first + i));
    broker.PushTexts(texts);
    return texts;
  }
};

TEST_F(KeyPolicyProcessTest, KeysLongerThanASlotAreServedWhole) {
  StartBoth();
  ASSERT_TRUE(WaitWorkersAttached());
  // digits 18 + luhn + "inv_": 23 characters, two ring slots each.
  FakeBroker codes(SegmentOf("codes"),
                   SpecOf("digits", 18, keys::CheckKind::kLuhn, "inv_", 0));
  const std::vector<std::string> pushed = PushNumbers(codes, 0, 200);
  ASSERT_EQ(pushed[0].size(), 23u);

  HttpResponse r = Get(port(), "/get-key?ns=codes");  // the fast path
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, pushed[0]);
  r = Get(port(), "/get-keys?ns=codes&count=5");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Lines(r.body),
            std::vector<std::string>(pushed.begin() + 1, pushed.begin() + 6));
  // The rest, through every worker, each key whole and once.
  std::vector<std::string> served;
  for (int i = 0; i < 20; ++i) {
    r = Get(port(), "/get-keys?ns=codes&count=7");
    ASSERT_EQ(r.status, 200) << r.body;
    for (const std::string& k : Lines(r.body)) served.push_back(k);
  }
  EXPECT_EQ(served,
            std::vector<std::string>(pushed.begin() + 6, pushed.begin() + 146));
  r = Get(port(), "/get-key");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(IsKey(r.body)) << "default: 7 characters, as before";
}

TEST_F(KeyPolicyProcessTest, CheckKeyAnswersForABase58LuhnPrefixNamespace) {
  testing::WriteFile(dir() / "tokens",
                     "invites-token-0123456789 invites\n"
                     "orders-token-0123456789 orders\n");
  StartBoth({{"AUTH_TOKEN", "global-token-0123456789"},
             {"AUTH_TOKENS_FILE", "tokens"}});
  // base58 + luhn + "invite_": 18 characters (two slots), scrambled.
  FakeBroker invites(
      SegmentOf("invites"),
      SpecOf("base58", 10, keys::CheckKind::kLuhn, "invite_", 0));
  FakeBroker orders(SegmentOf("orders"),
                    SpecOf("base36", 8, keys::CheckKind::kNone, "", 1));
  const keys::KeyCodec codec = shm::SegmentCodec(invites.seg);
  const std::string good = codec.Encode(4242);
  ASSERT_EQ(good.size(), 18u);
  const auto check = [&](const std::string& ns, const std::string& key,
                         const std::string& token = "") {
    return Request("/check-key?ns=" + ns + "&key=" + key, token);
  };

  const std::string bare =
      R"({"namespace":"invites","well_formed":true,"check_ok":true})"
      "\n";
  const std::string numbered =
      R"({"namespace":"invites","well_formed":true,"check_ok":true,"number":4242})"
      "\n";
  HttpResponse r = check("invites", good);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.body, bare) << "no token: no number of a scrambled key";
  EXPECT_EQ(check("invites", good, kGlobal).body, numbered);
  EXPECT_EQ(check("invites", good, kInvites).body, numbered);
  EXPECT_EQ(check("invites", good, kOrders).body, bare)
      << "a token of another namespace does not reveal it";
  EXPECT_EQ(check("invites", good.substr(7), kGlobal).body, numbered)
      << "without the prefix";

  std::string typo = good;
  typo[9] = typo[9] == 'z' ? 'y' : 'z';
  EXPECT_EQ(check("invites", typo, kGlobal).body,
            R"({"namespace":"invites","well_formed":true,"check_ok":false})"
            "\n");
  EXPECT_EQ(check("invites", "invite_0OIl", kGlobal).body,
            R"({"namespace":"invites","well_formed":false,"check_ok":false})"
            "\n");

  // Sequential numbers are no secret: shown without a token.
  EXPECT_EQ(
      check("orders", "0000000z").body,
      R"({"namespace":"orders","well_formed":true,"check_ok":true,"number":35})"
      "\n");

  r = Request("/check-key?ns=invites");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.rfind("key is missing", 0), 0u) << r.body;
  EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << "one line";
  r = check("nosuch", good);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "namespace \"nosuch\" is not served here\n");
}

TEST_F(KeyPolicyProcessTest, KeysBlockedAreExportedPerNamespace) {
  StartBoth();
  FakeBroker invites(
      SegmentOf("invites"),
      SpecOf("base58", 10, keys::CheckKind::kLuhn, "invite_", 0));
  invites.seg.broker().keys_blocked.store(17);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Scrape().samples.count(
                   R"(forge_keys_blocked_total{namespace="invites"})") == 1;
      },
      kDeadline));
  const Exposition e = Scrape();
  EXPECT_EQ(e.samples.at(R"(forge_keys_blocked_total{namespace="invites"})"),
            17);
  EXPECT_EQ(e.samples.at(R"(forge_keys_blocked_total{namespace="default"})"),
            0);
  EXPECT_EQ(e.families.at("forge_keys_blocked"), "counter");
}

}  // namespace
}  // namespace forge::ops
