// Tests for store/postgres_store against a real, throw-away PostgreSQL 15
// server (tests/support/postgres_server.h): durability across reopen, many
// processes on one store, exhaustion, refusing the wrong store, and
// connection loss, including a COMMIT whose outcome is unknown.
#include "store/postgres_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "keys/key_codec.h"
#include "store/format.h"
#include "store/range_store.h"
#include "tests/store/store_test_util.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

namespace forge::store::store_test {
namespace {

using forge::testing::PostgresServer;
using forge::testing::WaitUntil;
using std::chrono::milliseconds;

constexpr milliseconds kServerDeadline{20000};

const StoreFormat kScrambled7 = Format(7, keys::KeyOrder::kScrambled);
const StoreFormat kSequential7 = Format(7, keys::KeyOrder::kSequential);

std::string BrokerBackends() {
  return "FROM pg_stat_activity WHERE application_name = 'forge-broker' "
         "AND datname = 'forge_test'";
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  // Terminates the store's server process and waits until it is gone.
  void TerminateStoreBackend() {
    EXPECT_EQ(server_.Query("SELECT count(pg_terminate_backend(pid)) " +
                            BrokerBackends()),
              "1");
    ASSERT_TRUE(WaitUntil(
        [&] {
          return server_.Query("SELECT count(*) " + BrokerBackends()) == "0";
        },
        kServerDeadline));
  }

  PostgresServer server_;
  std::string url_ = server_.url();
};

TEST_F(PostgresStoreTest, CreatesThenReopensWithItsCounterAndFormat) {
  StoreFormat created;
  {
    auto store = OpenPostgresStore(url_, kScrambled7);
    created = store->format();
    EXPECT_NE(created.secret, 0u);
    EXPECT_GT(created.created_unix_s, 0);
    const Range a = store->Reserve(1000);
    EXPECT_EQ(a.first, 0u);
    EXPECT_EQ(a.last, 1000u);
    EXPECT_EQ(store->Reserve(5).last, 1005u);
  }
  auto again = OpenPostgresStore(url_, kScrambled7);
  EXPECT_EQ(again->format().secret, created.secret);
  EXPECT_EQ(again->format().created_unix_s, created.created_unix_s);
  EXPECT_EQ(again->format().key_length, 7);
  EXPECT_EQ(again->Next(), 1005u);
  EXPECT_EQ(again->Reserve(10).first, 1005u);
  EXPECT_DEATH((void)again->Reserve(0), "Reserve\\(0\\)");

  auto sequential =
      OpenPostgresStore(server_.CreateDatabase("seq"), kSequential7);
  EXPECT_EQ(sequential->format().secret, 0u);
  EXPECT_EQ(sequential->format().order, keys::KeyOrder::kSequential);
}

// Ranges of `count` numbers, reserved in namespace `ns`.
struct Reservations {
  std::uint64_t count;
  const char* ns;
};

void PrintTo(const Reservations& r, std::ostream* os) {
  *os << "count=" << r.count << " ns=" << r.ns;
}

class PostgresConcurrencyTest
    : public PostgresStoreTest,
      public ::testing::WithParamInterface<Reservations> {};

// The key space the test reserves from, on `store`'s connection ("default"
// as it is, another namespace created with key length 8 if need be).
std::unique_ptr<RangeStore> SpaceOf(RangeStore& store, const std::string& ns) {
  const StoreFormat invites = Format(8, keys::KeyOrder::kScrambled);
  return store.OpenNamespace(ns, ns == "default" ? nullptr : &invites);
}

// Four brokers on one store (or one namespace of it): 0 duplicates.
TEST_P(PostgresConcurrencyTest, FourProcessesNeverGetOverlappingRanges) {
  const std::uint64_t count = GetParam().count;
  const std::string ns = GetParam().ns;
  const int per_child = count == 1 ? 500 : 250;
  SpaceOf(*OpenPostgresStore(url_, kScrambled7), ns);  // before the race
  const auto texts = store_test::InChildren(4, [&](int) {
    auto store = OpenPostgresStore(url_, kScrambled7);
    auto space = SpaceOf(*store, ns);
    std::vector<Range> got;
    for (int i = 0; i < per_child; ++i) got.push_back(space->Reserve(count));
    return Serialize(got);
  });
  const std::vector<Range> ranges = Parse(texts);
  ASSERT_EQ(ranges.size(), 4u * per_child);
  for (const Range& r : ranges) ASSERT_EQ(r.size(), count);
  ExpectTiles(ranges, 4 * per_child * count);
  auto store = OpenPostgresStore(url_, kScrambled7);
  EXPECT_EQ(SpaceOf(*store, ns)->Next(), 4 * per_child * count);
  if (ns != "default") {
    EXPECT_EQ(store->Next(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(RangeSizes, PostgresConcurrencyTest,
                         ::testing::Values(Reservations{1, "default"},
                                           Reservations{1000, "default"},
                                           Reservations{1, "invites"}),
                         [](const auto& test) {
                           return "Count" + std::to_string(test.param.count) +
                                  "_" + test.param.ns;
                         });

// One connection per broker however many namespaces it serves.
TEST_F(PostgresStoreTest, NamespacesShareTheOpenersConnection) {
  auto store = OpenPostgresStore(url_, kScrambled7);
  std::vector<std::unique_ptr<RangeStore>> spaces;
  for (int i = 0; i < 16; ++i) {
    spaces.push_back(SpaceOf(*store, "ns" + std::to_string(i)));
    EXPECT_EQ(spaces.back()->Reserve(10).first, 0u);
  }
  EXPECT_EQ(store->Namespaces().size(), 17u);
  EXPECT_EQ(server_.Query("SELECT count(*) " + BrokerBackends()), "1");
  // A connection lost under a namespace's call is made again by it, once
  // for all of them.
  TerminateStoreBackend();
  EXPECT_EQ(spaces[3]->Reserve(10).first, 10u);
  EXPECT_EQ(store->Reserve(10).first, 0u);
  EXPECT_EQ(spaces[9]->Next(), 10u);
  EXPECT_EQ(server_.Query("SELECT count(*) " + BrokerBackends()), "1");
}

TEST_F(PostgresStoreTest, ExhaustionReturnsTheRemainderThenEmptyRanges) {
  auto store = OpenPostgresStore(url_, Format(1, keys::KeyOrder::kSequential));
  EXPECT_EQ(store->Reserve(50).last, 50u);
  const Range rest = store->Reserve(50);
  EXPECT_EQ(rest.first, 50u);
  EXPECT_EQ(rest.last, 62u);
  EXPECT_TRUE(store->Reserve(1).empty());
  EXPECT_TRUE(store->Reserve(1000).empty());
  EXPECT_EQ(store->Next(), 62u);
}

TEST_F(PostgresStoreTest, FourProcessesExhaustTheSpaceExactlyOnce) {
  const std::string url = server_.CreateDatabase("two");
  const StoreFormat two = Format(2, keys::KeyOrder::kScrambled);
  OpenPostgresStore(url, two);
  const auto texts = store_test::InChildren(4, [&](int) {
    auto store = OpenPostgresStore(url, two);
    std::vector<Range> got;
    do {
      got.push_back(store->Reserve(100));
    } while (!got.back().empty());
    return Serialize(got);
  });
  ExpectTiles(Parse(texts), 62u * 62u);
  EXPECT_EQ(server_.Query("SELECT next FROM forge_counter", "two"), "3844");
}

TEST_F(PostgresStoreTest, RefusesAConfigThatDisagreesNamingBoth) {
  OpenPostgresStore(url_, kScrambled7);
  const StoreError length = ErrorFrom(
      [&] { OpenPostgresStore(url_, Format(8, keys::KeyOrder::kScrambled)); });
  EXPECT_FALSE(length.transient());
  EXPECT_NE(std::string(length.what()).find("KEY_LENGTH=7"), std::string::npos)
      << length.what();
  EXPECT_NE(std::string(length.what()).find("KEY_LENGTH=8"), std::string::npos)
      << length.what();
  const StoreError order =
      ErrorFrom([&] { OpenPostgresStore(url_, kSequential7); });
  EXPECT_FALSE(order.transient());
  EXPECT_NE(std::string(order.what()).find("scrambled"), std::string::npos)
      << order.what();
  EXPECT_NE(std::string(order.what()).find("sequential"), std::string::npos)
      << order.what();
}

TEST_F(PostgresStoreTest, RefusesANewerSchemaAndDamagedMetadata) {
  OpenPostgresStore(url_, kScrambled7);
  server_.Query(
      "UPDATE forge_meta SET value = '5' WHERE key = 'schema_version'");
  const StoreError newer =
      ErrorFrom([&] { OpenPostgresStore(url_, kScrambled7); });
  EXPECT_FALSE(newer.transient());
  EXPECT_NE(std::string(newer.what()).find("schema version 5"),
            std::string::npos)
      << newer.what();

  server_.Query(
      "UPDATE forge_meta SET value = '4' WHERE key = 'schema_version';"
      "DELETE FROM forge_meta WHERE key = 'key_order'");
  const StoreError damaged =
      ErrorFrom([&] { OpenPostgresStore(url_, kScrambled7); });
  EXPECT_FALSE(damaged.transient());
  EXPECT_NE(std::string(damaged.what()).find("forge_meta.key_order is missing"),
            std::string::npos)
      << damaged.what();
}

// A store written by schema-version-1 code (no forge_returned), as it
// created it, with a counter already moved on.
constexpr const char* kVersion1Store =
    "CREATE TABLE forge_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE forge_counter (id INT PRIMARY KEY CHECK (id = 1), "
    "  next BIGINT NOT NULL CHECK (next >= 0));"
    "INSERT INTO forge_counter (id, next) VALUES (1, 500);"
    "INSERT INTO forge_meta (key, value) VALUES ('schema_version', '1'), "
    "  ('key_length', '7'), ('key_order', 'sequential'), ('secret', '0'), "
    "  ('created_unix_s', '1700000000');";

TEST_F(PostgresStoreTest, AVersion1StoreIsUpgradedOnceByBrokersOpeningIt) {
  server_.Query(kVersion1Store);
  const auto texts = store_test::InChildren(4, [&](int) {
    auto store = OpenPostgresStore(url_, kSequential7);
    return Serialize({store->Reserve(10)});
  });
  std::vector<Range> all = Parse(texts);
  all.push_back(Range{0, 500});  // reserved by the version-1 code
  ExpectTiles(all, 540);
  EXPECT_EQ(server_.Query("SELECT value FROM forge_meta WHERE key = "
                          "'schema_version'"),
            "4");
  auto store = OpenPostgresStore(url_, kSequential7);
  // The upgrade gave it an identity, one for all four brokers.
  EXPECT_TRUE(ValidStoreId(store->format().store_id));
  EXPECT_EQ(server_.Query("SELECT value FROM forge_meta WHERE key = "
                          "'store_id'"),
            store->format().store_id);
  EXPECT_EQ(store->format().created_unix_s, 1700000000);
  store->Return({Range{505, 510}});
  store->Return({Range{520, 521}, Range{530, 532}});
  EXPECT_EQ(server_.Query("SELECT count(*) FROM forge_returned"), "3");
  EXPECT_EQ(server_.Query("SELECT value FROM forge_meta WHERE key = "
                          "'returned_total'"),
            "8");
  EXPECT_EQ(store->Reserve(3).first, 505u);
}

// What the schema-2 code did to a version-1 store (kVersion1Store): a
// returned list (here with numbers in it) and an identity.
constexpr const char* kVersion2Upgrade =
    "CREATE TABLE forge_returned (first BIGINT PRIMARY KEY CHECK (first >= 0),"
    "  last BIGINT NOT NULL, CHECK (first < last));"
    "INSERT INTO forge_returned (first, last) VALUES (100, 110);"
    "UPDATE forge_meta SET value = '2' WHERE key = 'schema_version';"
    "INSERT INTO forge_meta (key, value) VALUES "
    "  ('store_id', '0123456789abcdef0123456789abcdef'), "
    "  ('returned_total', '10');";

// Numbers issued before the upgrade are never issued again after it: the
// version-2 key space becomes "default" as it was, while the brokers
// opening it also race to create a namespace.
TEST_F(PostgresStoreTest, AVersion2StoreBecomesDefaultKeepingEveryNumber) {
  server_.Query(std::string(kVersion1Store) + kVersion2Upgrade);
  const auto texts = store_test::InChildren(4, [&](int) {
    auto store = OpenPostgresStore(url_, kSequential7);
    const Range invites = SpaceOf(*store, "invites")->Reserve(5);
    return Serialize({store->Reserve(10), invites});
  });
  std::vector<Range> before{Range{0, 100}, Range{110, 500}};  // issued by v2
  std::vector<Range> invites;
  SplitPairs(Parse(texts), &before, &invites);
  ExpectTiles(before, 530);  // [100, 110) came back once, then the counter
  ExpectTiles(invites, 20);
  EXPECT_EQ(server_.Query("SELECT value FROM forge_meta WHERE key = "
                          "'schema_version'"),
            "4");
  auto store = OpenPostgresStore(url_, kSequential7);
  EXPECT_EQ(store->format().created_unix_s, 1700000000);
  EXPECT_EQ(store->format().store_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(store->Namespaces(),
            (std::vector<std::string>{"default", "invites"}));
  EXPECT_EQ(SpaceOf(*store, "invites")->format().store_id,
            store->format().store_id);
  EXPECT_EQ(store->Reserve(10).first, 530u);
}

TEST_F(PostgresStoreTest, ALeftOverReturnedListIsDamageNotAdopted) {
  OpenPostgresStore(url_, kSequential7)->Reserve(100);
  server_.Query("DROP TABLE forge_meta, forge_counter");
  const StoreError damaged =
      ErrorFrom([&] { OpenPostgresStore(url_, kSequential7); });
  EXPECT_FALSE(damaged.transient());
  EXPECT_NE(std::string(damaged.what()).find("damaged"), std::string::npos)
      << damaged.what();
}

TEST_F(PostgresStoreTest, ProcessesCreatingTheStoreAtOnceAgreeOnOneFormat) {
  const auto texts = store_test::InChildren(4, [&](int) {
    const StoreFormat f = OpenPostgresStore(url_, kScrambled7)->format();
    return f.store_id + " " + std::to_string(f.secret) + " " +
           std::to_string(f.created_unix_s);
  });
  ASSERT_EQ(texts.size(), 4u);
  for (const std::string& t : texts) EXPECT_EQ(t, texts[0]);
  EXPECT_EQ(texts[0],
            server_.Query("SELECT string_agg(value, ' ' ORDER BY "
                          "key DESC) FROM forge_meta WHERE key IN "
                          "('store_id', 'secret', 'created_unix_s')"));
  // One row each: the format's 6 and the policy's 5 (schema 4).
  EXPECT_EQ(server_.Query("SELECT count(*) FROM forge_meta"), "11");
}

// A store made before identities existed (no forge_meta.store_id) gets
// one when brokers open it: exactly one, however many race.
TEST_F(PostgresStoreTest, AStoreWithoutAnIdentityGetsOneOnceWhenOpened) {
  OpenPostgresStore(url_, kSequential7)->Reserve(10);
  server_.Query("DELETE FROM forge_meta WHERE key = 'store_id'");
  const auto texts = store_test::InChildren(4, [&](int) {
    return OpenPostgresStore(url_, kSequential7)->format().store_id;
  });
  ASSERT_EQ(texts.size(), 4u);
  for (const std::string& t : texts) EXPECT_EQ(t, texts[0]);
  EXPECT_TRUE(ValidStoreId(texts[0])) << texts[0];
  auto store = OpenPostgresStore(url_, kSequential7);
  EXPECT_EQ(store->format().store_id, texts[0]);
  EXPECT_EQ(store->Reserve(5).first, 10u);
}

// The server crashes (immediate shutdown: no checkpoint, recovery from the
// WAL on restart): what was committed survives, nothing is handed out twice.
TEST_F(PostgresStoreTest, ServerDownIsTransientAndRestartNeverReusesARange) {
  auto store = OpenPostgresStore(url_, kSequential7);
  const Range before = store->Reserve(100);
  server_.Crash();
  const StoreError down = ErrorFrom([&] { store->Reserve(100); });
  EXPECT_TRUE(down.transient()) << down.what();
  EXPECT_NE(std::string(down.what()).find("127.0.0.1"), std::string::npos)
      << down.what();
  EXPECT_TRUE(ErrorFrom([&] { store->Next(); }).transient());
  server_.Start();
  const Range after = store->Reserve(100);
  EXPECT_EQ(after.first, before.last);
  EXPECT_EQ(store->Next(), after.last);
}

TEST_F(PostgresStoreTest, AConnectionKilledWhileIdleIsReplacedAtOnce) {
  auto store = OpenPostgresStore(url_, kSequential7);
  const Range before = store->Reserve(100);
  TerminateStoreBackend();
  const Range after = store->Reserve(100);  // no error: nothing was in flight
  EXPECT_EQ(after.first, before.last);
}

// A COMMIT that never answers: synchronous replication to a standby that
// does not exist makes it wait, then its connection is terminated. The
// transaction did commit locally, the client cannot know: the range must
// be a gap, never handed out.
TEST_F(PostgresStoreTest, ACommitWithUnknownOutcomeLeavesAGap) {
  auto store = OpenPostgresStore(url_, kSequential7);
  store->Reserve(10);
  server_.Query("ALTER SYSTEM SET synchronous_standby_names = 'forge_ghost'");
  server_.Query("SELECT pg_reload_conf()");
  std::uint64_t lost_first = 0;
  std::future<Range> pending;
  // The reload reaches each server process in its own time: a Reserve that
  // committed before it did is simply followed by another one.
  const bool waiting = WaitUntil(
      [&] {
        if (!pending.valid()) {
          lost_first = store->Next();
          pending = std::async(std::launch::async,
                               [&] { return store->Reserve(100); });
        }
        if (pending.wait_for(milliseconds(0)) == std::future_status::ready) {
          pending.get();
          return false;
        }
        return server_.Query("SELECT count(*) " + BrokerBackends() +
                             " AND wait_event = 'SyncRep'") == "1";
      },
      kServerDeadline);
  ASSERT_TRUE(waiting) << "no COMMIT ever waited for the standby";
  TerminateStoreBackend();
  const StoreError unknown = ErrorFrom([&] { pending.get(); });
  EXPECT_TRUE(unknown.transient()) << unknown.what();
  EXPECT_NE(std::string(unknown.what()).find("unknown"), std::string::npos)
      << unknown.what();
  EXPECT_EQ(server_.Query("SELECT next FROM forge_counter"),
            std::to_string(lost_first + 100))
      << "the transaction should have committed locally";

  server_.Query("ALTER SYSTEM RESET synchronous_standby_names");
  server_.Query("SELECT pg_reload_conf()");
  const Range after = store->Reserve(100);
  EXPECT_EQ(after.first, lost_first + 100);
}

// A COMMIT waiting for a synchronous standby that never answers ends
// within the store's limits (the client gives up, or statement_timeout
// cancels the wait with a WARNING and the commit made on the primary
// only): either way not durable enough to hand out, so the range is a gap.
TEST_F(PostgresStoreTest, ACommitCutShortWaitingForAStandbyLeavesAGap) {
  auto store =
      OpenPostgresStore(url_, kSequential7, Limits(milliseconds(1000)));
  store->Reserve(10);
  server_.Query("ALTER SYSTEM SET synchronous_standby_names = 'forge_ghost'");
  server_.Query("SELECT pg_reload_conf()");
  // The reload reaches the store's server process in its own time.
  std::optional<StoreError> cut;
  ASSERT_TRUE(WaitUntil(
      [&] {
        try {
          store->Reserve(100);
          return false;
        } catch (const StoreError& e) {
          cut = e;
          return true;
        }
      },
      kServerDeadline));
  EXPECT_TRUE(cut->transient()) << cut->what();
  EXPECT_NE(std::string(cut->what()).find("unknown"), std::string::npos)
      << cut->what();
  const std::uint64_t counter =
      std::stoull(server_.Query("SELECT next FROM forge_counter"));
  server_.Query("ALTER SYSTEM RESET synchronous_standby_names");
  server_.Query("SELECT pg_reload_conf()");
  std::optional<Range> after;
  ASSERT_TRUE(WaitUntil(
      [&] {
        try {
          after = store->Reserve(100);
          return true;
        } catch (const StoreError&) {
          return false;  // the reset has not reached it yet
        }
      },
      kServerDeadline));
  EXPECT_GE(after->first, counter) << "the cut-short range was handed out";
}

TEST_F(PostgresStoreTest, AfterReconnectAStoreThatVanishedIsNotRecreated) {
  auto store = OpenPostgresStore(url_, kScrambled7);
  store->Reserve(100);
  server_.Query("DROP TABLE forge_meta, forge_counter");
  TerminateStoreBackend();
  const StoreError gone = ErrorFrom([&] { store->Reserve(100); });
  EXPECT_FALSE(gone.transient()) << gone.what();
  EXPECT_NE(std::string(gone.what()).find("forge_meta"), std::string::npos)
      << gone.what();
  EXPECT_EQ(server_.Query("SELECT to_regclass('forge_meta') IS NULL"), "t");
}

TEST_F(PostgresStoreTest, AfterReconnectAStoreRecreatedByOthersIsRefused) {
  auto store = OpenPostgresStore(url_, kScrambled7);
  store->Reserve(100);
  server_.Query(
      "DROP TABLE forge_meta, forge_counter, forge_returned, "
      "forge_namespaces");
  OpenPostgresStore(url_, kScrambled7);  // a new secret
  TerminateStoreBackend();
  const StoreError changed = ErrorFrom([&] { store->Reserve(100); });
  EXPECT_FALSE(changed.transient());
  EXPECT_NE(std::string(changed.what()).find("changed while"),
            std::string::npos)
      << changed.what();
}

TEST_F(PostgresStoreTest, NeitherDescribeNorErrorsShowThePassword) {
  const std::string with_password =
      "postgresql://postgres:s3cret-pw@127.0.0.1:" +
      std::to_string(server_.port()) + "/forge_test";
  auto store = OpenPostgresStore(with_password, kScrambled7);
  EXPECT_EQ(store->Describe(),
            "postgres://postgres@127.0.0.1:" + std::to_string(server_.port()) +
                "/forge_test");
  server_.Stop();
  const StoreError down = ErrorFrom([&] { store->Reserve(1); });
  EXPECT_EQ(std::string(down.what()).find("s3cret"), std::string::npos)
      << down.what();
  const StoreError refused =
      ErrorFrom([&] { OpenPostgresStore(with_password, kScrambled7); });
  EXPECT_TRUE(refused.transient());
  EXPECT_EQ(std::string(refused.what()).find("s3cret"), std::string::npos)
      << refused.what();
}

// With synchronous_commit=off a COMMIT could be lost in a crash after the
// keys were served; the store raises it for its own transactions.
// Another session holds the counter row (SELECT ... FOR UPDATE) until
// Release() ends that session.
class CounterLock {
 public:
  // Locks the counter row of `table` (a key space's counter, quoted).
  explicit CounterLock(PostgresServer& server,
                       std::string table = "forge_counter")
      : server_(server) {
    holder_ = std::thread([this, table] {
      try {
        server_.Query(
            "SET application_name = 'forge-test-locker'; BEGIN; SELECT next "
            "FROM " +
            table +
            " WHERE id = 1 FOR UPDATE; SELECT "
            "pg_sleep(300); COMMIT");
      } catch (const std::exception&) {
        // Terminated by Release().
      }
    });
    EXPECT_TRUE(WaitUntil(
        [&] {
          return server_.Query(
                     "SELECT count(*) FROM pg_stat_activity WHERE "
                     "application_name = 'forge-test-locker' AND "
                     "wait_event = 'PgSleep'") == "1";
        },
        kServerDeadline));
  }
  ~CounterLock() { Release(); }
  void Release() {
    if (!holder_.joinable()) return;
    server_.Query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'forge-test-locker'");
    holder_.join();
  }

 private:
  PostgresServer& server_;
  std::thread holder_;
};

// lock_timeout = STORE_TIMEOUT_MS: a row held elsewhere ends the call after
// about that long with a transient error; before, it waited for as long as
// the other session kept the lock.
TEST_F(PostgresStoreTest, ACounterRowHeldElsewhereEndsTheCallAfterTheTimeout) {
  auto store = OpenPostgresStore(url_, kSequential7, Limits(milliseconds(500)));
  EXPECT_EQ(store->Reserve(10).first, 0u);
  CounterLock lock(server_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    const StoreError e = ErrorFrom([&] { store->Reserve(10); });
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(e.transient()) << e.what();
    EXPECT_NE(std::string(e.what()).find("lock timeout"), std::string::npos)
        << e.what();
    EXPECT_GE(took, milliseconds(500));
    EXPECT_LT(took, milliseconds(2000));
  }
  lock.Release();
  EXPECT_EQ(store->Reserve(10).first, 10u);  // nothing lost, nothing twice
}

// A namespace's calls wait on the same STORE_TIMEOUT_MS and name it; a
// lock on one namespace's counter holds up no other key space.
TEST_F(PostgresStoreTest, ANamespaceCounterHeldElsewhereEndsOnlyItsCall) {
  auto store = OpenPostgresStore(url_, kSequential7, Limits(milliseconds(500)));
  auto invites = SpaceOf(*store, "invites");
  CounterLock lock(server_, "\"forge_counter@invites\"");
  const auto start = std::chrono::steady_clock::now();
  const StoreError e = ErrorFrom([&] { invites->Reserve(10); });
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(e.transient()) << e.what();
  EXPECT_TRUE(Has(e.what(),
                  "namespace \"invites\": reserving a range "
                  "failed: canceling statement due to lock "
                  "timeout"))
      << e.what();
  EXPECT_GE(took, milliseconds(500));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(store->Reserve(10).first, 0u);  // default is not held up
  lock.Release();
  EXPECT_EQ(invites->Reserve(10).first, 0u);  // nothing lost, nothing twice
}

// SIGTERM's flag ends a call blocked on the lock at once, though
// STORE_TIMEOUT_MS is a minute away; the calls after it (Return on the way
// out) get the stop budget only.
TEST_F(PostgresStoreTest, TheStopFlagEndsABlockedCallAtOnce) {
  std::atomic<bool> stop{false};
  auto store =
      OpenPostgresStore(url_, kSequential7,
                        Limits(milliseconds(60000), &stop, milliseconds(500)));
  const Range mine = store->Reserve(10);
  CounterLock lock(server_);
  std::future<Range> blocked =
      std::async(std::launch::async, [&] { return store->Reserve(10); });
  ASSERT_TRUE(WaitUntil(
      [&] {
        return server_.Query("SELECT count(*) " + BrokerBackends() +
                             " AND wait_event_type = 'Lock'") == "1";
      },
      kServerDeadline));
  auto start = std::chrono::steady_clock::now();
  stop = true;
  const StoreError e = ErrorFrom([&] { blocked.get(); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  EXPECT_TRUE(e.transient()) << e.what();
  EXPECT_NE(std::string(e.what()).find("stopping"), std::string::npos)
      << e.what();
  start = std::chrono::steady_clock::now();
  const StoreError back = ErrorFrom([&] { store->Return({mine}); });
  EXPECT_TRUE(back.transient()) << back.what();  // nothing recorded
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
  lock.Release();
  EXPECT_EQ(server_.Query("SELECT count(*) FROM forge_returned"), "0");
}

// idle_in_transaction_session_timeout = STORE_TIMEOUT_MS: a broker frozen
// (SIGSTOP) inside its transaction holds the counter row only that long;
// the server ends its session and other brokers go on.
TEST_F(PostgresStoreTest, ABrokerFrozenInsideItsTransactionIsCutOff) {
  OpenPostgresStore(url_, kSequential7);  // creates the store
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Reserves back to back; a transient error (a stop/continue that took
    // too long) only means "again".
    for (;;) {
      try {
        auto store =
            OpenPostgresStore(url_, kSequential7, Limits(milliseconds(500)));
        for (;;) {
          try {
            store->Reserve(1);
          } catch (const StoreError& e) {
            if (!e.transient()) ::_exit(1);
          }
        }
      } catch (...) {
      }
    }
    ::_exit(0);
  }
  // Freeze it until the server shows it idle inside a transaction that
  // wrote (has an xid): it holds the counter row.
  const bool frozen_in_tx = WaitUntil(
      [&] {
        ::kill(child, SIGSTOP);
        if (server_.Query("SELECT count(*) " + BrokerBackends() +
                          " AND state = 'idle in transaction' AND "
                          "backend_xid IS NOT NULL") == "1") {
          return true;
        }
        ::kill(child, SIGCONT);
        return false;
      },
      kServerDeadline);
  if (!frozen_in_tx) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    FAIL() << "never caught the child inside its transaction\n"
           << server_.Query(
                  "SELECT string_agg(state || ' ' || "
                  "coalesce(backend_xid::text, '-'), ', ') " +
                  BrokerBackends());
  }
  auto other =
      OpenPostgresStore(url_, kSequential7, Limits(milliseconds(5000)));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(other->Reserve(10));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST(PostgresDurabilityTest, SynchronousCommitOffIsRaisedForReservations) {
  PostgresServer server({"log_statement=all"});
  server.Query("ALTER DATABASE forge_test SET synchronous_commit = off");
  auto store = OpenPostgresStore(server.url(), kSequential7);
  store->Reserve(1);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return server.Log().find("SET LOCAL synchronous_commit = on") !=
               std::string::npos;
      },
      kServerDeadline))
      << server.Log();
}

TEST(PostgresUrlTest, BadOrUnreachableUrlsSayWhatIsWrong) {
  for (const std::string url : {"postgres://u:pw@127.0.0.1:port/db",
                                "postgres://u:pw@127.0.0.1/db?colour=red"}) {
    const StoreError bad =
        ErrorFrom([&] { OpenPostgresStore(url, kScrambled7); });
    EXPECT_FALSE(bad.transient()) << bad.what();
    EXPECT_NE(std::string(bad.what()).find("not a valid PostgreSQL URL"),
              std::string::npos)
        << bad.what();
    EXPECT_EQ(std::string(bad.what()).find("pw@"), std::string::npos)
        << bad.what();
  }
  const int port = forge::testing::FreePort();  // nothing listens there
  const StoreError unreachable = ErrorFrom([&] {
    OpenPostgresStore(
        "postgres://u:pw@127.0.0.1:" + std::to_string(port) + "/db",
        kScrambled7);
  });
  EXPECT_TRUE(unreachable.transient()) << unreachable.what();
  EXPECT_EQ(std::string(unreachable.what()).find("pw@"), std::string::npos)
      << unreachable.what();
}

}  // namespace
}  // namespace forge::store::store_test
