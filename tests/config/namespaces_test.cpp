// Namespaces in the configuration: config.yml's `namespaces:` map,
// NAMESPACES, NS_POOL_CAPACITY and AUTH_TOKENS_FILE — what loads, and the
// one-line message (file:line, what, what is allowed) for what does not.
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "keys/alphabet.h"
#include "keys/blocklist.h"
#include "keys/key_codec.h"
#include "tests/config/fixture.h"

namespace forge::config::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(ConfigTest, NamespacesMapDeclaresEachWithItsFields) {
  Write("config/config.yml",
        "namespaces:\n"
        "  invites: { key_length: 10, key_order: scrambled }\n"
        "  orders:  { key_length: 8,  key_order: SEQUENTIAL, "
        "pool_capacity: 1024 }\n"
        "  plain:\n");
  const Config cfg = Load();
  ASSERT_EQ(cfg.namespaces.size(), 3u);
  EXPECT_EQ(cfg.namespaces[0].name, "invites");
  EXPECT_EQ(cfg.namespaces[0].key_length, 10);
  EXPECT_EQ(cfg.namespaces[0].key_order, KeyOrder::kScrambled);
  EXPECT_EQ(cfg.namespaces[0].pool_capacity, 0u);  // NS_POOL_CAPACITY
  EXPECT_EQ(cfg.namespaces[1].name, "orders");
  EXPECT_EQ(cfg.namespaces[1].key_length, 8);
  EXPECT_EQ(cfg.namespaces[1].key_order, KeyOrder::kSequential);
  EXPECT_EQ(cfg.namespaces[1].pool_capacity, 1024u);
  EXPECT_EQ(cfg.namespaces[2].name, "plain");
  EXPECT_EQ(cfg.namespaces[2].key_length, 7);
}

TEST_F(ConfigTest, NamespaceFieldsExpandVariables) {
  env_.vars["INVITE_LEN"] = "9";
  Write("config/config.yml",
        "NAMESPACES:\n  invites: { KEY_LENGTH: \"${INVITE_LEN}\" }\n");
  const Config cfg = Load();
  ASSERT_EQ(cfg.namespaces.size(), 1u);
  EXPECT_EQ(cfg.namespaces[0].key_length, 9);
}

TEST_F(ConfigTest, BadNamespaceDeclarationsNameFileLineAndRule) {
  struct Case {
    std::string yml;
    std::vector<std::string> parts;
  };
  for (const Case& c : {
           Case{"namespaces:\n  Invites: {}\n",
                {"config.yml:2", "\"Invites\" is not allowed",
                 "starting with a letter or digit"}},
           Case{"namespaces:\n  default: { key_length: 9 }\n",
                {"config.yml:2", "namespace default is declared",
                 "KEY_LENGTH, KEY_ORDER and POOL_CAPACITY"}},
           Case{"namespaces:\n  a: {}\n  a: {}\n",
                {"config.yml:3", "declared again (first on line 2)"}},
           Case{"namespaces:\n  a: { key_length: 11 }\n",
                {"config.yml:2",
                 "namespace a key_length=\"11\" is out of "
                 "range",
                 "integer 1..10"}},
           Case{"namespaces:\n  a: { Alphabet: base58, CHECK: luhn }\n  b: "
                "{ colour: red }\n",
                {"config.yml:3", "unknown field \"colour\"",
                 "key_length, key_order, pool_capacity, alphabet, check, "
                 "prefix, blocklist"}},
           Case{"namespaces:\n  a: { key_order: random }\n",
                {"config.yml:2", "key_order", "scrambled or sequential"}},
           Case{"namespaces:\n  a: { pool_capacity: 1000 }\n",
                {"config.yml:2", "is not a power of two"}},
           Case{"namespaces:\n  a: { colour: red }\n",
                {"config.yml:2", "unknown field \"colour\"", "key_length"}},
           Case{"namespaces:\n  a: 7\n", {"config.yml:2", "not a map"}},
           Case{"namespaces: invites\n",
                {"config.yml:1", "set NAMESPACES in the environment"}},
       }) {
    Write("config/config.yml", c.yml);
    const std::string error = LoadError();
    for (const std::string& part : c.parts) {
      EXPECT_THAT(error, HasSubstr(part)) << c.yml;
    }
  }
}

