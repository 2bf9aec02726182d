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

#include "base/names.h"
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

// The metadata and counter tables of a key space ("default"'s or a
// namespace's).
std::string SchemaSql(const NamespaceTables& t) {
  return "CREATE TABLE IF NOT EXISTS " + t.meta_sql +
         "(key TEXT PRIMARY KEY, value TEXT);"
         "CREATE TABLE IF NOT EXISTS " +
         t.counter_sql +
         "(id INTEGER PRIMARY KEY CHECK(id = 1), next INTEGER NOT NULL);"
         "INSERT OR IGNORE INTO " +
         t.counter_sql + "(id, next) VALUES (1, 0);";
}

// Added by schema version 2 (also run to upgrade a version-1 store).
std::string ReturnedSql(const NamespaceTables& t) {
  return "CREATE TABLE IF NOT EXISTS " + t.returned_sql +
         "(first INTEGER PRIMARY KEY CHECK(first >= 0),"
         "  last INTEGER NOT NULL, CHECK(first < last));";
}

// Added by schema version 3 (also run to upgrade a version-1 or -2 store).
constexpr const char* kNamespacesSql =
    "CREATE TABLE IF NOT EXISTS namespaces(name TEXT PRIMARY KEY);";

// What to do about a damaged store.
constexpr std::string_view kSqliteRepair =
    "move it away or point DB_URL at another file";

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

// What every namespace object of one store shares: one connection, its
// writer turns and the call clock (one thread uses them at a time).
struct SqliteStore::Connection {
  explicit Connection(const StoreLimits& limits) : clock(limits) {}
  CallClock clock;
  std::unique_ptr<WriterTurns> turns;
  std::unique_ptr<SQLite::Database> db;
};

SQLite::Database& SqliteStore::db() const { return *connection_->db; }
WriterTurns& SqliteStore::turns() const { return *connection_->turns; }
CallClock& SqliteStore::clock() const { return connection_->clock; }
MetaTable SqliteStore::Meta() const { return {tables_.meta, kSqliteRepair}; }

// One store call: retries SQLITE_BUSY while clock() allows (the busy
// handler waits inside the same budget), then turns SQLite errors into
// one-line StoreErrors.
template <typename F>
auto SqliteStore::Guarded(const char* doing, F&& work) {
  clock().Begin(clock().limits().timeout);
  struct Lower {
    WriterTurns* turns;
    ~Lower() { turns->LowerFlag(); }
  } lower{&turns()};
  for (int attempt = 0;; ++attempt) {
    try {
      return work();
    } catch (const SQLite::Exception& e) {
      const int code = e.getErrorCode() & 0xff;
      const milliseconds left = clock().Left();
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
      const std::string waited = IsBusy(code) ? " (" + clock().Why() + ")" : "";
      throw StoreError("store " + describe() + ": " + doing +
                           " failed: " + e.what() + waited + Hint(code),
                       IsTransient(code));
    }
  }
}

SqliteStore::SqliteStore(const std::string& path, const StoreFormat& wanted,
                         const StoreLimits& limits)
    : FormattedStore("sqlite:" + FileOf(path).string(), wanted),
      connection_(std::make_shared<Connection>(limits)),
      tables_(TablesOf("", std::string(base::kDefaultNamespace))) {
  const fs::path file = FileOf(path);
  std::error_code ec;
  if (wanted.key_length == 0 && !fs::exists(file, ec)) {
    throw NoKeySpace(describe());  // forge-ctl never creates a store
  }
  MakeDirs(file.parent_path(), describe());
  CreateFileIfMissing(file, describe());
  try {
    connection_->turns =
        std::make_unique<WriterTurns>(file.string() + "-writers");
  } catch (const std::system_error& e) {
    throw StoreError("store " + describe() + ": " + e.what() +
                         "; check the directory's permissions",
                     /*transient=*/false);
  }
  Guarded("opening", [&] {
    // No SQLiteCpp busy timeout: OnBusy is the one busy mechanism.
    connection_->db = std::make_unique<SQLite::Database>(
        file.string(), SQLite::OPEN_READWRITE);
    sqlite3_busy_handler(db().getHandle(), &SqliteStore::OnBusy,
                         connection_.get());
  });
  // SQLite silently opens a write-protected file read-only; refuse it here,
  // before the broker takes a segment, not at the first Reserve.
  if (sqlite3_db_readonly(db().getHandle(), "main") == 1) {
    throw StoreError("store " + describe() +
                         ": the file can only be opened read-only; check "
                         "that it and its directory are writable by this user",
                     /*transient=*/false);
  }
  Guarded("setting WAL mode", [&] { Configure(); });
  Guarded("creating the schema", [&] { CreateSchemaIfMissing(wanted); });
  Opened(Guarded("reading the metadata", [&] { return ReadFormat(); }), wanted);
  Prepare();
}

