// Pins durability of the SQLite store (docs/design.md §2.1, "durable before
// visible"): a store opened through OpenStore, the broker's own code, runs
// with PRAGMA synchronous = FULL on its connection and syncs the disk in
// every Reserve, even on a SQLite whose default is weaker.
//
// Debian's SQLite defaults to FULL, so deleting the store's PRAGMA would
// change nothing here by itself. This binary therefore interposes
// sqlite3_open_v2 (SQLiteCpp is linked statically, so its call resolves to
// the definition below) and lowers every new connection to NORMAL, as a
// SQLite built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 would be: only the
// store's own PRAGMA can bring it back. It also counts fsync/fdatasync
// (libsqlite3's calls resolve to the executable's definitions first).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "store/range_store.h"
#include "tests/support/process.h"

namespace {

// The connection the store under test opened last, and syncs so far.
std::atomic<sqlite3*> g_last_db{nullptr};
std::atomic<int> g_syncs{0};

template <typename F>
F Next(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int sqlite3_open_v2(const char* filename, sqlite3** db, int flags,
                    const char* vfs) {
  using Open = int (*)(const char*, sqlite3**, int, const char*);
  static const Open real = Next<Open>("sqlite3_open_v2");
  const int rc = real(filename, db, flags, vfs);
  if (rc == SQLITE_OK) {
    // The weaker default some builds have; set explicitly, it also
    // survives the switch to WAL mode.
    sqlite3_exec(*db, "PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr);
    // relaxed: read by the same thread after the store's constructor.
    g_last_db.store(*db, std::memory_order_relaxed);
  }
  return rc;
}

int fsync(int fd) {
  using Sync = int (*)(int);
  static const Sync real = Next<Sync>("fsync");
  // relaxed: a count read by the same thread.
  g_syncs.fetch_add(1, std::memory_order_relaxed);
  return real(fd);
}

int fdatasync(int fd) {
  using Sync = int (*)(int);
  static const Sync real = Next<Sync>("fdatasync");
  // relaxed: a count read by the same thread.
  g_syncs.fetch_add(1, std::memory_order_relaxed);
  return real(fd);
}

}  // extern "C"

namespace forge::store {
namespace {

using forge::testing::TempDir;

int Pragma(sqlite3* db, const char* sql) {
  int value = -1;
  const auto read = [](void* out, int n, char** cols, char**) {
    if (n > 0 && cols[0] != nullptr)
      *static_cast<int*>(out) = std::atoi(cols[0]);
    return 0;
  };
  EXPECT_EQ(sqlite3_exec(db, sql, read, &value, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  return value;
}

StoreFormat Sequential() {
  StoreFormat f;
  f.order = keys::KeyOrder::kSequential;
  return f;
}

TEST(SqliteSync, TheInterposedOpenReallyWeakensANewConnection) {
  TempDir tmp;
  sqlite3* db = nullptr;
  ASSERT_EQ(
      sqlite3_open_v2((tmp / "plain.db").c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
      SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr),
      SQLITE_OK);
  EXPECT_EQ(Pragma(db, "PRAGMA synchronous"), 1) << "NORMAL expected";
  sqlite3_close(db);
}

TEST(SqliteSync, TheStoreConnectionRunsWithSynchronousFull) {
  TempDir tmp;
  g_last_db.store(nullptr, std::memory_order_relaxed);  // relaxed: one thread
  const std::unique_ptr<RangeStore> store =
      OpenStore("sqlite:" + (tmp / "forge.db"), Sequential());
  sqlite3* db = g_last_db.load(std::memory_order_relaxed);
  ASSERT_NE(db, nullptr) << "the store did not open through sqlite3_open_v2";
  ASSERT_STREQ(sqlite3_db_filename(db, "main"), (tmp / "forge.db").c_str());
  EXPECT_EQ(Pragma(db, "PRAGMA synchronous"), 2)
      << "the store's connection must set PRAGMA synchronous = FULL itself "
         "(2 = FULL, 1 = NORMAL)";
}

TEST(SqliteSync, EveryReserveSyncsTheDiskBeforeItReturns) {
  TempDir tmp;
  const std::unique_ptr<RangeStore> store =
      OpenStore("sqlite:" + (tmp / "forge.db"), Sequential());
  for (int i = 0; i < 20; ++i) {
    const int before = g_syncs.load(std::memory_order_relaxed);  // one thread
    const Range r = store->Reserve(3);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_GE(g_syncs.load(std::memory_order_relaxed) - before, 1)
        << "Reserve " << i << " returned without fsync/fdatasync";
  }
}

}  // namespace
}  // namespace forge::store
