// forge-ctl and the key policy of a namespace (issue 14), through the real
// binary against a real store (SQLite and PostgreSQL): namespace create
// --alphabet/--check/--prefix/--blocklist, namespace blocklist, the policy
// in list/show, and decode/encode with prefix, check character and
// blocklist; check-key from a segment; keys_blocked in stats.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "base/names.h"
#include "keys/alphabet.h"
#include "keys/blocklist.h"
#include "shm/segment.h"
#include "stats/stats.h"
#include "store/range_store.h"
#include "tests/ctl/ctl_fixture.h"
#include "tests/support/process.h"

namespace forge::testing {
namespace {

class PolicyCtlTest : public NamespaceCtlTest {
 protected:
  // `words` one per line in FILE (in the test's directory, where forge-ctl
  // runs); returns FILE's name.
  std::string WordsFile(const std::string& file, const std::string& words) {
    WriteFile(dir() / file, words);
    return file;
  }

  // The store's policy generation, read as a broker reads it.
  std::uint64_t Generation() {
    store::StoreFormat any;
    any.key_length = 0;  // whatever the store holds
    return store::OpenStore(DbUrl(), any)->PolicyGeneration();
  }

  // Expects exit 0 and `want` in stdout.
  RunResult ExpectOk(const std::vector<std::string>& args,
                     const std::string& want) {
    const RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
    return r;
  }
};

const std::string kBase58Chars =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

// Every policy option, then the keys of that namespace traced both ways.
TEST_P(PolicyCtlTest, CreateWithAlphabetCheckPrefixBlocklist) {
  RunResult r = ExpectOk(
      {"namespace", "create", "invites", "--key-length", "8", "--alphabet",
       "base58", "--check", "luhn", "--prefix", "inv_", "--blocklist", "none"},
      "created namespace \"invites\" in ");
  EXPECT_NE(r.out.find(", blocklist none, keys like inv_"), std::string::npos)
      << r.out;
  const RunResult show = ExpectOk(
      {"namespace", "show", "invites"},
      "alphabet         base58 (58 characters: " + kBase58Chars + ")\n");
  for (const std::string& want : std::vector<std::string>{
           "check            luhn\n", "prefix           \"inv_\"\n",
           "blocklist        none\n", "example key      inv_",
           "key space        " + std::to_string(keys::KeySpace(58, 8)) +
               "\n"}) {
    EXPECT_NE(show.out.find(want), std::string::npos) << want << show.out;
  }
  const std::vector<std::string> row = ListRow("invites");
  ASSERT_EQ(row.size(), 13u);
  EXPECT_EQ(std::vector<std::string>(row.begin() + 1, row.begin() + 7),
            (std::vector<std::string>{"8", "scrambled", "base58", "luhn",
                                      "inv_", "none"}));
  EXPECT_EQ(row[7].size(), 13u) << "inv_ + 8 digits + 1 check: " << row[7];
  EXPECT_EQ(row[8], std::to_string(keys::KeySpace(58, 8)));

  r = ExpectOk({"encode", "--ns", "invites", "5"}, "inv_");
  ASSERT_EQ(r.out.size(), 14u) << r.out;
  const std::string key = r.out.substr(0, 13);
  EXPECT_EQ(key.find_first_not_of(kBase58Chars, 4), std::string::npos);
  EXPECT_EQ(Ctl({"decode", "--ns", "invites", key}).out, "5\n");
  EXPECT_EQ(Ctl({"decode", "--ns", "invites", key.substr(4)}).out, "5\n")
      << "the prefix may be left out";
  std::string typo = key;
  typo[6] = typo[6] == 'z' ? 'y' : 'z';
  ExpectRefused({"decode", "--ns", "invites", typo},
                "has the wrong check character (luhn): a character was "
                "mistyped or swapped");
  ExpectRefused({"decode", "--ns", "invites", "xyz_" + key.substr(4)},
                "does not start with the prefix \"inv_\" of namespace");
  ExpectRefused({"decode", "--ns", "invites", key.substr(0, 12) + "0"},
                "has \"0\" at position 13; allowed characters: " +
                    kBase58Chars + " (base58)");
  ExpectRefused({"decode", "--ns", "invites", "inv_123"},
                "has 7 characters; keys of namespace \"invites\" have 13 "
                "(prefix \"inv_\", KEY_LENGTH=8, alphabet base58, a check "
                "character), or 9 without the prefix");
  ExpectRefused(
      {"encode", "--ns", "invites", std::to_string(keys::KeySpace(58, 8))},
      "allowed: 0.." + std::to_string(keys::KeySpace(58, 8) - 1) +
          " (KEY_LENGTH=8, alphabet base58)");
}

// --key-length after `create` may pass KEY_LENGTH's 1..10 when the
// alphabet allows it; decoding takes the alphabet's other spellings.
TEST_P(PolicyCtlTest, LongerKeysAndOtherSpellings) {
  ExpectOk({"namespace", "create", "digits", "--alphabet", "digits",
            "--key-length", "18", "--key-order", "sequential"},
           "created namespace \"digits\"");
  EXPECT_EQ(Ctl({"encode", "--ns", "digits", "42"}).out,
            "000000000000000042\n");
  ExpectOk({"namespace", "create", "codes", "--alphabet", "crockford32",
            "--key-length", "6", "--key-order", "sequential"},
           "created namespace \"codes\"");
  EXPECT_EQ(Ctl({"encode", "--ns", "codes", "33"}).out, "000011\n");
  for (const std::string typed : {"000011", "oOo0iL", "0o00l1", "OOOO1I"}) {
    EXPECT_EQ(Ctl({"decode", "--ns", "codes", typed}).out, "33\n") << typed;
  }
}

TEST_P(PolicyCtlTest, BadPolicyOptionsExit2WithOneLine) {
  const std::vector<std::string> create{"namespace", "create", "invites"};
  const std::string alphabets(keys::kAlphabetRule);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--alphabet", "aab"}, "--alphabet \"aab\": "},
      {{"--alphabet", "aab"}, "; allowed: " + alphabets},
      {{"--alphabet", "ab/"}, "; allowed: " + alphabets},
      {{"--check", "crc"}, "--check \"crc\": allowed: none or luhn"},
      {{"--prefix", "in v"},
       "--prefix \"in v\": allowed: " + std::string(keys::kPrefixRule)},
      {{"--prefix", std::string(17, 'p')}, std::string(keys::kPrefixRule)},
      {{"--key-length", "11"},
       "--key-length \"11\": base62 keys are 1 to 10 characters long"},
      {{"--alphabet", "digits", "--key-length", "19"},
       "digits keys are 1 to 18 characters long"},
      {{"--alphabet", "abc", "--check", "luhn"},
       "--check \"luhn\": check luhn needs an alphabet of even size"},
      {{"--blocklist", "missing.txt"},
       "--blocklist \"missing.txt\": no such file; allowed: " +
           std::string(keys::kBlocklistRule)},
      {{"--blocklist", "."}, "--blocklist \".\": cannot be read ("},
      {{"--blocklist", WordsFile("bad.txt", "# words\nok\nx1\n")},
       "--blocklist: bad.txt:3"},
      {{"--prefix", "inv_", "--blocklist", WordsFile("inv.txt", "zz\ninv\n")},
       "prefix \"inv_\" contains \"inv\", a word of blocklist custom (2 "
       "words) (--blocklist)"},
  };
  for (const auto& [options, want] : cases) {
    std::vector<std::string> args = create;
    args.insert(args.end(), options.begin(), options.end());
    ExpectRefused(args, want);
  }
  EXPECT_EQ(Ctl({"namespace", "list"}).out.find("\ninvites "),
            std::string::npos)
      << "nothing was created";
}

