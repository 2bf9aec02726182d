#include "store/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "base/status.h"
#include "keys/key_codec.h"
#include "store/format.h"
#include "store/writer_turns.h"

namespace forge::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// The longest a writer waits for waiting writers to have their turn.
constexpr milliseconds kMaxGiveWay(100);

constexpr const char* kSchemaSql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS counter("
    "  id INTEGER PRIMARY KEY CHECK(id = 1), next INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO counter(id, next) VALUES (1, 0);";

// Added by schema version 2 (also run to upgrade a version-1 store).
constexpr const char* kReturnedSql =
    "CREATE TABLE IF NOT EXISTS returned("
    "  first INTEGER PRIMARY KEY CHECK(first >= 0),"
    "  last INTEGER NOT NULL, CHECK(first < last));";

// The metadata table, and what to do about a damaged store.
constexpr MetaTable kMeta{"meta",
                          "move it away or point DB_URL at another file"};

bool IsBusy(int code) { return code == SQLITE_BUSY || code == SQLITE_LOCKED; }

// Retrying can help when another process holds a lock, the disk is full
// or I/O failed; not when the file is wrong, unreadable or read-only.
bool IsTransient(int code) {
  return IsBusy(code) || code == SQLITE_IOERR || code == SQLITE_FULL ||
         code == SQLITE_PROTOCOL;
}

std::string Hint(int code) {
  switch (code) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "; another process held the lock for too long, retry later";
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return "; check that the file and its directory are writable by this "
             "user";
    default:
      return "";
  }
}

// The file DB_URL names, made absolute (as given if that fails).
fs::path FileOf(const std::string& path) {
  std::error_code ec;
  const fs::path file = fs::absolute(path, ec).lexically_normal();
  return ec ? fs::path(path) : file;
}

// mkdir -p with mode 0700 for the directories that do not exist yet.
void MakeDirs(const fs::path& dir, const std::string& describe) {
  fs::path prefix;
  for (const fs::path& part : dir) {
    prefix /= part;
    if (::mkdir(prefix.c_str(), 0700) == 0 || errno == EEXIST) continue;
    throw StoreError("store " + describe + ": cannot create directory " +
                         prefix.string() + " (" + std::strerror(errno) +
                         "); create it or choose another DB_URL path",
                     /*transient=*/false);
  }
}

// Creates the file with mode 0600 if it does not exist; SQLite reads a
// zero-length file as an empty database and copies its mode to -wal/-shm.
void CreateFileIfMissing(const fs::path& file, const std::string& describe) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                        S_IRUSR | S_IWUSR);
  if (fd >= 0) {
    ::fchmod(fd, S_IRUSR | S_IWUSR);  // whatever the umask removed
    ::close(fd);
    return;
  }
  if (errno == EEXIST) return;
  throw StoreError("store " + describe + ": cannot create file " +
                       file.string() + " (" + std::strerror(errno) +
                       "); check the directory's permissions or choose "
                       "another DB_URL path",
                   /*transient=*/false);
}

}  // namespace

// One store call: retries SQLITE_BUSY while clock_ allows (the busy
// handler waits inside the same budget), then turns SQLite errors into
// one-line StoreErrors.
template <typename F>
auto SqliteStore::Guarded(const char* doing, F&& work) {
  clock_.Begin(clock_.limits().timeout);
  struct Lower {
    WriterTurns* turns;
    ~Lower() { turns->LowerFlag(); }
  } lower{turns_.get()};
  for (int attempt = 0;; ++attempt) {
    try {
      return work();
    } catch (const SQLite::Exception& e) {
      const int code = e.getErrorCode() & 0xff;
      const milliseconds left = clock_.Left();
      if (IsBusy(code) && left > milliseconds::zero()) {
        const auto pause =
            milliseconds(std::min(1 << std::min(attempt, 5), 20));
        std::this_thread::sleep_for(std::min(pause, left));
        continue;
      }
      if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
        throw StoreError("store " + describe() +
                             " is not a usable SQLite database (" + e.what() +
                             "); move it away or point DB_URL at another file",
                         /*transient=*/false);
      }
      const std::string waited = IsBusy(code) ? " (" + clock_.Why() + ")" : "";
      throw StoreError("store " + describe() + ": " + doing +
                           " failed: " + e.what() + waited + Hint(code),
                       IsTransient(code));
    }
  }
}

