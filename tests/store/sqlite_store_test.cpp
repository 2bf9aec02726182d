// Tests for store/sqlite_store and OpenStore: durability across reopen,
// many processes on one file, exhaustion, and refusing the wrong store.
#include "store/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "keys/key_codec.h"
#include "store/format.h"
#include "store/range_store.h"
#include "tests/store/store_test_util.h"
#include "tests/support/process.h"

namespace forge::store::store_test {
namespace {

using forge::testing::TempDir;
using std::chrono::milliseconds;

const StoreFormat kDefault = Format(7, keys::KeyOrder::kScrambled);

int Mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

TEST(SqliteStore, CreatesMissingDirectoriesAndPrivateFiles) {
  TempDir tmp;
  const std::string dir = tmp / "a/b";
  const std::string db = dir + "/forge.db";
  const mode_t old_umask = ::umask(0);  // our modes must not rely on it
  {
    SqliteStore store(db, kDefault);
    EXPECT_EQ(Mode(tmp / "a"), 0700);
    EXPECT_EQ(Mode(dir), 0700);
    EXPECT_EQ(Mode(db), 0600);
    store.Reserve(1);  // the -wal and -shm files exist while it is open
    EXPECT_EQ(Mode(db + "-wal"), 0600);
    EXPECT_EQ(Mode(db + "-shm"), 0600);
    EXPECT_EQ(Mode(db + "-writers"), 0600);
  }
  ::umask(old_umask);
}

TEST(SqliteStore, ReservesContiguousRangesAndKeepsTheCounterAcrossReopen) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  {
    SqliteStore store(db, kDefault);
    const Range a = store.Reserve(10);
    EXPECT_EQ(a.first, 0u);
    EXPECT_EQ(a.last, 10u);
    const Range b = store.Reserve(5);
    EXPECT_EQ(b.first, 10u);
    EXPECT_EQ(b.last, 15u);
    EXPECT_EQ(store.Next(), 15u);
    EXPECT_DEATH((void)store.Reserve(0), "Reserve\\(0\\)");
  }
  SqliteStore again(db, kDefault);
  EXPECT_EQ(again.Next(), 15u);
  const Range c = again.Reserve(1);
  EXPECT_EQ(c.first, 15u);
  EXPECT_EQ(c.last, 16u);
}

TEST(SqliteStore, NewStoreRecordsItsFormatAndARandomSecret) {
  TempDir tmp;
  const std::time_t before = std::time(nullptr);
  std::uint64_t secret = 0;
  {
    SqliteStore store(tmp / "one.db", kDefault);
    EXPECT_EQ(store.format().key_length, 7);
    EXPECT_EQ(store.format().order, keys::KeyOrder::kScrambled);
    EXPECT_NE(store.format().secret, 0u);
    EXPECT_GE(store.format().created_unix_s, before);
    EXPECT_LE(store.format().created_unix_s, std::time(nullptr));
    secret = store.format().secret;
  }
  SqliteStore reopened(tmp / "one.db", kDefault);
  EXPECT_EQ(reopened.format().secret, secret);
  SqliteStore other(tmp / "two.db", kDefault);
  EXPECT_NE(other.format().secret, secret);
  SqliteStore given(tmp / "three.db",
                    Format(5, keys::KeyOrder::kScrambled, 42));
  EXPECT_EQ(given.format().secret, 42u);
  SqliteStore sequential(tmp / "four.db",
                         Format(3, keys::KeyOrder::kSequential, 9));
  EXPECT_EQ(sequential.format().order, keys::KeyOrder::kSequential);
  EXPECT_EQ(sequential.format().secret, 0u);
}

TEST(SqliteStore, ProcessesCreatingOneStoreTogetherAgreeOnItsSecret) {
  TempDir tmp;
  const std::string db = tmp / "new/forge.db";
  const auto texts = InChildren(4, [&](int) {
    SqliteStore store(db, kDefault);  // each would pick its own secret
    return std::to_string(store.format().secret);
  });
  const std::set<std::string> secrets(texts.begin(), texts.end());
  ASSERT_EQ(texts.size(), 4u);
  ASSERT_EQ(secrets.size(), 1u);
  SqliteStore store(db, kDefault);
  EXPECT_EQ(std::to_string(store.format().secret), *secrets.begin());
}

// Store identity (issue 10 item 3): random at creation, kept in meta, the
// same for every process that opens the store, different for another one.
TEST(SqliteStore, NewStoreGetsARandomIdentityKeptInMeta) {
  TempDir tmp;
  const std::string db = tmp / "one.db";
  std::string id;
  {
    SqliteStore store(db, kDefault);
    id = store.format().store_id;
  }
  EXPECT_TRUE(ValidStoreId(id)) << id;
  EXPECT_EQ(SqliteStore(db, kDefault).format().store_id, id);
  EXPECT_NE(SqliteStore(tmp / "two.db", kDefault).format().store_id, id);
  SQLite::Database raw(db, SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("SELECT value FROM meta WHERE key = 'store_id'")
                .getString(),
            id);
}

// A store made before identities existed (schema 2 without meta.store_id)
// gets one when it is opened: exactly one, however many processes race.
TEST(SqliteStore, AStoreWithoutAnIdentityGetsOneOnceWhenOpened) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  { SqliteStore(db, kDefault).Reserve(10); }
  {
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    raw.exec("DELETE FROM meta WHERE key = 'store_id'");
  }
  const auto texts = InChildren(4, [&](int) {
    SqliteStore store(db, kDefault);
    return store.format().store_id;
  });
  ASSERT_EQ(texts.size(), 4u);
  for (const std::string& t : texts) EXPECT_EQ(t, texts[0]);
  EXPECT_TRUE(ValidStoreId(texts[0])) << texts[0];
  SqliteStore store(db, kDefault);
  EXPECT_EQ(store.format().store_id, texts[0]);
  EXPECT_EQ(store.Reserve(5).first, 10u);  // the counter is untouched
}

