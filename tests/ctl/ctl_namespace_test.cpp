// forge-ctl namespace create|list|show and decode/encode --ns against a
// real store (SQLite and PostgreSQL) that a real forge-broker created.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/names.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "tests/ctl/ctl_fixture.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

// forge-ctl's store calls wait at most STORE_TIMEOUT_MS, as the broker's
// do: a store locked by someone else is a one-line failure naming it.
TEST_F(CtlTest, NamespaceCreateGivesUpAfterStoreTimeoutMs) {
  Process broker = StartBroker();
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kCtlDeadline), 0) << broker.Stderr();
  SQLite::Database db(DbPath(), SQLite::OPEN_READWRITE);
  SQLite::Transaction hold(db, SQLite::TransactionBehavior::IMMEDIATE);
  const RunResult r = Ctl({"namespace", "create", "held", "--key-length", "8"},
                          {{"STORE_TIMEOUT_MS", "150"}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("STORE_TIMEOUT_MS=150"), std::string::npos) << r.err;
}

TEST_P(NamespaceCtlTest, CreateListShow) {
  RunResult r = Create("invites", "10", "sequential");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("created namespace \"invites\" in ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(": KEY_LENGTH=10 KEY_ORDER=sequential, blocklist "
                       "default ("),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" words), keys like 0000000000\n"), std::string::npos)
      << r.out;
  ASSERT_EQ(Create("orders", "8", "scrambled").exit_code, 0);

  const RunResult list = Ctl({"namespace", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.rfind("namespace ", 0), 0u) << "header first";
  EXPECT_LT(list.out.find("\ndefault "), list.out.find("\ninvites "));
  EXPECT_LT(list.out.find("\ninvites "), list.out.find("\norders "));
  const std::vector<std::string> def = ListRow("default");
  ASSERT_EQ(def.size(), 12u) << "name length order alphabet check prefix "
                                "blocklist example space used (pct) state";
  EXPECT_EQ(def[1], "7");
  EXPECT_EQ(def[2], "scrambled");
  EXPECT_EQ(def[3], "base62");
  EXPECT_EQ(def[4], "none");
  EXPECT_EQ(def[5], "-");
  EXPECT_EQ(def[6], "none") << "default's blocklist stays none";
  EXPECT_EQ(def[7].size(), 7u) << "the key of number 0";
  EXPECT_EQ(def[8], std::to_string(keys::KeySpace(7)));
  EXPECT_GT(std::stoull(def[9]), 0u) << "the broker reserved numbers";
  EXPECT_EQ(def[11], "stopped");
  EXPECT_EQ(ListRow("invites"),
            (std::vector<std::string>{"invites", "10", "sequential", "base62",
                                      "none", "-", "default", "0000000000",
                                      std::to_string(keys::KeySpace(10)), "0",
                                      "(0%)", "not", "served"}));
  EXPECT_EQ(ListRow("orders")[2], "scrambled");

  const RunResult show = Ctl({"namespace", "show", "invites"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  for (const std::string& want : std::vector<std::string>{
           "namespace        invites\n",
           "key format       length 10, sequential\n",
           "alphabet         base62 (62 characters: 0123456789ABC",
           "check            none\n", "prefix           none\n",
           "blocklist        default (",
           "example key      0000000000 (number 0)\n",
           "key space        " + std::to_string(keys::KeySpace(10)) + "\n",
           "used             0 (0%)\n", "created          20",
           "segment          " + shm() + "@invites (/dev/shm/mini-forge." +
               shm() + "@invites)\n",
           "state            not served\n"}) {
    EXPECT_NE(show.out.find(want), std::string::npos)
        << "missing '" << want << "' in\n"
        << show.out;
  }
}

// A namespace's state comes from its segment: served as soon as one is
// there (made here as its broker would make it).
TEST_P(NamespaceCtlTest, StateFollowsTheSegment) {
  ASSERT_EQ(Create("invites", "10", "scrambled").exit_code, 0);
  EXPECT_EQ(ListRow("invites").back(), "served");
  const shm::Segment seg = FakeBrokerSegment(
      base::NamespaceSegmentName(shm(), "invites"), "", 10, 0);
  EXPECT_EQ(ListRow("invites").back(), "running");
  const RunResult show = Ctl({"namespace", "show", "invites"});
  EXPECT_NE(
      show.out.find("state            running\nring fill        0 / 16\n"),
      std::string::npos)
      << show.out;
}

TEST_P(NamespaceCtlTest, CreatingAgainKeepsTheFormatFixed) {
  ASSERT_EQ(Create("invites", "10", "sequential").exit_code, 0);
  const RunResult again = Create("invites", "10", "sequential");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("namespace \"invites\" exists already in "),
            std::string::npos)
      << again.out;
  ExpectRefused({"namespace", "create", "invites", "--key-length", "8",
                 "--key-order", "sequential"},
                "namespace \"invites\" exists with KEY_LENGTH=10, not 8 "
                "(--key-length); a namespace's format is fixed when it is "
                "created");
  ExpectRefused(
      {"namespace", "create", "invites", "--key-length", "10", "--key-order",
       "scrambled"},
      "exists with KEY_ORDER=sequential, not scrambled (--key-order)");
  // "default" exists from the start, with KEY_LENGTH/KEY_ORDER's format.
  EXPECT_EQ(Create("default", "7", "scrambled").exit_code, 0);
  ExpectRefused({"namespace", "create", "default", "--key-length", "6"},
                "namespace \"default\" exists with KEY_LENGTH=7, not 6");
  EXPECT_EQ(ListRow("invites")[1], "10") << "unchanged";
}

TEST_P(NamespaceCtlTest, BadAndUnknownNamesExit2WithOneLine) {
  const std::string rule(base::kNamespaceRule);
  // ("" and "-x" are refused by the command line itself, also exit 2.)
  for (const std::string& bad : {std::string("Invites"), std::string("_x"),
                                 std::string("a@b"), std::string(33, 'a')}) {
    ExpectRefused({"namespace", "create", bad},
                  "is not a namespace name: " + rule);
    ExpectRefused({"namespace", "show", bad}, rule);
    ExpectRefused({"encode", "--ns", bad, "5"}, rule);
  }
  ExpectRefused({"namespace", "show", "nope"},
                "has no namespace \"nope\"; forge-ctl namespace list shows");
  ExpectRefused({"decode", "--ns", "nope", "0000000"},
                "has no namespace \"nope\"");
  EXPECT_EQ(ListRow("default")[0], "default");
  EXPECT_EQ(Ctl({"namespace", "list"}).out.find("\nnope "), std::string::npos)
      << "nothing was created";
}

// store advance (issue 16): forward only, per namespace; every refusal is
// one line, exit 2, nothing written.
TEST_P(NamespaceCtlTest, StoreAdvanceMovesOneNamespaceForwardOnly) {
  ASSERT_EQ(Create("invites", "8", "sequential").exit_code, 0);
  const RunResult r =
      Ctl({"store", "advance", "--ns", "invites", "--to", "500"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace \"invites\" counter: 0 -> 500 (0 returned numbers "
            "dropped)\n");
  ExpectRefused({"store", "advance", "--ns", "invites", "--to", "499"},
                "that is backwards: the counter is at 500");
  ExpectRefused({"store", "advance", "--ns", "invites", "--to", "1e9"},
                "--to \"1e9\" is not a decimal number");
  ExpectRefused(
      {"store", "advance", "--ns", "invites", "--to", "218340105584897"},
      "past the end of the key space (218340105584896");
  ExpectRefused({"store", "advance", "--ns", "nope", "--to", "5"},
                "has no namespace \"nope\"");
  const RunResult again = Ctl({"store", "advance", "--ns", "invites", "--to",
                               "500"});  // to the counter: allowed
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

// decode/encode --ns use the namespace's own format and secret.
TEST_P(NamespaceCtlTest, DecodeEncodeWithNs) {
  ASSERT_EQ(Create("invites", "10", "sequential").exit_code, 0);
  ASSERT_EQ(Create("codes", "9", "scrambled").exit_code, 0);
  RunResult e = Ctl({"encode", "--ns", "invites", "5"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, "0000000005\n");
  RunResult d = Ctl({"decode", "--ns", "invites", "000000000z"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.out, "61\n");
  for (const std::string n : {"0", "12345", "13537086546263551"}) {
    e = Ctl({"encode", n, "--ns", "codes"});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    // The key is the first line; the secret is random, so now and then a
    // second line says the blocklist would keep a broker from issuing it.
    const std::string key = e.out.substr(0, e.out.find('\n'));
    ASSERT_EQ(key.size(), 9u) << e.out;
    d = Ctl({"decode", "--ns", "codes", key});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(d.out.substr(0, d.out.find('\n') + 1), n + "\n") << d.out;
  }
  const RunResult in_default = Ctl({"encode", "12345"});
  ASSERT_EQ(in_default.exit_code, 0) << in_default.err;
  EXPECT_EQ(in_default.out.find('\n'), 7u) << "default keeps its 7 characters";
  ExpectRefused({"decode", "--ns", "codes", "0000000"},
                "keys of namespace \"codes\" have 9 (KEY_LENGTH=9)");
  ExpectRefused({"encode", "--ns", "codes", "13537086546263552"},
                "outside the key space of namespace \"codes\"; allowed: "
                "0..13537086546263551 (KEY_LENGTH=9)");
}

// A broker serving a namespace created with forge-ctl: stats has its row,
// list says running, and decode/encode --ns trace the keys it published.
TEST_P(NamespaceCtlTest, KeysABrokerPublishedForANamespace) {
  ASSERT_EQ(Create("invites", "9", "scrambled").exit_code, 0);
  Process broker = StartBroker({{"NS_POOL_CAPACITY", "64"}});
  const std::string segment = base::NamespaceSegmentName(shm(), "invites");
  std::optional<json::Value> v;
  ASSERT_TRUE(WaitUntil(
      [&] {
        v = StatsJson();
        const json::Value* ns = v ? v->At("namespaces") : nullptr;
        return ns && ns->items.size() == 2 &&
               ns->items[1].At("ring.fill") != nullptr &&
               ns->items[1].At("ring.fill")->number == 64;
      },
      kCtlDeadline))
      << broker.Stderr();
  const json::Value& invites = v->At("namespaces")->items[1];
  EXPECT_EQ(invites.At("name")->text, "invites");
  EXPECT_EQ(invites.At("key.length")->number, 9);
  EXPECT_EQ(invites.At("state")->text, "running");
  EXPECT_EQ(ListRow("invites").back(), "running");
  const double used = invites.At("key_space.used")->number;
  std::set<std::string> numbers;
  for (const std::string& key : PopKeys(segment, 8)) {
    ASSERT_EQ(key.size(), 9u);
    const RunResult d = Ctl({"decode", "--ns", "invites", key});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    // (Line 1; a line 2 would say the namespace's blocklist blocks it.)
    const std::string number = d.out.substr(0, d.out.find('\n'));
    EXPECT_LT(std::stod(number), used) << "a number the store reserved";
    numbers.insert(number);
    const RunResult e = Ctl({"encode", "--ns", "invites", number});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    EXPECT_EQ(e.out.substr(0, e.out.find('\n') + 1), key + "\n");
  }
  EXPECT_EQ(numbers.size(), 8u);
}

INSTANTIATE_TEST_SUITE_P(Stores, NamespaceCtlTest,
                         ::testing::Values(StoreKind::kSqlite,
                                           StoreKind::kPostgres));

// `namespace` never creates a store: a missing SQLite file is reported
// and left missing.
TEST_F(CtlTest, NamespaceCommandsNeverCreateAStore) {
  const std::string missing = dir() / "nowhere/forge.db";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"namespace", "create", "invites"},
           {"namespace", "list"},
           {"namespace", "show", "default"}}) {
    const RunResult r = Ctl(args, {{"DB_URL", "sqlite:" + missing}});
    EXPECT_EQ(r.exit_code, 1) << args[1];
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find(missing + " does not exist"), std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir() / "nowhere"));
}

// A PostgreSQL database no broker has used yet: `namespace create` makes
// neither a key space nor a namespace there.
class FreshPostgresCtlTest : public CtlTest {
 protected:
  FreshPostgresCtlTest()
      : CtlTest(StackOptions::OwnStore(StoreKind::kPostgres)) {}
};

TEST_F(FreshPostgresCtlTest, CreateNeedsAStoreABrokerMade) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"namespace", "create", "invites"},
           {"namespace", "list"},
           {"namespace", "create", "invites"}}) {
    const RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 1) << args[1] << ": " << r.err;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find("has no key space yet; start forge-broker once"),
              std::string::npos)
        << r.err;
  }
}

}  // namespace
}  // namespace forge::testing