SqliteStore::SqliteStore(std::shared_ptr<Connection> connection,
                         const std::string& store, const std::string& name)
    : FormattedStore(store, name),
      connection_(std::move(connection)),
      tables_(TablesOf("", name)) {}

SqliteStore::~SqliteStore() = default;

// The statements of every Reserve, on this key space's tables; then a
// first read of the counter (a damaged one is refused now, not later).
void SqliteStore::Prepare() {
  const std::string& counter = tables_.counter_sql;
  const std::string& returned = tables_.returned_sql;
  Guarded("preparing statements", [&] {
    read_next_ = std::make_unique<SQLite::Statement>(
        db(), "SELECT next FROM " + counter + " WHERE id = 1");
    write_next_ = std::make_unique<SQLite::Statement>(
        db(),
        "UPDATE " + counter + " SET next = ?1 WHERE id = 1 AND next = ?2");
    lowest_returned_ = std::make_unique<SQLite::Statement>(
        db(),
        "SELECT first, last FROM " + returned + " ORDER BY first LIMIT 1");
    shrink_returned_ = std::make_unique<SQLite::Statement>(
        db(), "UPDATE " + returned + " SET first = ?1 WHERE first = ?2");
    delete_returned_ = std::make_unique<SQLite::Statement>(
        db(), "DELETE FROM " + returned + " WHERE first = ?1");
  });
  Guarded("reading the counter", [&] { return ReadCounter(); });
}

// SQLite calls this while another connection holds the lock: raise our
// flag (so the holder gives way next time) and poll often, since the lock
// is free only for moments between the holder's transactions. Gives up
// (SQLITE_BUSY) when the call's clock says so: timeout or stop signal.
int SqliteStore::OnBusy(void* connection, int count) {
  auto* shared = static_cast<Connection*>(connection);
  if (shared->clock.Left() == milliseconds::zero()) return 0;
  shared->turns->RaiseFlag();
  std::this_thread::sleep_for(microseconds(100 * std::min(count + 1, 10)));
  return 1;
}

void SqliteStore::Configure() {
  const std::string mode =
      db().execAndGet("PRAGMA journal_mode = WAL").getString();
  if (mode != "wal") {
    throw StoreError("store " + describe() +
                         ": cannot use WAL mode (SQLite chose journal_mode=" +
                         mode + "); put the file on a local file system",
                     /*transient=*/false);
  }
  db().exec("PRAGMA synchronous = FULL");
}

