// store/sqlite_store.h — the RangeStore in a SQLite file (docs/design.md §5).
//
// Contract (in addition to RangeStore's)
//   * The file is opened in WAL mode with synchronous=FULL, so a range is
//     on disk before Reserve returns. Each Reserve and each Return is one
//     BEGIN IMMEDIATE transaction (Reserve: take the lowest returned range
//     or its head, else read the counter and advance it; commit); SQLite's
//     single writer serialises them, so many processes on one host may
//     share the file and never get overlapping ranges.
//   * Creating: missing directories are made with mode 0700 and the file
//     with 0600 (SQLite gives its -wal and -shm files the same mode). The
//     schema and metadata are written in one transaction, so processes
//     racing to create one store all end up with the creator's format.
//   * Schema version 3 (PRAGMA user_version and meta.schema_version):
//       meta(key TEXT PRIMARY KEY, value TEXT) holds schema_version,
//         key_length, key_order, secret, created_unix_s, store_id (the
//         store's random identity, range_store.h), and after the first
//         Return returned_total (numbers ever returned);
//       counter(id INTEGER PRIMARY KEY CHECK(id=1), next INTEGER NOT NULL);
//       returned(first INTEGER PRIMARY KEY, last INTEGER NOT NULL,
//                CHECK(first >= 0 AND first < last)): numbers given back,
//         [first, last), never overlapping, all below counter.next;
//       namespaces(name TEXT PRIMARY KEY): the namespaces besides
//         "default", whose key space is the three tables above. Namespace
//         x has tables of the same shape "meta@x", "counter@x" and
//         "returned@x", created with its registry row in one write
//         transaction (racing creators: the first one's format stays).
//     A version-1 or -2 store is upgraded at open (CREATE TABLE returned
//     for version 1, CREATE TABLE namespaces, both version marks set to 3)
//     in one write transaction, so its counter and returned list become
//     "default"'s untouched; a store without meta.store_id (made by an
//     older build) gets one the same way. A newer version, a file that is
//     not SQLite, or a SQLite file that is not a mini-forge store is
//     refused with a non-transient StoreError.
//   * Namespace objects (OpenNamespace) share the opener's connection,
//     writer turns and call clock (STORE_TIMEOUT_MS): one connection per
//     process however many namespaces it serves.
//   * SQLITE_BUSY is retried for at most limits.timeout (STORE_TIMEOUT_MS)
//     per call in all, through one mechanism: this store's busy handler
//     (SQLite's own busy timeout is not set); past that, or at once when
//     the stop signal comes during the wait (see store_limits.h), the call
//     throws a transient StoreError.
//     Writers take turns through a sidecar "<PATH>-writers" (see
//     writer_turns.h) so none starves while others reserve back to back.
//   * One thread at a time per object; open it after fork(), not before.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/format.h"
#include "store/range_store.h"

namespace SQLite {
class Database;
class Statement;
class Transaction;
}  // namespace SQLite

namespace forge::store {

class WriterTurns;

class SqliteStore final : public FormattedStore {
 public:
  // `path` is the file name (the part after "sqlite:"). Creates the store
  // with `wanted` if it does not exist yet (unless wanted.key_length is 0);
  // see OpenStore for the rules.
  SqliteStore(const std::string& path, const StoreFormat& wanted,
              const StoreLimits& limits = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // count must be > 0 (FORGE_CHECK).
  Reservation ReserveAbove(std::uint64_t count, std::uint64_t mark) override;
  Regression ReturnAbove(const std::vector<Range>& ranges,
                         std::uint64_t mark) override;
  Advanced Advance(std::uint64_t to) override;
  std::uint64_t Next() override;
  std::vector<std::string> Namespaces() override;
  std::unique_ptr<RangeStore> OpenNamespace(const std::string& name,
                                            const StoreFormat* create) override;
  keys::BlocklistSpec ReadBlocklist() override;
  void WriteBlocklist(const keys::BlocklistSpec& spec) override;
  std::uint64_t PolicyGeneration() override;

 private:
  struct Connection;

  // A namespace's object on `connection` (no SQL run yet).
  SqliteStore(std::shared_ptr<Connection> connection, const std::string& store,
              const std::string& name);

  SQLite::Database& db() const;
  WriterTurns& turns() const;
  CallClock& clock() const;
  MetaTable Meta() const;  // this key space's metadata table, for Damaged
  void Configure();
  void CreateSchemaIfMissing(const StoreFormat& wanted);
  void Upgrade(int version);
  bool FindOrCreateNamespace(const StoreFormat* create,
                             const std::string& store_id);
  void Prepare();
  int CheckSchemaVersion();
  bool HasStoreId();
  void AddStoreIdIfMissing();
  std::chrono::microseconds GiveWayLimit() const;
  StoreFormat ReadFormat();
  std::uint64_t ReadCounter();
  std::optional<Range> TakeReturned(std::uint64_t count, std::uint64_t counter);
  void CheckNotReturned(const Range& r);
  void WriteCounter(std::uint64_t from, std::uint64_t to);
  std::uint64_t DropReturned();
  Regression RaiseToMark(std::uint64_t* counter, std::uint64_t mark);
  void RecordReturned(const std::vector<Range>& sorted);
  void CommitReturn(SQLite::Transaction& tx);
  template <typename F>
  auto Guarded(const char* doing, F&& work);
  static int OnBusy(void* connection, int count);

  std::shared_ptr<Connection> connection_;
  NamespaceTables tables_;
  std::unique_ptr<SQLite::Statement> read_next_;
  std::unique_ptr<SQLite::Statement> write_next_;
  std::unique_ptr<SQLite::Statement> lowest_returned_;
  std::unique_ptr<SQLite::Statement> shrink_returned_;
  std::unique_ptr<SQLite::Statement> delete_returned_;
};

}  // namespace forge::store