SqliteStore::SqliteStore(const std::string& path, const StoreFormat& wanted,
                         const StoreLimits& limits)
    : FormattedStore("sqlite:" + FileOf(path).string(), wanted),
      clock_(limits) {
  const fs::path file = FileOf(path);
  MakeDirs(file.parent_path(), describe());
  CreateFileIfMissing(file, describe());
  try {
    turns_ = std::make_unique<WriterTurns>(file.string() + "-writers");
  } catch (const std::system_error& e) {
    throw StoreError("store " + describe() + ": " + e.what() +
                         "; check the directory's permissions",
                     /*transient=*/false);
  }
  Guarded("opening", [&] {
    // No SQLiteCpp busy timeout: OnBusy is the one busy mechanism.
    db_ = std::make_unique<SQLite::Database>(file.string(),
                                             SQLite::OPEN_READWRITE);
    sqlite3_busy_handler(db_->getHandle(), &SqliteStore::OnBusy, this);
  });
  // SQLite silently opens a write-protected file read-only; refuse it here,
  // before the broker takes a segment, not at the first Reserve.
  if (sqlite3_db_readonly(db_->getHandle(), "main") == 1) {
    throw StoreError("store " + describe() +
                         ": the file can only be opened read-only; check "
                         "that it and its directory are writable by this user",
                     /*transient=*/false);
  }
  Guarded("setting WAL mode", [&] { Configure(); });
  Guarded("creating the schema", [&] { CreateSchemaIfMissing(wanted); });
  Opened(Guarded("reading the metadata", [&] { return ReadFormat(); }), wanted);
  Guarded("preparing statements", [&] {
    read_next_ = std::make_unique<SQLite::Statement>(
        *db_, "SELECT next FROM counter WHERE id = 1");
    write_next_ = std::make_unique<SQLite::Statement>(
        *db_, "UPDATE counter SET next = ?1 WHERE id = 1 AND next = ?2");
    lowest_returned_ = std::make_unique<SQLite::Statement>(
        *db_, "SELECT first, last FROM returned ORDER BY first LIMIT 1");
    shrink_returned_ = std::make_unique<SQLite::Statement>(
        *db_, "UPDATE returned SET first = ?1 WHERE first = ?2");
    delete_returned_ = std::make_unique<SQLite::Statement>(
        *db_, "DELETE FROM returned WHERE first = ?1");
  });
  Guarded("reading the counter", [&] { return ReadCounter(); });
}

SqliteStore::~SqliteStore() = default;

// SQLite calls this while another connection holds the lock: raise our
// flag (so the holder gives way next time) and poll often, since the lock
// is free only for moments between the holder's transactions. Gives up
// (SQLITE_BUSY) when the call's clock says so: timeout or stop signal.
int SqliteStore::OnBusy(void* self, int count) {
  auto* store = static_cast<SqliteStore*>(self);
  if (store->clock_.Left() == milliseconds::zero()) return 0;
  store->turns_->RaiseFlag();
  std::this_thread::sleep_for(microseconds(100 * std::min(count + 1, 10)));
  return 1;
}

void SqliteStore::Configure() {
  const std::string mode =
      db_->execAndGet("PRAGMA journal_mode = WAL").getString();
  if (mode != "wal") {
    throw StoreError("store " + describe() +
                         ": cannot use WAL mode (SQLite chose journal_mode=" +
                         mode + "); put the file on a local file system",
                     /*transient=*/false);
  }
  db_->exec("PRAGMA synchronous = FULL");
}

// One IMMEDIATE transaction: the first process to get the write lock
// creates the schema and metadata (or upgrades a version-1 store); later
// ones find user_version current.
void SqliteStore::CreateSchemaIfMissing(const StoreFormat& wanted) {
  if (CheckSchemaVersion() == kStoreSchemaVersion && HasStoreId()) {
    return;  // current: no need for the write lock
  }
  turns_->GiveWay(GiveWayLimit());
  SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  turns_->LowerFlag();
  const int version = CheckSchemaVersion();
  if (version == kStoreSchemaVersion || version == kUpgradableSchemaVersion) {
    if (version == kUpgradableSchemaVersion) Upgrade();
    AddStoreIdIfMissing();
    tx.commit();
    return;
  }
  const int foreign =
      db_->execAndGet(
             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
             "name NOT IN ('meta', 'counter', 'returned') AND "
             "name NOT LIKE 'sqlite%'")
          .getInt();
  if (foreign > 0) {
    throw StoreError("store " + describe() +
                         " is a SQLite database of something else (it has "
                         "other tables); point DB_URL at another file",
                     /*transient=*/false);
  }
  db_->exec(kSchemaSql);
  db_->exec(kReturnedSql);
  SQLite::Statement insert(
      *db_, "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, ?2)");
  for (const auto& [key, value] : NewFormatRows(wanted)) {
    insert.bind(1, key);
    insert.bind(2, value);
    insert.exec();
    insert.reset();
  }
  db_->exec("PRAGMA user_version = " + std::to_string(kStoreSchemaVersion));
  tx.commit();
}