struct Hammer {
  std::uint64_t count;  // per Reserve
  int per_child;        // reservations per process
  const char* ns;       // the namespace reserved from
};

void PrintTo(const Hammer& h, std::ostream* os) {
  *os << "count=" << h.count << " x" << h.per_child << " ns=" << h.ns;
}

// The key space a test reserves from, on `store`'s connection.
std::unique_ptr<RangeStore> SpaceOf(RangeStore& store, const std::string& ns) {
  const StoreFormat invites = Format(8, keys::KeyOrder::kScrambled);
  return store.OpenNamespace(ns, ns == "default" ? nullptr : &invites);
}

class ConcurrentReserve : public ::testing::TestWithParam<Hammer> {};

// Several processes hammer one file back to back; the ranges they got must
// tile [0, total) exactly: no overlap, no gap, and no error (in particular
// no process starved past its busy timeout while others kept committing).
TEST_P(ConcurrentReserve, ProcessesGetDisjointRangesThatTileTheSpace) {
  const std::uint64_t count = GetParam().count;
  const int kChildren = 4;
  const int kPerChild = GetParam().per_child;
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  const std::string ns = GetParam().ns;
  {
    SqliteStore create(db, kDefault);  // closed before fork
    SpaceOf(create, ns);
  }
  const auto texts = InChildren(kChildren, [&](int) {
    SqliteStore store(db, kDefault);
    auto space = SpaceOf(store, ns);
    std::vector<Range> got;
    for (int k = 0; k < kPerChild; ++k) got.push_back(space->Reserve(count));
    return Serialize(got);
  });
  const std::vector<Range> all = Parse(texts);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kChildren * kPerChild));
  for (const Range& r : all) ASSERT_EQ(r.size(), count);
  const std::uint64_t total = count * kChildren * kPerChild;
  ExpectTiles(all, total);
  SqliteStore store(db, kDefault);
  EXPECT_EQ(SpaceOf(store, ns)->Next(), total);
  if (ns != "default") {
    EXPECT_EQ(store.Next(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Counts, ConcurrentReserve,
                         ::testing::Values(Hammer{1, 1500, "default"},
                                           Hammer{10, 750, "default"},
                                           Hammer{1, 750, "invites"}),
                         [](const auto& test) {
                           return "Count" + std::to_string(test.param.count) +
                                  "_" + test.param.ns;
                         });

TEST(SqliteStore, ExhaustsLengthOneExactlyAndStaysEmpty) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  {
    SqliteStore store(db, Format(1, keys::KeyOrder::kScrambled));
    for (std::uint64_t i = 0; i < 6; ++i) {
      const Range r = store.Reserve(10);
      EXPECT_EQ(r.first, i * 10);
      EXPECT_EQ(r.last, i * 10 + 10);
    }
    const Range tail = store.Reserve(10);
    EXPECT_EQ(tail.first, 60u);
    EXPECT_EQ(tail.last, 62u);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(store.Reserve(10).empty());
    EXPECT_EQ(store.Next(), 62u);
  }
  SqliteStore again(db, Format(1, keys::KeyOrder::kScrambled));
  EXPECT_TRUE(again.Reserve(1).empty());
  EXPECT_EQ(again.Next(), 62u);
}

TEST(SqliteStore, ExhaustsLengthTwoWithAHugeCountWithoutWrapping) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  {
    SqliteStore store(db, Format(2, keys::KeyOrder::kSequential));
    EXPECT_EQ(store.Reserve(1000).last, 1000u);
    EXPECT_EQ(store.Reserve(1000).last, 2000u);
    EXPECT_EQ(store.Reserve(1000).last, 3000u);
    const Range tail = store.Reserve(std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(tail.first, 3000u);
    EXPECT_EQ(tail.last, 3844u);
    EXPECT_TRUE(
        store.Reserve(std::numeric_limits<std::uint64_t>::max()).empty());
  }
  SqliteStore again(db, Format(2, keys::KeyOrder::kSequential));
  EXPECT_TRUE(again.Reserve(1000).empty());
  EXPECT_EQ(again.Next(), keys::KeySpace(2));
}

TEST(SqliteStore, RefusesAConfigWhoseFormatDiffersNamingBoth) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  { SqliteStore(db, kDefault).Reserve(5); }
  const StoreError longer = ErrorFrom(
      [&] { SqliteStore(db, Format(8, keys::KeyOrder::kScrambled)); });
  const std::string msg = longer.what();
  EXPECT_FALSE(longer.transient());
  EXPECT_NE(msg.find("sqlite:" + db), std::string::npos) << msg;
  EXPECT_NE(msg.find("created with KEY_LENGTH=7 KEY_ORDER=scrambled"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("config says KEY_LENGTH=8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("new DB_URL"), std::string::npos) << msg;

  const StoreError order = ErrorFrom(
      [&] { SqliteStore(db, Format(7, keys::KeyOrder::kSequential)); });
  EXPECT_FALSE(order.transient());
  EXPECT_NE(std::string(order.what()).find("config says KEY_ORDER=sequential"),
            std::string::npos)
      << order.what();
  EXPECT_EQ(SqliteStore(db, kDefault).Next(), 5u);  // left untouched
}

TEST(SqliteStore, RefusesANewerSchema) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  { SqliteStore create(db, kDefault); }
  {
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    raw.exec("PRAGMA user_version = 5");
  }
  const StoreError e = ErrorFrom([&] { SqliteStore(db, kDefault); });
  EXPECT_FALSE(e.transient());
  EXPECT_NE(std::string(e.what()).find("schema version 5, newer"),
            std::string::npos)
      << e.what();
}

// A store written by schema-version-1 code (no `returned` table), as it
// created it, with a counter already moved on.
void WriteVersion1Store(const std::string& db) {
  SQLite::Database raw(db, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  raw.exec(
      "PRAGMA journal_mode = WAL;"
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
      "CREATE TABLE counter(id INTEGER PRIMARY KEY CHECK(id = 1),"
      "  next INTEGER NOT NULL);"
      "INSERT INTO counter(id, next) VALUES (1, 500);"
      "INSERT INTO meta(key, value) VALUES ('schema_version', '1'),"
      "  ('key_length', '7'), ('key_order', 'sequential'), ('secret', '0'),"
      "  ('created_unix_s', '1700000000');"
      "PRAGMA user_version = 1;");
}

std::string QueryText(const std::string& db, const std::string& sql) {
  SQLite::Database raw(db, SQLite::OPEN_READONLY);
  return raw.execAndGet(sql).getString();
}

TEST(SqliteStore, AVersion1StoreIsUpgradedOnceByProcessesOpeningIt) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  WriteVersion1Store(db);
  const StoreFormat sequential = Format(7, keys::KeyOrder::kSequential);
  const auto texts = InChildren(4, [&](int) {
    SqliteStore store(db, sequential);
    return Serialize({store.Reserve(10)});
  });
  std::vector<Range> all = Parse(texts);
  all.push_back(Range{0, 500});  // reserved by the version-1 code
  ExpectTiles(all, 540);
  EXPECT_EQ(QueryText(db, "PRAGMA user_version"), "4");
  EXPECT_EQ(QueryText(db,
                      "SELECT value FROM meta WHERE key = "
                      "'schema_version'"),
            "4");
  EXPECT_TRUE(ValidStoreId(
      QueryText(db, "SELECT value FROM meta WHERE key = 'store_id'")));
  SqliteStore store(db, sequential);
  EXPECT_EQ(store.format().created_unix_s, 1700000000);
  store.Return({Range{505, 510}});
  store.Return({Range{520, 521}, Range{530, 532}});
  EXPECT_EQ(QueryText(db, "SELECT count(*) FROM returned"), "3");
  EXPECT_EQ(QueryText(db,
                      "SELECT value FROM meta WHERE key = "
                      "'returned_total'"),
            "8");
  EXPECT_EQ(store.Reserve(3).first, 505u);
}

// What the schema-2 code did to a version-1 store (WriteVersion1Store): a
// returned list (here with numbers in it) and an identity.
void UpgradeToVersion2(const std::string& db) {
  SQLite::Database raw(db, SQLite::OPEN_READWRITE);
  raw.exec(
      "CREATE TABLE returned(first INTEGER PRIMARY KEY CHECK(first >= 0),"
      "  last INTEGER NOT NULL, CHECK(first < last));"
      "INSERT INTO returned(first, last) VALUES (100, 110);"
      "UPDATE meta SET value = '2' WHERE key = 'schema_version';"
      "INSERT INTO meta(key, value) VALUES"
      "  ('store_id', '0123456789abcdef0123456789abcdef'),"
      "  ('returned_total', '10');"
      "PRAGMA user_version = 2;");
}

// Numbers issued before the upgrade are never issued again after it: the
// version-2 key space becomes "default" as it was, while the processes
// opening it also race to create a namespace.
TEST(SqliteStore, AVersion2StoreBecomesDefaultKeepingEveryNumber) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  WriteVersion1Store(db);
  UpgradeToVersion2(db);
  const StoreFormat sequential = Format(7, keys::KeyOrder::kSequential);
  const auto texts = InChildren(4, [&](int) {
    SqliteStore store(db, sequential);
    const Range invites = SpaceOf(store, "invites")->Reserve(5);
    return Serialize({store.Reserve(10), invites});
  });
  std::vector<Range> before{Range{0, 100}, Range{110, 500}};  // issued by v2
  std::vector<Range> invites;
  SplitPairs(Parse(texts), &before, &invites);
  ExpectTiles(before, 530);  // [100, 110) came back once, then the counter
  ExpectTiles(invites, 20);
  EXPECT_EQ(QueryText(db, "PRAGMA user_version"), "4");
  SqliteStore store(db, sequential);
  EXPECT_EQ(store.format().created_unix_s, 1700000000);
  EXPECT_EQ(store.format().store_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(store.Namespaces(),
            (std::vector<std::string>{"default", "invites"}));
  EXPECT_EQ(SpaceOf(store, "invites")->format().store_id,
            store.format().store_id);
  EXPECT_EQ(store.Reserve(10).first, 530u);
}

TEST(SqliteStore, RefusesAGarbageFileWithoutTouchingIt) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  const std::string garbage(8192, 'x');
  std::ofstream(db, std::ios::binary) << garbage;
  const StoreError e = ErrorFrom([&] { SqliteStore(db, kDefault); });
  EXPECT_FALSE(e.transient());
  const std::string msg = e.what();
  EXPECT_NE(msg.find("sqlite:" + db), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a database"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line please";
  EXPECT_EQ(forge::testing::ReadFile(db), garbage);
}

TEST(SqliteStore, RefusesASqliteDatabaseOfSomethingElse) {
  TempDir tmp;
  const std::string db = tmp / "app.db";
  {
    SQLite::Database raw(db, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("CREATE TABLE users(name TEXT)");
  }
  const StoreError e = ErrorFrom([&] { SqliteStore(db, kDefault); });
  EXPECT_FALSE(e.transient());
  EXPECT_NE(std::string(e.what()).find("something else"), std::string::npos)
      << e.what();
}

TEST(SqliteStore, RefusesACounterBeyondTheKeySpace) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  { SqliteStore create(db, Format(1, keys::KeyOrder::kSequential)); }
  {
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    raw.exec("UPDATE counter SET next = 63");
  }
  const StoreError e = ErrorFrom(
      [&] { SqliteStore(db, Format(1, keys::KeyOrder::kSequential)); });
  EXPECT_FALSE(e.transient());
  EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos)
      << e.what();
}

TEST(SqliteStore, LockHeldBeyondTheBusyTimeoutIsTransientAndLosesNothing) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  SqliteStore store(db, kDefault, Limits(milliseconds(200)));
  SQLite::Database other(db, SQLite::OPEN_READWRITE);
  {
    SQLite::Transaction hold(other, SQLite::TransactionBehavior::IMMEDIATE);
    const auto start = std::chrono::steady_clock::now();
    const StoreError e = ErrorFrom([&] { store.Reserve(10); });
    EXPECT_TRUE(e.transient()) << e.what();
    EXPECT_NE(std::string(e.what()).find("locked"), std::string::npos)
        << e.what();
    EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  }  // rolled back: the lock is free again
  const Range r = store.Reserve(10);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 10u);
}