// Alphabet, check and prefix are fixed at creation like length and order;
// the blocklist is not part of the format.
TEST_P(PolicyCtlTest, FormatIsFixedPerField) {
  const std::vector<std::string> create{"namespace",  "create",   "invites",
                                        "--alphabet", "base58",   "--check",
                                        "luhn",       "--prefix", "inv_"};
  ExpectOk(create, "created namespace \"invites\"");
  ExpectOk(create, "namespace \"invites\" exists already in ");
  std::vector<std::string> args = create;
  args.insert(args.end(), {"--blocklist", "none"});
  const RunResult r = ExpectOk(args, "; its blocklist stays default (");
  EXPECT_NE(r.out.find("(forge-ctl namespace blocklist invites none changes "
                       "it)\n"),
            std::string::npos)
      << r.out;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--alphabet", "base62", "--check", "luhn", "--prefix", "inv_"},
       "exists with alphabet=base58, not base62 (--alphabet)"},
      {{"--alphabet", "base58", "--check", "none", "--prefix", "inv_"},
       "exists with check=luhn, not none (--check)"},
      {{"--alphabet", "base58", "--check", "luhn", "--prefix", "inv-"},
       "exists with prefix=\"inv_\", not \"inv-\" (--prefix)"},
      {{"--alphabet", "base58", "--check", "luhn"},
       "exists with prefix=\"inv_\", not \"\" (--prefix)"},
  };
  for (const auto& [options, want] : cases) {
    args = {"namespace", "create", "invites"};
    args.insert(args.end(), options.begin(), options.end());
    ExpectRefused(args, want +
                            "; a namespace's format is fixed when it is "
                            "created");
  }
  ExpectRefused({"namespace", "create", "default", "--alphabet", "base36"},
                "namespace \"default\" exists with alphabet=base62, not "
                "base36 (--alphabet)");
}