// One IMMEDIATE transaction: the first process to get the write lock
// creates the schema and metadata (or upgrades a version-1 or -2 store);
// later ones find user_version current. wanted.key_length 0 never creates.
void SqliteStore::CreateSchemaIfMissing(const StoreFormat& wanted) {
  if (CheckSchemaVersion() == kStoreSchemaVersion && HasStoreId()) {
    return;  // current: no need for the write lock
  }
  turns().GiveWay(GiveWayLimit());
  SQLite::Transaction tx(db(), SQLite::TransactionBehavior::IMMEDIATE);
  turns().LowerFlag();
  const int version = CheckSchemaVersion();
  if (version >= kUpgradableSchemaVersion) {
    if (version < kStoreSchemaVersion) Upgrade(version);
    AddStoreIdIfMissing();
    tx.commit();
    return;
  }
  const int foreign =
      db().execAndGet(
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
  if (wanted.key_length == 0) throw NoKeySpace(describe());
  db().exec(SchemaSql(tables_));
  db().exec(ReturnedSql(tables_));
  db().exec(kNamespacesSql);
  SQLite::Statement insert(
      db(), "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, ?2)");
  for (const auto& [key, value] : NewFormatRows(CreatedDefault(wanted))) {
    insert.bind(1, key);
    insert.bind(2, value);
    insert.exec();
    insert.reset();
  }
  db().exec("PRAGMA user_version = " + std::to_string(kStoreSchemaVersion));
  tx.commit();
}

// Version 1 -> 4 adds the returned list and the namespace registry,
// version 2 -> 4 the registry; 3 -> 4 adds nothing (absent policy rows
// read as the defaults) but the version in every metadata table. Inside
// the caller's write transaction, so racing processes upgrade exactly
// once. An older program still running on the file keeps working until
// it reads a metadata table again (then it refuses the newer schema).
void SqliteStore::Upgrade(int version) {
  if (version < 2) db().exec(ReturnedSql(tables_));
  db().exec(kNamespacesSql);
  std::vector<std::string> metas{tables_.meta_sql};
  SQLite::Statement names(db(), "SELECT name FROM namespaces");
  while (names.executeStep()) {
    metas.push_back(TablesOf("", names.getColumn(0).getString()).meta_sql);
  }
  for (const std::string& meta : metas) {
    db().exec("UPDATE " + meta + " SET value = '" +
              std::to_string(kStoreSchemaVersion) +
              "' WHERE key = 'schema_version'");
  }
  db().exec("PRAGMA user_version = " + std::to_string(kStoreSchemaVersion));
}

bool SqliteStore::HasStoreId() {
  return db().execAndGet("SELECT count(*) FROM meta WHERE key = 'store_id'")
             .getInt() > 0;
}

// Inside the caller's write transaction: a store made before identities
// existed gets one (racing processes: the first one's stays).
void SqliteStore::AddStoreIdIfMissing() {
  SQLite::Statement insert(
      db(), "INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', ?1)");
  insert.bind(1, RandomStoreId());
  insert.exec();
}

int SqliteStore::CheckSchemaVersion() {
  const int version = db().execAndGet("PRAGMA user_version").getInt();
  CheckNotNewer(describe(), version);
  return version;
}

microseconds SqliteStore::GiveWayLimit() const {
  return std::min<microseconds>(kMaxGiveWay, clock().limits().timeout / 2);
}

StoreFormat SqliteStore::ReadFormat() {
  MetaRows meta;
  SQLite::Statement query(db(), "SELECT key, value FROM " + tables_.meta_sql);
  while (query.executeStep()) {
    meta[query.getColumn(0).getString()] = query.getColumn(1).getString();
  }
  return ParseFormat(describe(), Meta(), meta);
}

std::uint64_t SqliteStore::ReadCounter() {
  read_next_->tryReset();
  if (!read_next_->executeStep()) {
    throw Damaged(describe(), Meta(), "the counter row is missing");
  }
  const std::int64_t next = read_next_->getColumn(0).getInt64();
  read_next_->tryReset();  // ends the read snapshot
  if (next < 0 || static_cast<std::uint64_t>(next) > space()) {
    throw Damaged(describe(), Meta(),
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
    throw Damaged(describe(), Meta(),
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
    throw Damaged(describe(), Meta(),
                  "a returned range changed inside a transaction");
  }
  return taken;
}

// Inside a transaction: counter.next from `from` to `to`.
void SqliteStore::WriteCounter(std::uint64_t from, std::uint64_t to) {
  write_next_->tryReset();
  write_next_->bind(1, static_cast<std::int64_t>(to));
  write_next_->bind(2, static_cast<std::int64_t>(from));
  if (write_next_->exec() != 1) {
    throw Damaged(describe(), Meta(),
                  "the counter changed inside a transaction");
  }
}

// Inside a transaction: empties the returned list; how many numbers it held.
std::uint64_t SqliteStore::DropReturned() {
  SQLite::Statement sum(db(), "SELECT COALESCE(SUM(last - first), 0) FROM " +
                                  tables_.returned_sql);
  sum.executeStep();
  const auto dropped = static_cast<std::uint64_t>(sum.getColumn(0).getInt64());
  db().exec("DELETE FROM " + tables_.returned_sql);
  return dropped;
}

// Inside a transaction that read *counter: the regression guard (see
// range_store.h). Moves a counter below `mark` up to it.
Regression SqliteStore::RaiseToMark(std::uint64_t* counter,
                                    std::uint64_t mark) {
  mark = std::min(mark, space());
  if (*counter >= mark) return {};
  Regression r;
  r.skipped = Range{*counter, mark};
  WriteCounter(*counter, mark);
  r.dropped = DropReturned();
  *counter = mark;
  return r;
}

Reservation SqliteStore::ReserveAbove(std::uint64_t count, std::uint64_t mark) {
  FORGE_CHECK(count > 0, "Reserve(0): count must be > 0");
  return Guarded("reserving a range", [&] {
    turns().GiveWay(GiveWayLimit());
    SQLite::Transaction tx(db(), SQLite::TransactionBehavior::IMMEDIATE);
    turns().LowerFlag();  // our turn has come
    std::uint64_t first = ReadCounter();
    Reservation out;
    out.regression = RaiseToMark(&first, mark);
    if (const std::optional<Range> back = TakeReturned(count, first)) {
      tx.commit();  // synchronous=FULL: durable once this returns
      out.range = *back;
      return out;
    }
    const std::uint64_t last = first + std::min(count, space() - first);
    if (last != first) WriteCounter(first, last);
    tx.commit();  // synchronous=FULL: durable once this returns
    out.range = Range{first, last};
    return out;
  });
}

Advanced SqliteStore::Advance(std::uint64_t to) {
  return Guarded("advancing the counter", [&] {
    turns().GiveWay(GiveWayLimit());
    SQLite::Transaction tx(db(), SQLite::TransactionBehavior::IMMEDIATE);
    turns().LowerFlag();
    const std::uint64_t from = ReadCounter();
    if (to < from || to > space()) {
      throw CannotAdvance(describe(), from, to, space());
    }
    if (to != from) WriteCounter(from, to);
    const std::uint64_t dropped = DropReturned();
    tx.commit();  // synchronous=FULL: durable once this returns
    return Advanced{from, to, dropped};
  });
}

// Inside Return's transaction: refuses a range that overlaps one already
// returned (it would be handed out twice).
void SqliteStore::CheckNotReturned(const Range& r) {
  SQLite::Statement overlap(db(), "SELECT first, last FROM " +
                                      tables_.returned_sql +
                                      " WHERE first < ?2 AND last > ?1 "
                                      "ORDER BY first LIMIT 1");
  overlap.bind(1, static_cast<std::int64_t>(r.first));
  overlap.bind(2, static_cast<std::int64_t>(r.last));
  if (!overlap.executeStep()) return;
  throw ReturnedTwice(
      describe(), r,
      Range{static_cast<std::uint64_t>(overlap.getColumn(0).getInt64()),
            static_cast<std::uint64_t>(overlap.getColumn(1).getInt64())});
}

// Inside Return's transaction: records `sorted` (checked by
// CheckReturnable) and adds them to returned_total.
void SqliteStore::RecordReturned(const std::vector<Range>& sorted) {
  SQLite::Statement insert(db(), "INSERT INTO " + tables_.returned_sql +
                                     "(first, last) VALUES (?1, ?2)");
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
      db(), "INSERT INTO " + tables_.meta_sql +
                "(key, value) VALUES ('returned_total', ?1) "
                "ON CONFLICT(key) DO UPDATE SET value = "
                "CAST(CAST(value AS INTEGER) + CAST(?1 AS INTEGER) AS TEXT)");
  tally.bind(1, std::to_string(total));
  tally.exec();
}

Regression SqliteStore::ReturnAbove(const std::vector<Range>& ranges,
                                    std::uint64_t mark) {
  if (std::none_of(ranges.begin(), ranges.end(),
                   [](const Range& r) { return r.first < r.last; })) {
    return {};
  }
  return Guarded("returning numbers", [&] {
    turns().GiveWay(GiveWayLimit());
    SQLite::Transaction tx(db(), SQLite::TransactionBehavior::IMMEDIATE);
    turns().LowerFlag();
    std::uint64_t counter = ReadCounter();
    Regression regression = RaiseToMark(&counter, mark);
    if (regression.happened()) {
      regression.not_returned = TotalOf(ranges);
    } else {
      RecordReturned(CheckReturnable(describe(), ranges, counter));
    }
    CommitReturn(tx);
    return regression;
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
  return Guarded("listing the namespaces", [&] {
    std::vector<std::string> names{std::string(base::kDefaultNamespace)};
    SQLite::Statement query(db(), "SELECT name FROM namespaces ORDER BY name");
    while (query.executeStep()) names.push_back(query.getColumn(0).getString());
    return names;
  });
}

std::unique_ptr<RangeStore> SqliteStore::OpenNamespace(
    const std::string& name, const StoreFormat* create) {
  CheckNamespaceName(Describe(), name);
  if (create != nullptr) CheckWanted(Describe(), *create);
  std::unique_ptr<SqliteStore> space(
      new SqliteStore(connection_, Describe(), name));
  const bool found = space->Guarded("opening the namespace", [&] {
    return space->FindOrCreateNamespace(create, format().store_id);
  });
  if (!found) return nullptr;
  space->OpenedNamespace(space->Guarded("reading the namespace's metadata",
                                        [&] { return space->ReadFormat(); }),
                         create);
  space->Prepare();
  return space;
}

// True when this object's namespace exists, after creating it from
// *create when it did not and `create` is given (one write transaction
// holding the registry row and the namespace's tables and metadata).
bool SqliteStore::FindOrCreateNamespace(const StoreFormat* create,
                                        const std::string& store_id) {
  if (namespace_name() == base::kDefaultNamespace) return true;
  const auto registered = [&] {
    SQLite::Statement query(db(),
                            "SELECT count(*) FROM namespaces WHERE name = ?1");
    query.bind(1, namespace_name());
    return query.executeStep() && query.getColumn(0).getInt() > 0;
  };
  if (registered()) return true;
  if (create == nullptr) return false;
  turns().GiveWay(GiveWayLimit());
  SQLite::Transaction tx(db(), SQLite::TransactionBehavior::IMMEDIATE);
  turns().LowerFlag();
  if (registered()) return true;  // another process created it first
  db().exec(SchemaSql(tables_));
  db().exec(ReturnedSql(tables_));
  SQLite::Statement insert(
      db(), "INSERT INTO " + tables_.meta_sql + "(key, value) VALUES (?1, ?2)");
  for (const auto& [key, value] : NewFormatRows(*create, store_id)) {
    insert.bind(1, key);
    insert.bind(2, value);
    insert.exec();
    insert.reset();
  }
  SQLite::Statement add(db(), "INSERT INTO namespaces(name) VALUES (?1)");
  add.bind(1, namespace_name());
  add.exec();
  tx.commit();
  return true;
}

keys::BlocklistSpec SqliteStore::ReadBlocklist() {
  return Guarded("reading the blocklist",
                 [&] { return ReadFormat().blocklist; });
}

void SqliteStore::WriteBlocklist(const keys::BlocklistSpec& spec) {
  CheckBlocklist(describe(), format().policy.prefix, spec);
  const std::string& generations =
      TablesOf("", std::string(base::kDefaultNamespace)).meta_sql;
  Guarded("writing the blocklist", [&] {
    turns().GiveWay(GiveWayLimit());
    SQLite::Transaction tx(db(), SQLite::TransactionBehavior::IMMEDIATE);
    turns().LowerFlag();
    SQLite::Statement write(db(), "INSERT OR REPLACE INTO " + tables_.meta_sql +
                                      "(key, value) VALUES (?1, ?2)");
    for (const auto& [key, value] : BlocklistRows(spec)) {
      write.bind(1, key);
      write.bind(2, value);
      write.exec();
      write.reset();
    }
    SQLite::Statement bump(
        db(), "INSERT INTO " + generations +
                  "(key, value) VALUES (?1, '1') ON CONFLICT(key) DO UPDATE "
                  "SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)");
    bump.bind(1, std::string(kPolicyGenerationKey));
    bump.exec();
    tx.commit();  // synchronous=FULL: durable once this returns
  });
}

std::uint64_t SqliteStore::PolicyGeneration() {
  return Guarded("reading the policy generation", [&] {
    SQLite::Statement query(
        db(), "SELECT value FROM " +
                  TablesOf("", std::string(base::kDefaultNamespace)).meta_sql +
                  " WHERE key = ?1");
    query.bind(1, std::string(kPolicyGenerationKey));
    std::optional<std::string> value;
    if (query.executeStep()) value = query.getColumn(0).getString();
    return ParsePolicyGeneration(Describe(), {"meta", kSqliteRepair}, value);
  });
}

}  // namespace forge::store