// A namespace waits on the same clock (STORE_TIMEOUT_MS) and its errors
// name it.
TEST(SqliteStore, ANamespaceCallHasTheSameTimeoutAndNamesTheNamespace) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  SqliteStore store(db, kDefault, Limits(milliseconds(300)));
  auto invites = SpaceOf(store, "invites");
  SQLite::Database other(db, SQLite::OPEN_READWRITE);
  {
    SQLite::Transaction hold(other, SQLite::TransactionBehavior::IMMEDIATE);
    const auto start = std::chrono::steady_clock::now();
    const StoreError e = ErrorFrom([&] { invites->Reserve(10); });
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(e.transient()) << e.what();
    EXPECT_GE(took, milliseconds(300));
    EXPECT_LT(took, milliseconds(1000));
    EXPECT_TRUE(Has(e.what(), "sqlite:" + db + " namespace \"invites\": "))
        << e.what();
    EXPECT_TRUE(Has(e.what(), "STORE_TIMEOUT_MS=300")) << e.what();
  }
  EXPECT_EQ(invites->Reserve(10).first, 0u);
}

// STORE_TIMEOUT_MS is the one busy timeout (it was a fixed 5 s, with a
// SQLiteCpp timeout the busy handler overrode): a lock held for longer
// ends the call after about that long, never much later.
TEST(SqliteStore, BusyTimeoutIsTheStoreTimeout) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  for (const int ms : {300, 1200}) {
    SqliteStore store(db, kDefault, Limits(milliseconds(ms)));
    SQLite::Database other(db, SQLite::OPEN_READWRITE);
    SQLite::Transaction hold(other, SQLite::TransactionBehavior::IMMEDIATE);
    const auto start = std::chrono::steady_clock::now();
    const StoreError e = ErrorFrom([&] { store.Reserve(10); });
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(e.transient()) << e.what();
    EXPECT_GE(took, milliseconds(ms));
    EXPECT_LT(took, milliseconds(ms + 700)) << "STORE_TIMEOUT_MS=" << ms;
    EXPECT_NE(
        std::string(e.what()).find("STORE_TIMEOUT_MS=" + std::to_string(ms)),
        std::string::npos)
        << e.what();
  }
}