// namespace blocklist: old -> new, the store's generation moves only when
// the list changes.
TEST_P(PolicyCtlTest, BlocklistCommandReplacesTheList) {
  ExpectOk({"namespace", "create", "invites"}, "blocklist default (");
  EXPECT_EQ(ListRow("invites")[6], "default");
  EXPECT_EQ(ListRow("default")[6], "none") << "default opts in explicitly";
  std::uint64_t generation = Generation();
  RunResult r = ExpectOk({"namespace", "blocklist", "invites", "none"},
                         "namespace \"invites\" blocklist: default (");
  EXPECT_NE(r.out.find(" words) -> none; brokers serving it apply it within "
                       "about a second"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Generation(), ++generation);
  ExpectOk({"namespace", "show", "invites"}, "blocklist        none\n");
  const std::string file = WordsFile("words.txt", "zz\n# a comment\nqq\n");
  ExpectOk({"namespace", "blocklist", "invites", file},
           "blocklist: none -> custom (2 words); brokers");
  EXPECT_EQ(Generation(), ++generation);
  EXPECT_EQ(ListRow("invites")[6], "custom(2)");
  ExpectOk({"namespace", "blocklist", "invites", file},
           "blocklist: custom (2 words) -> custom (2 words) (unchanged)\n");
  EXPECT_EQ(Generation(), generation) << "nothing written";
  ExpectOk({"namespace", "blocklist", "default", "default"},
           "namespace \"default\" blocklist: none -> default (");
  EXPECT_EQ(ListRow("default")[6], "default");

  ExpectRefused({"namespace", "blocklist", "nope", "none"},
                "has no namespace \"nope\"");
  ExpectRefused({"namespace", "blocklist", "invites", "missing.txt"},
                "LIST \"missing.txt\": no such file");
  ExpectRefused({"namespace", "blocklist", "Bad", "none"},
                "is not a namespace name");
  ExpectOk(
      {"namespace", "create", "pre", "--prefix", "zz-", "--blocklist", "none"},
      "created namespace \"pre\"");
  ExpectRefused({"namespace", "blocklist", "pre", file},
                "prefix \"zz-\" contains \"zz\", a word of blocklist custom "
                "(2 words) (LIST)");
  EXPECT_EQ(ListRow("pre")[6], "none");
}

// decode and encode say when the current blocklist would block a key,
// look-alikes included (5 reads as s, 0 as o).
TEST_P(PolicyCtlTest, DecodeAndEncodeSayWhenAKeyIsBlocked) {
  const std::string file = WordsFile("words.txt", "zz\nso\n");
  ExpectOk(
      {"namespace", "create", "codes", "--alphabet", "base36", "--key-length",
       "4", "--key-order", "sequential", "--blocklist", file},
      "blocklist custom (2 words)");
  const std::string blocked =
      " (blocklist custom (2 words)): a broker never issues this key\n";
  EXPECT_EQ(Ctl({"decode", "--ns", "codes", "00zz"}).out,
            "1295\nblocked: contains \"zz\"" + blocked);
  EXPECT_EQ(Ctl({"decode", "--ns", "codes", "00ZZ"}).out,
            "1295\nblocked: contains \"zz\"" + blocked)
      << "base36 reads upper case";
  EXPECT_EQ(Ctl({"encode", "--ns", "codes", "1295"}).out,
            "00zz\nblocked: contains \"zz\"" + blocked);
  EXPECT_EQ(Ctl({"decode", "--ns", "codes", "0050"}).out,
            "180\nblocked: contains \"so\"" + blocked);
  EXPECT_EQ(Ctl({"decode", "--ns", "codes", "00zy"}).out, "1294\n");
  ASSERT_EQ(Ctl({"namespace", "blocklist", "codes", "none"}).exit_code, 0);
  EXPECT_EQ(Ctl({"decode", "--ns", "codes", "00zz"}).out, "1295\n");
}

INSTANTIATE_TEST_SUITE_P(Stores, PolicyCtlTest,
                         ::testing::Values(StoreKind::kSqlite,
                                           StoreKind::kPostgres));

// check-key reads the format (policy and secret included) from the
// namespace's segment, never the store: it works with no store at all.
TEST_F(CtlTest, CheckKeyValidatesFromTheSegmentOnly) {
  std::string why;
  const keys::KeyPolicy policy{*keys::Alphabet::Parse("base58", &why),
                               keys::CheckKind::kLuhn, "inv_"};
  const std::uint64_t secret = 0x5eed5eed5eedULL;
  const shm::Segment seg = FakeBrokerSegment(
      base::NamespaceSegmentName(shm(), "invites"), "", 8, 0, policy, secret);
  const keys::KeyCodec codec(8, keys::KeyOrder::kScrambled, secret, policy);
  const std::string key = codec.Encode(42);
  const Env no_store{{"DB_URL", "sqlite:" + (dir() / "nowhere/forge.db")}};
  const auto check_key = [&](const std::string& typed) {
    return Ctl({"check-key", "--ns", "invites", typed}, no_store);
  };
  const std::string ok =
      R"({"namespace":"invites","well_formed":true,"check_ok":true,"number":42})"
      "\n";
  for (const std::string& typed : {key, key.substr(4)}) {
    const RunResult r = check_key(typed);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, ok) << typed;
  }
  std::string typo = key;
  typo[5] = typo[5] == 'z' ? 'y' : 'z';
  RunResult r = check_key(typo);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            R"({"namespace":"invites","well_formed":true,"check_ok":false})"
            "\n");
  for (const std::string& bad : {std::string("inv_12"), "0" + key.substr(5)}) {
    r = check_key(bad);
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_EQ(r.out,
              R"({"namespace":"invites","well_formed":false,"check_ok":false})"
              "\n");
  }

  r = Ctl({"check-key", "--ns", "orders", key});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_NE(
      r.err.find("namespace \"orders\" is not served under SHM_NAME=" + shm()),
      std::string::npos)
      << r.err;
  r = Ctl({"check-key", key});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, stats::MissingSegmentMessage(shm()) + "\n");
  r = Ctl({"check-key", "--ns", "Bad", key});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a namespace name"), std::string::npos);
  EXPECT_EQ(Ctl({"check-key"}).exit_code, 2) << "KEY is required";
}