TEST_F(ConfigTest, NamespacePolicyFieldsAreRead) {
  Write("config/words.txt", "# pets\nCat\n\ndog\n");
  Write("config/config.yml",
        "namespaces:\n"
        "  invites: { alphabet: base58, check: luhn, prefix: inv_, "
        "blocklist: none }\n"
        "  pins:    { alphabet: digits, key_length: 18 }\n"
        "  codes:   { alphabet: abcdefgh-_, key_length: 12, blocklist: "
        "words.txt }\n"
        "  plain:\n");
  const Config cfg = Load();
  ASSERT_EQ(cfg.namespaces.size(), 4u);
  const NamespaceDecl& invites = cfg.namespaces[0];
  EXPECT_EQ(invites.policy.alphabet.spec(), "base58");
  EXPECT_EQ(invites.policy.check, keys::CheckKind::kLuhn);
  EXPECT_EQ(invites.policy.prefix, "inv_");
  EXPECT_EQ(invites.blocklist.kind, keys::BlocklistKind::kNone);
  const NamespaceDecl& pins = cfg.namespaces[1];
  EXPECT_EQ(pins.policy.alphabet.spec(), "digits");
  EXPECT_EQ(pins.key_length, 18);  // beyond base62's 10: digits allow 18
  EXPECT_EQ(pins.blocklist.kind, keys::BlocklistKind::kDefault);
  const NamespaceDecl& codes = cfg.namespaces[2];
  EXPECT_EQ(codes.policy.alphabet.spec(), "abcdefgh-_");
  EXPECT_EQ(codes.key_length, 12);
  // The file is relative to config.yml's folder, read at load.
  EXPECT_EQ(codes.blocklist.kind, keys::BlocklistKind::kCustom);
  EXPECT_EQ(codes.blocklist.words, (std::vector<std::string>{"cat", "dog"}));
  const NamespaceDecl& plain = cfg.namespaces[3];
  EXPECT_EQ(plain.policy, keys::KeyPolicy{});
  EXPECT_EQ(plain.blocklist.kind, keys::BlocklistKind::kDefault);
}

TEST_F(ConfigTest, BadNamespacePoliciesNameFileLineAndRule) {
  Write("config/words.txt", "dog\nC4t\n");
  Write("config/pets.txt", "dog\n");
  struct Case {
    std::string fields;
    std::vector<std::string> parts;
  };
  for (const Case& c : {
           Case{"alphabet: aab",
                {"namespace a alphabet=\"aab\"",
                 std::string(keys::kAlphabetRule)}},
           Case{"alphabet: \"\"",
                {"alphabet=\"\"", std::string(keys::kAlphabetRule)}},
           Case{
               "check: crc",
               {"check=\"crc\" is not a check", std::string(keys::kCheckRule)}},
           Case{"alphabet: abc, check: luhn",
                {"check=\"luhn\" does not fit the alphabet: check luhn needs "
                 "an alphabet of even size",
                 "none, or luhn with an alphabet of even size"}},
           Case{"prefix: in v",
                {"prefix=\"in v\" is not a key prefix",
                 std::string(keys::kPrefixRule)}},
           Case{"prefix: abcdefghijklmnopq", {std::string(keys::kPrefixRule)}},
           Case{"alphabet: digits, key_length: 19",
                {"key_length=\"19\" is out of range (digits keys are 1 to 18 "
                 "characters long",
                 "integer 1..18 for alphabet digits"}},
           Case{"key_length: 11",
                {"base62 keys are 1 to 10",
                 "integer 1..10 for alphabet base62"}},
           Case{"alphabet: base36, key_length: x",
                {"key_length=\"x\" is not an integer", "integer 1..12"}},
           Case{"blocklist: nope.txt",
                {"blocklist=\"nope.txt\" names a file that does not exist",
                 std::string(keys::kBlocklistRule)}},
           Case{"blocklist: words.txt",
                {"blocklist=\"words.txt\" is not a word file: ",
                 "words.txt:2: ", std::string(keys::kBlocklistRule)}},
           Case{"prefix: d0g_, blocklist: pets.txt",
                {"prefix=\"d0g_\" contains the blocked word \"dog\"",
                 "a prefix without a word of the namespace's blocklist"}},
       }) {
    Write("config/config.yml", "namespaces:\n  a: { " + c.fields + " }\n");
    const std::string error = LoadError();
    EXPECT_THAT(error, HasSubstr("config.yml:2")) << c.fields;
    for (const std::string& part : c.parts) {
      EXPECT_THAT(error, HasSubstr(part)) << c.fields;
    }
  }
}