// A stop signal during a busy wait ends the call at once; the calls after
// it (returning numbers on the way out) share the stop budget.
TEST(SqliteStore, StopEndsABusyWaitAtOnce) {
  TempDir tmp;
  const std::string db = tmp / "forge.db";
  std::atomic<bool> stop{false};
  SqliteStore store(db, kDefault,
                    Limits(milliseconds(60000), &stop, milliseconds(300)));
  const Range mine = store.Reserve(10);
  SQLite::Database other(db, SQLite::OPEN_READWRITE);
  SQLite::Transaction hold(other, SQLite::TransactionBehavior::IMMEDIATE);
  std::thread signal([&] {
    std::this_thread::sleep_for(milliseconds(200));
    stop = true;
  });
  auto start = std::chrono::steady_clock::now();
  const StoreError e = ErrorFrom([&] { store.Reserve(10); });
  signal.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  EXPECT_TRUE(e.transient()) << e.what();
  EXPECT_NE(std::string(e.what()).find("stopping"), std::string::npos)
      << e.what();
  start = std::chrono::steady_clock::now();
  const StoreError back = ErrorFrom([&] { store.Return({mine}); });
  EXPECT_TRUE(back.transient()) << back.what();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST(SqliteStore, RejectsAKeyLengthOutsideOneToTen) {
  TempDir tmp;
  const StoreError e = ErrorFrom([&] {
    SqliteStore(tmp / "forge.db", Format(11, keys::KeyOrder::kScrambled));
  });
  EXPECT_FALSE(e.transient());
  EXPECT_NE(std::string(e.what()).find("KEY_LENGTH=11"), std::string::npos);
}

TEST(OpenStore, OpensSqliteUrlsAndDescribesThemWithAnAbsolutePath) {
  TempDir tmp;
  const auto store = OpenStore("sqlite:" + (tmp / "x/forge.db"), kDefault);
  EXPECT_EQ(store->Describe(), "sqlite:" + (tmp / "x/forge.db"));
  EXPECT_EQ(store->Reserve(3).last, 3u);
}

TEST(OpenStore, RejectsUnknownSchemesNamingTheAllowedFormsWithoutPassword) {
  const StoreError e = ErrorFrom(
      [] { OpenStore("mysql://root:hunter2@db:3306/forge", kDefault); });
  const std::string msg = e.what();
  EXPECT_FALSE(e.transient());
  EXPECT_NE(msg.find("mysql://root:***@db:3306/forge"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("unknown scheme"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sqlite:PATH"), std::string::npos) << msg;
  EXPECT_NE(msg.find("postgres://"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;

  const StoreError empty = ErrorFrom([] { OpenStore("sqlite:", kDefault); });
  EXPECT_NE(std::string(empty.what()).find("has an empty path"),
            std::string::npos)
      << empty.what();
}

// sqlite://x.db would be the file /x.db, sqlite:~/x.db a directory named
// "~": both are refused, naming the allowed forms, and create nothing.
TEST(OpenStore, RefusesSqliteHostAndTildeForms) {
  TempDir tmp;
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.path());
  for (const std::string url :
       {"sqlite://forge-open-store-test.db", "sqlite:~/forge.db"}) {
    const StoreError e = ErrorFrom([&] { OpenStore(url, kDefault); });
    const std::string msg = e.what();
    EXPECT_FALSE(e.transient()) << msg;
    EXPECT_NE(msg.find(url), std::string::npos) << msg;
    EXPECT_NE(msg.find("allowed: sqlite:PATH"), std::string::npos) << msg;
    EXPECT_NE(msg.find("sqlite:///ABSOLUTE/PATH"), std::string::npos) << msg;
  }
  std::filesystem::current_path(cwd);
  EXPECT_FALSE(std::filesystem::exists("/forge-open-store-test.db"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "~"));
}

TEST(OpenStore, OpensTheTripleSlashFormAsAnAbsolutePath) {
  TempDir tmp;
  const auto store = OpenStore("sqlite://" + (tmp / "forge.db"), kDefault);
  EXPECT_EQ(store->Describe(), "sqlite:" + (tmp / "forge.db"));
  EXPECT_TRUE(std::filesystem::is_regular_file(tmp / "forge.db"));
}

// A FIFO would make SQLite wait forever for a writer.
TEST(OpenStore, RefusesAFifoInsteadOfBlocking) {
  TempDir tmp;
  ASSERT_EQ(::mkfifo((tmp / "fifo.db").c_str(), 0600), 0);
  const StoreError e =
      ErrorFrom([&] { OpenStore("sqlite:" + (tmp / "fifo.db"), kDefault); });
  EXPECT_FALSE(e.transient());
  EXPECT_NE(std::string(e.what()).find("is a FIFO, not a regular file"),
            std::string::npos)
      << e.what();
}

TEST(OpenStore, PostgresUrlsReachPostgresStoreWithoutLeakingPassword) {
  // Nothing listens on a just-freed loopback port: the connect fails fast
  // and transiently, and the message names the server without the password.
  const std::string hostport =
      "127.0.0.1:" + std::to_string(forge::testing::FreePort());
  for (const std::string scheme : {"postgres://", "postgresql://"}) {
    const std::string url = scheme + "forge:s3cr3t@" + hostport + "/forge";
    const StoreError e = ErrorFrom([&] { OpenStore(url, kDefault); });
    const std::string msg = e.what();
    EXPECT_TRUE(e.transient()) << msg;
    EXPECT_NE(msg.find("forge:***@127.0.0.1"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("s3cr3t"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace forge::store::store_test