// The default namespace's keys as today: sequential base62 decodes to its
// number.
TEST_F(CtlTest, CheckKeyOfTheDefaultNamespace) {
  const shm::Segment seg = FakeBrokerSegment(shm(), "", 7, 1);
  const RunResult r = Ctl({"check-key", "000000z"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      R"({"namespace":"default","well_formed":true,"check_ok":true,"number":61})"
      "\n");
}

// stats: the numbers each namespace's broker skipped for its blocklist.
TEST_F(CtlTest, StatsShowsKeysBlockedPerNamespace) {
  shm::Segment def = FakeBrokerSegment(shm(), "", 7, 1);
  shm::Segment invites =
      FakeBrokerSegment(base::NamespaceSegmentName(shm(), "invites"), "", 8, 0);
  def.broker().keys_produced.store(90);
  def.broker().keys_blocked.store(10);
  invites.broker().keys_blocked.store(3);
  const std::optional<json::Value> v = StatsJson();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("keys.blocked")->number, 10);
  EXPECT_EQ(v->At("key_space.usable_fraction")->number, 0.9);
  EXPECT_EQ(v->At("namespaces")->items[0].At("keys_blocked")->number, 10);
  EXPECT_EQ(v->At("namespaces")->items[1].At("keys_blocked")->number, 3);
  const RunResult t = Stats({"--interval", "0"});
  EXPECT_NE(t.out.find("keys blocked     10 (10% of the numbers used)\n"),
            std::string::npos)
      << t.out;
}

}  // namespace
}  // namespace forge::testing