TEST_F(ConfigTest, NamespacesListsTheServedOnes) {
  env_.vars["NAMESPACES"] = "default, invites,orders";
  EXPECT_EQ(Load().serve_namespaces,
            (std::vector<std::string>{"default", "invites", "orders"}));
  EXPECT_EQ(Load({"--namespaces", "x"}).serve_namespaces,
            (std::vector<std::string>{"x"}));
  for (const char* bad : {"", "a,,b", "a,A", "a,a", "a b"}) {
    env_.vars["NAMESPACES"] = bad;
    EXPECT_THAT(LoadError(),
                AllOf(HasSubstr("NAMESPACES="),
                      HasSubstr("starting with a letter or digit")))
        << bad;
  }
}

TEST_F(ConfigTest, NsPoolCapacityIsAPowerOfTwo) {
  env_.vars["NS_POOL_CAPACITY"] = "256";
  EXPECT_EQ(Load().ns_pool_capacity, 256u);
  env_.vars["NS_POOL_CAPACITY"] = "300";
  EXPECT_THAT(LoadError(), HasSubstr("is not a power of two"));
}

TEST_F(ConfigTest, ScopedTokensFileIsReadAtLoad) {
  Write("tokens",
        "# comment\n\n"
        "invites-token-0123456789 invites\n"
        "  both-token-0123456789abc   invites, orders  \n");
  env_.vars["AUTH_TOKENS_FILE"] = "tokens";
  const Config cfg = Load();
  ASSERT_EQ(cfg.scoped_tokens.size(), 2u);
  EXPECT_EQ(cfg.scoped_tokens[0].token, "invites-token-0123456789");
  EXPECT_EQ(cfg.scoped_tokens[0].namespaces,
            (std::vector<std::string>{"invites"}));
  EXPECT_EQ(cfg.scoped_tokens[1].token, "both-token-0123456789abc");
  EXPECT_EQ(cfg.scoped_tokens[1].namespaces,
            (std::vector<std::string>{"invites", "orders"}));
}

TEST_F(ConfigTest, BadScopedTokensFilesNameTheLineNotTheToken) {
  const std::string secret = "very-secret-token-0123";
  env_.vars["AUTH_TOKEN"] = "the-global-token-0123456";
  env_.vars["AUTH_TOKENS_FILE"] = "tokens";
  struct Case {
    std::string text;
    std::string part;
  };
  for (const Case& c : {
           Case{"\n" + secret + "\n", "tokens:2: the token has no namespaces"},
           Case{secret + " Invites\n", "\"Invites\" is not allowed"},
           Case{"short x\n", "the token is 5 characters long"},
           Case{secret + " a\n" + secret + " b\n",
                "tokens:2: this token is listed again"},
           Case{"the-global-token-0123456 a\n", "this token is AUTH_TOKEN"},
           Case{"# nothing\n", "has no tokens"},
       }) {
    Write("tokens", c.text);
    const std::string error = LoadError();
    EXPECT_THAT(error, HasSubstr(c.part)) << c.text;
    EXPECT_THAT(error, Not(HasSubstr(secret)));
  }
  env_.vars["AUTH_TOKENS_FILE"] = "missing";
  EXPECT_THAT(LoadError(), HasSubstr("names a file that does not exist"));
}

}  // namespace
}  // namespace forge::config::test