// Version 1 -> 2: adds the returned list. Inside the caller's write
// transaction, so racing processes upgrade exactly once, and a version-1
// program still running on the file keeps working (it only advances the
// counter, which stays correct).
void SqliteStore::Upgrade() {
  db_->exec(kReturnedSql);
  db_->exec("UPDATE meta SET value = '" + std::to_string(kStoreSchemaVersion) +
            "' WHERE key = 'schema_version'");
  db_->exec("PRAGMA user_version = " + std::to_string(kStoreSchemaVersion));
}

bool SqliteStore::HasStoreId() {
  return db_->execAndGet("SELECT count(*) FROM meta WHERE key = 'store_id'")
             .getInt() > 0;
}

// Inside the caller's write transaction: a store made before identities
// existed gets one (racing processes: the first one's stays).
void SqliteStore::AddStoreIdIfMissing() {
  SQLite::Statement insert(
      *db_, "INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', ?1)");
  insert.bind(1, RandomStoreId());
  insert.exec();
}

int SqliteStore::CheckSchemaVersion() {
  const int version = db_->execAndGet("PRAGMA user_version").getInt();
  CheckNotNewer(describe(), version);
  return version;
}

microseconds SqliteStore::GiveWayLimit() const {
  return std::min<microseconds>(kMaxGiveWay, clock_.limits().timeout / 2);
}

StoreFormat SqliteStore::ReadFormat() {
  MetaRows meta;
  SQLite::Statement query(*db_, "SELECT key, value FROM meta");
  while (query.executeStep()) {
    meta[query.getColumn(0).getString()] = query.getColumn(1).getString();
  }
  return ParseFormat(describe(), kMeta, meta);
}

std::uint64_t SqliteStore::ReadCounter() {
  read_next_->tryReset();
  if (!read_next_->executeStep()) {
    throw Damaged(describe(), kMeta, "the counter row is missing");
  }
  const std::int64_t next = read_next_->getColumn(0).getInt64();
  read_next_->tryReset();  // ends the read snapshot
  if (next < 0 || static_cast<std::uint64_t>(next) > space()) {
    throw Damaged(describe(), kMeta,
                  "counter.next=" + std::to_string(next) + " is outside [0, " +
                      std::to_string(space()) + "]");
  }
  return static_cast<std::uint64_t>(next);
}

// Inside Reserve's transaction: the first `count` numbers of the lowest
// returned range, removed from the list; nullopt when the list is empty.
// Every returned number lies below `counter`.
std::optional<Range> SqliteStore::TakeReturned(std::uint64_t count,
                                               std::uint64_t counter) {
  lowest_returned_->tryReset();
  if (!lowest_returned_->executeStep()) return std::nullopt;
  const std::int64_t first = lowest_returned_->getColumn(0).getInt64();
  const std::int64_t last = lowest_returned_->getColumn(1).getInt64();
  lowest_returned_->tryReset();
  if (first < 0 || last <= first ||
      static_cast<std::uint64_t>(last) > counter) {
    throw Damaged(describe(), kMeta,
                  "returned range [" + std::to_string(first) + ", " +
                      std::to_string(last) + ") is not below " +
                      "counter.next=" + std::to_string(counter));
  }
  const Range whole{static_cast<std::uint64_t>(first),
                    static_cast<std::uint64_t>(last)};
  const Range taken{whole.first, whole.first + std::min(count, whole.size())};
  SQLite::Statement& change =
      taken.last == whole.last ? *delete_returned_ : *shrink_returned_;
  change.tryReset();
  if (taken.last == whole.last) {
    change.bind(1, first);
  } else {
    change.bind(1, static_cast<std::int64_t>(taken.last));
    change.bind(2, first);
  }
  if (change.exec() != 1) {
    throw Damaged(describe(), kMeta,
                  "a returned range changed inside a transaction");
  }
  return taken;
}

