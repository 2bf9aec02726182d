// tests/store/store_test_util.h — helpers shared by the range store tests.
//
// Contract
//   * InChildren forks n processes that start at the same moment, runs
//     body(i) in each and returns what each returned, in order. A child
//     that throws (its text becomes "error: ...") or exits non-zero fails
//     the calling test; one still running after `deadline` is killed and
//     fails it too. The caller must not hold an open store across the fork
//     (RangeStore contract); children leave with _exit, running no
//     destructors of the parent's objects.
//   * Ranges travel between processes as text, "first last" per line.
//   * Call from the test's main thread only.
//   * Format and Limits build the StoreFormat and StoreLimits a test asks
//     a store for.
//   * BothStoresTest is the fixture of tests that run on SQLite and on
//     PostgreSQL (parameter: the backend): NewUrl() names a store of its own
//     (a file in a temp dir, or a database of the one throw-away server of
//     the test binary, started on first use). Instantiate with
//     FORGE_ON_BOTH_STORES(Suite). RawSql runs SQL on such a store behind
//     the RangeStore's back.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keys/key_codec.h"
#include "store/format.h"
#include "store/range_store.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace forge::store::store_test {

std::vector<std::string> InChildren(
    int n, const std::function<std::string(int)>& body,
    std::chrono::milliseconds deadline = std::chrono::milliseconds(180000));

std::string Serialize(const std::vector<Range>& ranges);
std::vector<Range> Parse(const std::vector<std::string>& texts);
// Appends ranges 0, 2, 4, ... to *even and 1, 3, 5, ... to *odd (children
// that each reported two ranges, of two key spaces).
void SplitPairs(const std::vector<Range>& ranges, std::vector<Range>* even,
                std::vector<Range>* odd);

// Fails the test unless the non-empty `ranges` tile [0, end) exactly: no
// overlap, no hole.
void ExpectTiles(std::vector<Range> ranges, std::uint64_t end);

// The StoreError that `work` throws (fails the test if it throws none).
StoreError ErrorFrom(const std::function<void()>& work);

// A wanted format: key length, order and (0: the store picks one) secret.
StoreFormat Format(int length, keys::KeyOrder order, std::uint64_t secret = 0);

// STORE_TIMEOUT_MS, the stop flag and the stop budget of a test store.
StoreLimits Limits(
    std::chrono::milliseconds timeout, const std::atomic<bool>* stop = nullptr,
    std::chrono::milliseconds stop_budget = std::chrono::milliseconds(1000));

// store.OpenNamespace(name, create), which must give an object (throws
// std::runtime_error naming the namespace when it gives nullptr).
std::unique_ptr<RangeStore> OpenSpace(RangeStore& store,
                                      const std::string& name,
                                      const StoreFormat* create);

// True if `text` contains `part` (for EXPECT_TRUE with a message).
bool Has(const std::string& text, const std::string& part);

using Backend = forge::testing::StoreKind;  // the one store-kind enum

class BothStoresTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite();
  // A DB_URL naming a store of its own for this test.
  std::string NewUrl();
  // The server behind NewUrl()'s PostgreSQL URLs (null before the first).
  static forge::testing::PostgresServer* server() { return server_; }
  // The database name of a URL NewUrl() made.
  static std::string DatabaseOf(const std::string& url);
  // Runs `sql` directly on the store `url` names (NewUrl's), bypassing
  // the RangeStore: to age, damage or set it back.
  void RawSql(const std::string& url, const std::string& sql) const;
  // Namespace `name`'s tables in this backend, quoted for SQL.
  NamespaceTables TablesHere(const std::string& name) const;

  forge::testing::TempDir dir_;

 private:
  static forge::testing::PostgresServer* server_;
};

// "Sqlite" / "Postgres", for the instantiated test names.
std::string BackendTestName(const ::testing::TestParamInfo<Backend>& info);

#define FORGE_ON_BOTH_STORES(Suite)                                      \
  INSTANTIATE_TEST_SUITE_P(                                              \
      Stores, Suite,                                                     \
      ::testing::Values(::forge::store::store_test::Backend::kSqlite,    \
                        ::forge::store::store_test::Backend::kPostgres), \
      ::forge::store::store_test::BackendTestName)

}  // namespace forge::store::store_test