Range SqliteStore::Reserve(std::uint64_t count) {
  FORGE_CHECK(count > 0, "Reserve(0): count must be > 0");
  return Guarded("reserving a range", [&] {
    turns_->GiveWay(GiveWayLimit());
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    turns_->LowerFlag();  // our turn has come
    const std::uint64_t first = ReadCounter();
    if (const std::optional<Range> back = TakeReturned(count, first)) {
      tx.commit();  // synchronous=FULL: durable once this returns
      return *back;
    }
    const std::uint64_t last = first + std::min(count, space() - first);
    if (last != first) {
      write_next_->tryReset();
      write_next_->bind(1, static_cast<std::int64_t>(last));
      write_next_->bind(2, static_cast<std::int64_t>(first));
      if (write_next_->exec() != 1) {
        throw Damaged(describe(), kMeta,
                      "the counter changed inside a transaction");
      }
    }
    tx.commit();  // synchronous=FULL: durable once this returns
    return Range{first, last};
  });
}

// Inside Return's transaction: refuses a range that overlaps one already
// returned (it would be handed out twice).
void SqliteStore::CheckNotReturned(const Range& r) {
  SQLite::Statement overlap(*db_,
                            "SELECT first, last FROM returned WHERE first < ?2 "
                            "AND last > ?1 ORDER BY first LIMIT 1");
  overlap.bind(1, static_cast<std::int64_t>(r.first));
  overlap.bind(2, static_cast<std::int64_t>(r.last));
  if (!overlap.executeStep()) return;
  throw ReturnedTwice(
      describe(), r,
      Range{static_cast<std::uint64_t>(overlap.getColumn(0).getInt64()),
            static_cast<std::uint64_t>(overlap.getColumn(1).getInt64())});
}

void SqliteStore::Return(const std::vector<Range>& ranges) {
  if (std::none_of(ranges.begin(), ranges.end(),
                   [](const Range& r) { return r.first < r.last; })) {
    return;
  }
  Guarded("returning numbers", [&] {
    turns_->GiveWay(GiveWayLimit());
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    turns_->LowerFlag();
    const std::vector<Range> sorted =
        CheckReturnable(describe(), ranges, ReadCounter());
    SQLite::Statement insert(
        *db_, "INSERT INTO returned(first, last) VALUES (?1, ?2)");
    std::uint64_t total = 0;
    for (const Range& r : sorted) {
      CheckNotReturned(r);
      insert.bind(1, static_cast<std::int64_t>(r.first));
      insert.bind(2, static_cast<std::int64_t>(r.last));
      insert.exec();
      insert.reset();
      total += r.size();
    }
    SQLite::Statement tally(
        *db_,
        "INSERT INTO meta(key, value) VALUES ('returned_total', ?1) "
        "ON CONFLICT(key) DO UPDATE SET value = "
        "CAST(CAST(value AS INTEGER) + CAST(?1 AS INTEGER) AS TEXT)");
    tally.bind(1, std::to_string(total));
    tally.exec();
    CommitReturn(tx);
  });
}

// A commit that fails may still have reached the disk; retrying the Return
// could then record the numbers twice, so the failure is final.
void SqliteStore::CommitReturn(SQLite::Transaction& tx) {
  try {
    tx.commit();
  } catch (const SQLite::Exception& e) {
    throw StoreError("store " + describe() +
                         ": committing returned numbers failed (" + e.what() +
                         "), so whether they were recorded is unknown; not "
                         "retried, since that could record them twice; they "
                         "count as lost (a gap)",
                     /*transient=*/false);
  }
}

std::uint64_t SqliteStore::Next() {
  return Guarded("reading the counter", [&] { return ReadCounter(); });
}

std::vector<std::string> SqliteStore::Namespaces() {
  throw StoreError("namespaces: not implemented yet", false);
}

std::unique_ptr<RangeStore> SqliteStore::OpenNamespace(const std::string&,
                                                       const StoreFormat*) {
  throw StoreError("namespaces: not implemented yet", false);
}

}  // namespace forge::store
