#include "store/postgres_store.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/names.h"
#include "base/status.h"
#include "config/db_url.h"
#include "keys/key_codec.h"
#include "pq/libpq.h"
#include "store/format.h"

namespace forge::store {
namespace {

using pq::Conn;
using pq::Result;

using std::chrono::milliseconds;

// What to do about a damaged store.
constexpr std::string_view kPostgresRepair =
    "repair it or point DB_URL at another database";

// Table names start with this (a database may hold other things too).
constexpr std::string_view kTablePrefix = "forge_";

// A wait on the socket wakes at least this often to look at the stop flag
// (the signal itself also ends poll() with EINTR; this covers the race).
constexpr milliseconds kStopCheck(50);

// Connection settings placed before the URL, so the URL can override them.
// The seconds are derived from STORE_TIMEOUT_MS (libpq counts whole ones).
std::vector<std::pair<std::string, std::string>> ConnectDefaults(
    milliseconds timeout) {
  const long seconds = std::max<long>(1, (timeout.count() + 999) / 1000);
  return {
      {"connect_timeout", std::to_string(std::max<long>(2, seconds))},
      {"application_name", "forge-broker"},
      // Of several hosts, the primary (issue 16); one host that is a
      // standby fails to connect, a transient error.
      {"target_session_attrs", "read-write"},
      {"keepalives", "1"},
      {"keepalives_idle", std::to_string(seconds)},
      {"keepalives_interval", std::to_string(seconds)},
      {"keepalives_count", "3"},
      // Sent data unacknowledged this long (a partition): the kernel drops
      // the connection.
      {"tcp_user_timeout", std::to_string(timeout.count())},
  };
}

// BEGIN plus the server-side time limits of every transaction, one round
// trip (simple protocol): a lock wait and an idle gap inside the
// transaction each end after STORE_TIMEOUT_MS, so a broker frozen in its
// transaction holds the counter row no longer than that; a statement ends
// after 1.5 × STORE_TIMEOUT_MS (longer than the lock wait it may contain,
// so a held lock is reported as such).
std::string BeginScript(milliseconds timeout, bool raise_synchronous_commit) {
  const std::string ms = std::to_string(timeout.count());
  const std::string statement_ms = std::to_string(timeout.count() * 3 / 2);
  std::string sql =
      "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL "
      "lock_timeout = " +
      ms + "; SET LOCAL statement_timeout = " + statement_ms +
      "; SET LOCAL idle_in_transaction_session_timeout = " + ms;
  if (raise_synchronous_commit) sql += "; SET LOCAL synchronous_commit = on";
  return sql;
}

// The columns of a key space's returned list (added by schema version 2;
// a version-1 store gets it "IF NOT EXISTS").
constexpr std::string_view kReturnedColumns =
    " (first BIGINT PRIMARY KEY CHECK (first >= 0), "
    "last BIGINT NOT NULL, CHECK (first < last))";

// The namespace registry (added by schema version 3).
constexpr std::string_view kNamespacesTable =
    "forge_namespaces (name TEXT PRIMARY KEY)";

// libpq messages span lines ("...failed: Connection refused\n\tIs the
// server running...?"); people get one line.
std::string OneLine(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// SQLSTATEs where retrying, on a new connection if need be, can help:
// connection exceptions (08), serialization failures and deadlocks (40),
// insufficient resources (53), operator intervention such as a shutdown or
// a cancelled statement (57, but not 57P04 database dropped), lock not
// available (55P03), a read-only standby after fail-over (25006) and I/O
// errors (58030).
bool TransientState(std::string_view state) {
  const std::string_view cls = state.substr(0, 2);
  if (state == "57P04") return false;
  return cls == "08" || cls == "40" || cls == "53" || cls == "57" ||
         state == "55P03" || state == "25006" || state == "58030";
}

std::string Hint(std::string_view state) {
  if (state == "42501") {
    return "; the database user needs CREATE on the schema (first use and "
           "upgrades, and creating a namespace) and SELECT, INSERT, UPDATE, "
           "DELETE on the forge_* tables";
  }
  if (state == "42P01") {
    return "; the store's tables are missing: check that DB_URL names the "
           "database the store was created in";
  }
  if (state == "42P07") {
    return "; a forge_ table exists without the metadata it belongs to (its "
           "forge_meta, or its forge_namespaces row): the store is damaged, "
           "repair it or point DB_URL at another database";
  }
  if (state == "25006") {
    return "; the server is a read-only standby: point DB_URL at the primary "
           "(e.g. add target_session_attrs=read-write)";
  }
  return "";
}

std::string_view Value(const Result& result, int row, int column) {
  return pq::Lib().PQgetvalue(result.get(), row, column);
}

// "postgres://user@host:port/db" of a live connection; a Unix socket
// directory is percent-encoded as libpq URIs allow, IPv6 is bracketed.
std::string DescribeConnection(PGconn* conn) {
  std::string host;
  for (const char c : std::string_view(pq::Lib().PQhost(conn))) {
    host += c == '/' ? std::string("%2F") : std::string(1, c);
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "postgres://" + std::string(pq::Lib().PQuser(conn)) + "@" + host +
         ":" + pq::Lib().PQport(conn) + "/" + pq::Lib().PQdb(conn);
}

// Why libpq would refuse `url` without trying to connect, or "". libpq
// checks the port's digits only when connecting; it is checked here too.
std::string UrlProblem(const std::string& url) {
  std::string why;
  const pq::Options options = pq::ParseConninfo(url, &why);
  if (options == nullptr) return OneLine(why);
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) != "port" || o->val == nullptr) continue;
    const std::string_view port = o->val;
    if (port.find_first_not_of("0123456789,") != std::string_view::npos) {
      why = "port \"" + std::string(port) + "\" is not a number";
    }
  }
  return why;
}

// "host:port" of a live connection, IPv6 bracketed (for stats: no user,
// no database).
std::string HostPort(PGconn* conn) {
  std::string host = pq::Lib().PQhost(conn);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + pq::Lib().PQport(conn);
}

// The durability mode from the server's settings and its standbys
// (docs/design.md §5). `sync_standbys`/`standbys` are what
// pg_stat_replication showed, or -1 when this role cannot read it.
StoreLinkInfo DurabilityOf(std::string_view synchronous_commit,
                           std::string_view standby_names, int standbys,
                           int sync_standbys) {
  using shm::StoreDurability;
  StoreLinkInfo link;
  // "off" is raised to "on" for the store's own transactions (Connect).
  const bool waits = synchronous_commit == "on" ||
                     synchronous_commit == "off" ||
                     synchronous_commit == "remote_write" ||
                     synchronous_commit == "remote_apply";
  const std::string seen =
      standbys < 0        ? std::string("pg_stat_replication not readable")
      : sync_standbys < 0 ? std::to_string(standbys) +
                                " standbys, sync state hidden from this role"
                          : std::to_string(sync_standbys) + " sync standby" +
                                (sync_standbys == 1 ? "" : "s") + " of " +
                                std::to_string(standbys);
  if (!standby_names.empty() && waits) {
    link.durability = StoreDurability::kSync;
    link.detail =
        "synchronous_standby_names=" + std::string(standby_names) + ", " + seen;
  } else if (standbys > 0) {
    link.durability = StoreDurability::kAsync;
    link.detail =
        (standby_names.empty()
             ? std::string("synchronous_standby_names empty")
             : "synchronous_commit=" + std::string(synchronous_commit)) +
        ", " + std::to_string(standbys) + " standby" +
        (standbys == 1 ? "" : "s") + " streaming";
  } else {
    link.durability = StoreDurability::kLocal;
    link.detail = "no standby seen (" + seen + ")";
  }
  return link;
}

// What every namespace object of one store shares: one connection (made
// again after a loss by whichever object's call finds it gone) and the
// call clock. One thread uses them at a time.
struct Session {
  Session(std::string db_url, const StoreLimits& limits)
      : url(std::move(db_url)), clock(limits) {}
  std::string url;
  CallClock clock;
  Conn conn;
  bool fresh = false;  // conn was made since the last BEGIN
  bool raise_synchronous_commit = false;
  std::string notices;  // server notices since Commit cleared them
  int connects = 0;     // connections made (Link().reconnects + 1)
  StoreLinkInfo link;   // as of the latest connection
};

class PostgresStore final : public FormattedStore {
 public:
  PostgresStore(const std::string& url, const StoreFormat& wanted,
                const StoreLimits& limits);
  // Namespace `name`'s object on `session` (no SQL run yet).
  PostgresStore(std::shared_ptr<Session> session, const std::string& store,
                const std::string& name);

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
  StoreLinkInfo Link() const override { return session_->link; }
  StoreLinkInfo CheckLink() override;

 private:
  // What a COMMIT whose outcome is unknown means for the caller.
  enum class IfUnknown { kRetryIsSafe, kDoNotRetry };

  void CheckUrl() const;
  void BeginCall() {
    session_->clock.Begin(2 * session_->clock.limits().timeout);
  }
  bool WaitSocket(PGconn* conn, short events, std::string* why);
  Result Send(const char* sql, std::initializer_list<std::string> params,
              bool script, std::string* why);
  void Connect();
  void Reconnect();
  void RefuseStandby();
  void FindDurability();
  void Begin(const char* doing);
  void Commit(const char* doing, IfUnknown if_unknown);
  void RollbackIfOpen();
  template <typename F>
  std::invoke_result_t<F&> InTransaction(
      const char* doing, F&& work,
      IfUnknown if_unknown = IfUnknown::kRetryIsSafe);
  Result Exec(const char* doing, const char* sql,
              std::initializer_list<std::string> params = {},
              bool script = false);
  Result Exec(const char* doing, const std::string& sql,
              std::initializer_list<std::string> params = {}) {
    return Exec(doing, sql.c_str(), params);
  }
  MetaTable Meta() const { return {tables_.meta, kPostgresRepair}; }
  [[noreturn]] void Fail(const char* doing, const PGresult* result);
  StoreFormat OpenSchema(const StoreFormat& wanted);
  void CreateTables(const char* doing, const MetaRows& rows);
  bool FindOrCreateNamespace(const char* doing, const StoreFormat* create,
                             const std::string& store_id);
  void UpgradeIfOld(const char* doing);
  void AddStoreIdIfMissing(const char* doing);
  StoreFormat ReadFormat(const char* doing);
  std::uint64_t ParseCounter(const Result& result) const;
  std::uint64_t LockCounter(const char* doing);
  std::optional<Range> TakeReturned(const char* doing, std::uint64_t count,
                                    std::uint64_t counter);
  void CheckNotReturned(const char* doing, const Range& r);
  void RecordReturned(const char* doing, const std::vector<Range>& sorted);
  void WriteCounter(const char* doing, std::uint64_t to);
  std::uint64_t DropReturned(const char* doing);
  Regression RaiseToMark(const char* doing, std::uint64_t* counter,
                         std::uint64_t mark);

  std::shared_ptr<Session> session_;
  NamespaceTables tables_;
  bool opened_ = false;  // format() is what the store was opened with
};

PostgresStore::PostgresStore(const std::string& url, const StoreFormat& wanted,
                             const StoreLimits& limits)
    : FormattedStore(config::RedactDbUrl(url), wanted),
      session_(std::make_shared<Session>(url, limits)),
      tables_(TablesOf(kTablePrefix, std::string(base::kDefaultNamespace))) {
  CheckUrl();
  BeginCall();
  Connect();
  Opened(InTransaction("opening the store", [&] { return OpenSchema(wanted); }),
         wanted);
  opened_ = true;
}

PostgresStore::PostgresStore(std::shared_ptr<Session> session,
                             const std::string& store, const std::string& name)
    : FormattedStore(store, name),
      session_(std::move(session)),
      tables_(TablesOf(kTablePrefix, name)) {}

// A URL libpq cannot use will never connect: say so once, not forever.
void PostgresStore::CheckUrl() const {
  const std::string why = UrlProblem(session_->url);
  if (why.empty()) return;
  throw StoreError("DB_URL \"" + describe() +
                       "\" is not a valid PostgreSQL URL: " + why +
                       "; allowed: postgres://USER[:PASSWORD]@HOST[:PORT]/DB",
                   /*transient=*/false);
}

// Waits until `conn`'s socket is ready for `events`, or false (with *why)
// when the call must give up: its time is spent or the broker is stopping.
bool PostgresStore::WaitSocket(PGconn* conn, short events, std::string* why) {
  for (;;) {
    const milliseconds left = session_->clock.Left();
    if (left == milliseconds::zero()) {
      *why = session_->clock.Why();
      return false;
    }
    pollfd p{pq::Lib().PQsocket(conn), events, 0};
    const int n =
        ::poll(&p, 1, static_cast<int>(std::min(left, kStopCheck).count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) {
      *why = std::string("poll: ") + std::strerror(errno);
      return false;
    }
  }
}

// Sends one statement (or, with `script`, a simple-protocol string of
// several) and waits for all its results within the call's limits. Returns
// the first failed result, else the last one. Null (with *why, and
// session_->conn dropped) when the connection broke or the wait gave up:
// nothing more can be learnt on this connection; the server rolls back what it
// had open when it sees the socket closed (or when its own timeouts fire).
Result PostgresStore::Send(const char* sql,
                           std::initializer_list<std::string> params,
                           bool script, std::string* why) {
  PGconn* conn = session_->conn.get();
  std::vector<const char*> values;
  for (const std::string& p : params) values.push_back(p.c_str());
  const int sent = script ? pq::Lib().PQsendQuery(conn, sql)
                          : pq::Lib().PQsendQueryParams(
                                conn, sql, static_cast<int>(values.size()),
                                nullptr, values.data(), nullptr, nullptr, 0);
  const auto broken = [&](std::string text) {
    *why = std::move(text);
    session_->conn.reset();
    return Result();
  };
  if (sent == 0) return broken(OneLine(pq::Lib().PQerrorMessage(conn)));
  for (int flushed = pq::Lib().PQflush(conn); flushed != 0;
       flushed = pq::Lib().PQflush(conn)) {
    if (flushed < 0) return broken(OneLine(pq::Lib().PQerrorMessage(conn)));
    // Read-ready too: the server may answer (an error) before taking it all.
    if (!WaitSocket(conn, POLLIN | POLLOUT, why)) return broken(*why);
    if (pq::Lib().PQconsumeInput(conn) == 0)
      return broken(OneLine(pq::Lib().PQerrorMessage(conn)));
  }
  Result kept;
  for (;;) {
    while (pq::Lib().PQisBusy(conn) != 0) {
      if (!WaitSocket(conn, POLLIN, why)) return broken(*why);
      if (pq::Lib().PQconsumeInput(conn) == 0) {
        // The server may have said why before it closed (a FATAL such as
        // an idle-in-transaction timeout): Fail() reports that.
        Result last(pq::Lib().PQgetResult(conn));
        if (last != nullptr) return last;
        return broken(OneLine(pq::Lib().PQerrorMessage(conn)));
      }
    }
    Result next(pq::Lib().PQgetResult(conn));
    if (next == nullptr) break;
    const ExecStatusType status = pq::Lib().PQresultStatus(kept.get());
    if (kept == nullptr || status == PGRES_COMMAND_OK ||
        status == PGRES_TUPLES_OK) {
      kept = std::move(next);
    }
  }
  if (kept == nullptr) return broken(OneLine(pq::Lib().PQerrorMessage(conn)));
  return kept;
}

// Connects without blocking (PQconnectStart/PQconnectPoll), so a server
// that accepts the TCP connection and then says nothing cannot hold the
// call past its limits. (The host name lookup itself is libpq's and
// blocking: prefer an address or a local resolver.)
void PostgresStore::Connect() {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  const auto defaults = ConnectDefaults(session_->clock.limits().timeout);
  for (const auto& [key, value] : defaults) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back("dbname");  // expanded: the URL's settings win
  values.push_back(session_->url.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Conn conn(pq::Lib().PQconnectStartParams(keys.data(), values.data(), 1));
  const auto fail = [&](const std::string& why) {
    return StoreError("store " + describe() + ": cannot connect: " + why,
                      /*transient=*/true);
  };
  if (conn == nullptr) throw fail("out of memory");
  PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
  while (pq::Lib().PQstatus(conn.get()) != CONNECTION_BAD &&
         polling != PGRES_POLLING_OK && polling != PGRES_POLLING_FAILED) {
    std::string why;
    const short events = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!WaitSocket(conn.get(), events, &why)) throw fail(why);
    polling = pq::Lib().PQconnectPoll(conn.get());
  }
  if (pq::Lib().PQstatus(conn.get()) != CONNECTION_OK) {
    throw fail(OneLine(pq::Lib().PQerrorMessage(conn.get())));
  }
  if (pq::Lib().PQsetnonblocking(conn.get(), 1) != 0) {
    throw fail(OneLine(pq::Lib().PQerrorMessage(conn.get())));
  }
  // Notices ("relation exists, skipping" and the like) are not errors;
  // they are kept only for Commit to look at.
  pq::Lib().PQsetNoticeProcessor(
      conn.get(),
      [](void* self, const char* text) {
        static_cast<Session*>(self)->notices += text;
      },
      session_.get());
  session_->conn = std::move(conn);
  session_->fresh = true;
  set_describe(DescribeConnection(session_->conn.get()));
  RefuseStandby();
  ++session_->connects;
  FindDurability();
}

// A standby cannot reserve (read-only), and one promoted later would not
// have our writes: a connection that lands on one is dropped (issue 16).
void PostgresStore::RefuseStandby() {
  const Result recovery =
      Exec("checking for a standby", "SELECT pg_is_in_recovery()");
  if (Value(recovery, 0, 0) != "t") return;
  const std::string host = HostPort(session_->conn.get());
  session_->conn.reset();
  throw StoreError("store " + describe() + ": connected to a standby (" + host +
                       "), not the primary; retrying",
                   /*transient=*/true);
}

// The durability mode (DurabilityOf) into session_->link, with the host
// and the reconnect count. pg_stat_replication may be closed to this
// role: then only the settings count.
void PostgresStore::FindDurability() {
  const char* doing = "reading the durability settings";
  const Result settings = Exec(doing,
                               "SELECT current_setting('synchronous_commit'), "
                               "current_setting('synchronous_standby_names')");
  const std::string commit(Value(settings, 0, 0));
  session_->raise_synchronous_commit = commit == "off";
  int standbys = -1;
  int sync_standbys = -1;
  try {
    const Result seen =
        Exec(doing,
             "SELECT count(*), count(*) FILTER (WHERE sync_state IN "
             "('sync', 'quorum')), count(*) FILTER (WHERE sync_state IS NULL) "
             "FROM pg_stat_replication");
    if (Value(seen, 0, 2) == "0") {
      standbys = ParseInt<int>(Value(seen, 0, 0)).value_or(-1);
      sync_standbys = ParseInt<int>(Value(seen, 0, 1)).value_or(-1);
    } else {  // rows hidden from this role: only their number is known
      standbys = ParseInt<int>(Value(seen, 0, 0)).value_or(-1);
    }
  } catch (const StoreError&) {
    if (session_->conn == nullptr) throw;  // the connection is gone
  }
  StoreLinkInfo link =
      DurabilityOf(commit, Value(settings, 0, 1), standbys, sync_standbys);
  link.host = HostPort(session_->conn.get());
  link.reconnects = static_cast<std::uint64_t>(session_->connects - 1);
  session_->link = std::move(link);
}

StoreLinkInfo PostgresStore::CheckLink() {
  BeginCall();
  if (session_->conn == nullptr) {
    Reconnect();
  } else {
    FindDurability();
  }
  return Link();
}

// A new connection to a store this object already opened: the store must
// still be the one it was (never recreated, never a different format).
void PostgresStore::Reconnect() {
  Connect();
  if (!opened_) return;
  const StoreFormat now = InTransaction(
      "checking the store", [&] { return ReadFormat("checking the store"); });
  if (SameStore(now, format())) return;
  session_->conn.reset();
  throw StoreError("store " + describe() +
                       " changed while this broker was connected to it (was " +
                       DescribeFormat(format()) + " created at " +
                       std::to_string(format().created_unix_s) + " id " +
                       format().store_id + ", now " + DescribeFormat(now) +
                       " created at " + std::to_string(now.created_unix_s) +
                       " id " + now.store_id + "); restart the broker",
                   /*transient=*/false);
}

// Starts a transaction, reconnecting first if needed. A reused connection
// that turns out dead at BEGIN (the server restarted while we were idle)
// is replaced once: nothing was written on it, so retrying is safe.
void PostgresStore::Begin(const char* doing) {
  bool reused = !session_->fresh;
  if (session_->conn == nullptr) {
    Reconnect();
    reused = false;
  }
  session_->fresh = false;
  const std::string begin = BeginScript(session_->clock.limits().timeout,
                                        session_->raise_synchronous_commit);
  try {
    Exec(doing, begin.c_str(), {}, /*script=*/true);
  } catch (const StoreError&) {
    if (!reused || session_->conn != nullptr) throw;
    Reconnect();
    Exec(doing, begin.c_str(), {}, /*script=*/true);
  }
}

void PostgresStore::Commit(const char* doing, IfUnknown if_unknown) {
  std::string lost_why;
  session_->notices.clear();
  Result result = Send("COMMIT", {}, /*script=*/false, &lost_why);
  const bool ok =
      result != nullptr &&
      pq::Lib().PQresultStatus(result.get()) == PGRES_COMMAND_OK &&
      std::string_view(pq::Lib().PQcmdStatus(result.get())) == "COMMIT";
  // statement_timeout (or a cancel) cut the wait for a synchronous
  // standby short: committed here only, maybe lost in a fail-over. Not
  // durable enough to hand out: treated like an unknown outcome.
  if (ok &&
      session_->notices.find("synchronous replication") == std::string::npos) {
    return;
  }
  if (ok) {
    result.reset();
    lost_why = OneLine(session_->notices);
  }
  if (result != nullptr &&
      pq::Lib().PQresultStatus(result.get()) == PGRES_COMMAND_OK) {
    throw StoreError("store " + describe() + ": " + doing +
                         ": the server rolled the transaction back at COMMIT",
                     /*transient=*/true);
  }
  if (result == nullptr ||
      pq::Lib().PQstatus(session_->conn.get()) == CONNECTION_BAD) {
    const std::string why =
        result == nullptr
            ? lost_why
            : OneLine(pq::Lib().PQerrorMessage(session_->conn.get()));
    session_->conn.reset();
    const bool retry = if_unknown == IfUnknown::kRetryIsSafe;
    throw StoreError("store " + describe() + ": " + doing +
                         ": COMMIT did not finish cleanly (" + why +
                         "), so whether it committed durably is unknown; " +
                         (retry ? "what it reserved is treated as lost (a "
                                  "gap) and never handed out"
                                : "not retried, since that could record the "
                                  "numbers twice; they count as lost (a gap)"),
                     /*transient=*/retry);
  }
  Fail(doing, result.get());
}

void PostgresStore::RollbackIfOpen() {
  if (session_->conn == nullptr ||
      pq::Lib().PQtransactionStatus(session_->conn.get()) == PQTRANS_IDLE) {
    return;
  }
  std::string why;
  const Result result = Send("ROLLBACK", {}, /*script=*/false, &why);
  if (result != nullptr &&
      pq::Lib().PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    session_->conn.reset();
  }
}

template <typename F>
std::invoke_result_t<F&> PostgresStore::InTransaction(const char* doing,
                                                      F&& work,
                                                      IfUnknown if_unknown) {
  Begin(doing);
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      work();
      Commit(doing, if_unknown);
      return;
    } else {
      auto value = work();
      Commit(doing, if_unknown);
      return value;
    }
  } catch (...) {
    RollbackIfOpen();
    throw;
  }
}

Result PostgresStore::Exec(const char* doing, const char* sql,
                           std::initializer_list<std::string> params,
                           bool script) {
  std::string why;
  Result result = Send(sql, params, script, &why);
  if (result == nullptr) {
    throw StoreError("store " + describe() + ": " + doing + " failed: " + why +
                         "; the connection was dropped",
                     /*transient=*/true);
  }
  const ExecStatusType status = pq::Lib().PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  Fail(doing, result.get());
}

// Throws the StoreError for a failed statement. A dead connection is
// dropped (the next call reconnects); otherwise the transaction is rolled
// back so the connection stays usable.
void PostgresStore::Fail(const char* doing, const PGresult* result) {
  const char* state_field =
      result ? pq::Lib().PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_field != nullptr ? state_field : "";
  const char* primary =
      result ? pq::Lib().PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)
             : nullptr;
  std::string why = OneLine(primary != nullptr ? primary
                            : session_->conn != nullptr
                                ? pq::Lib().PQerrorMessage(session_->conn.get())
                                : "connection lost");
  if (!state.empty()) why += " (SQLSTATE " + state + ")";
  const bool lost = pq::Lib().PQstatus(session_->conn.get()) == CONNECTION_BAD;
  if (lost) {
    session_->conn.reset();
  } else {
    RollbackIfOpen();
  }
  throw StoreError(
      "store " + describe() + ": " + doing + " failed: " + why + Hint(state),
      lost || TransientState(state));
}

// Runs inside a transaction holding the schema lock, so of several brokers
// opening a new store at once exactly one creates it and all read its
// metadata.
StoreFormat PostgresStore::OpenSchema(const StoreFormat& wanted) {
  const char* doing = "opening the store";
  Exec(doing, "SELECT pg_advisory_xact_lock($1)",
       {std::to_string(kSchemaLockKey)});
  const Result exists =
      Exec(doing, "SELECT to_regclass('forge_meta') IS NOT NULL");
  if (Value(exists, 0, 0) != "t") {
    if (wanted.key_length == 0) throw NoKeySpace(describe());
    CreateTables("creating the store", NewFormatRows(CreatedDefault(wanted)));
    Exec(doing, "CREATE TABLE " + std::string(kNamespacesTable));
  } else {
    UpgradeIfOld(doing);
    AddStoreIdIfMissing(doing);
  }
  return ReadFormat(doing);
}

// Under the caller's schema lock: a store made before identities existed
// gets one, exactly once however many brokers open it at the same time.
void PostgresStore::AddStoreIdIfMissing(const char* doing) {
  const Result id =
      Exec(doing, "SELECT 1 FROM forge_meta WHERE key = 'store_id'");
  if (pq::Lib().PQntuples(id.get()) > 0) return;
  Exec(doing, "INSERT INTO forge_meta (key, value) VALUES ('store_id', $1)",
       {RandomStoreId()});
}

// Version 1 -> 4 adds the returned list and the namespace registry,
// version 2 -> 4 the registry; 3 -> 4 adds nothing (absent policy rows
// read as the defaults) but the version in every metadata table. Under
// the caller's schema lock and in its transaction, so racing brokers
// upgrade exactly once. An older broker still running keeps working
// until it reads a metadata table again (then it refuses the newer
// schema).
void PostgresStore::UpgradeIfOld(const char* doing) {
  const Result version =
      Exec(doing, "SELECT value FROM forge_meta WHERE key = 'schema_version'");
  const int old = pq::Lib().PQntuples(version.get()) != 1
                      ? 0
                      : ParseInt<int>(Value(version, 0, 0)).value_or(0);
  if (old < kUpgradableSchemaVersion || old >= kStoreSchemaVersion) {
    return;  // current, newer or damaged: ReadFormat says which
  }
  if (old < 2) {
    Exec(doing, "CREATE TABLE IF NOT EXISTS " + tables_.returned_sql +
                    std::string(kReturnedColumns));
  }
  Exec(doing, "CREATE TABLE IF NOT EXISTS " + std::string(kNamespacesTable));
  std::vector<std::string> metas{tables_.meta_sql};
  const Result names = Exec(doing, "SELECT name FROM forge_namespaces");
  for (int i = 0; i < pq::Lib().PQntuples(names.get()); ++i) {
    metas.push_back(
        TablesOf(kTablePrefix, std::string(Value(names, i, 0))).meta_sql);
  }
  for (const std::string& meta : metas) {
    Exec(doing,
         "UPDATE " + meta + " SET value = $1 WHERE key = 'schema_version'",
         {std::to_string(kStoreSchemaVersion)});
  }
}

// This key space's tables and metadata `rows`. Plain CREATE TABLE, not IF
// NOT EXISTS: a counter or returned list left without its metadata is
// damage to report, not a table to adopt with a new format.
void PostgresStore::CreateTables(const char* doing, const MetaRows& rows) {
  Exec(doing, "CREATE TABLE " + tables_.meta_sql +
                  " (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  Exec(doing, "CREATE TABLE " + tables_.counter_sql +
                  " (id INT PRIMARY KEY CHECK (id = 1), "
                  "next BIGINT NOT NULL CHECK (next >= 0))");
  Exec(doing,
       "INSERT INTO " + tables_.counter_sql + " (id, next) VALUES (1, 0)");
  Exec(doing,
       "CREATE TABLE " + tables_.returned_sql + std::string(kReturnedColumns));
  for (const auto& [key, value] : rows) {
    Exec(doing,
         "INSERT INTO " + tables_.meta_sql + " (key, value) VALUES ($1, $2)",
         {key, value});
  }
}

StoreFormat PostgresStore::ReadFormat(const char* doing) {
  const Result rows = Exec(doing, "SELECT key, value FROM " + tables_.meta_sql);
  MetaRows meta;
  for (int i = 0; i < pq::Lib().PQntuples(rows.get()); ++i) {
    meta[std::string(Value(rows, i, 0))] = Value(rows, i, 1);
  }
  // The schema version lives only here: a newer one is named as such.
  const auto version = meta.find("schema_version");
  if (version != meta.end()) {
    CheckNotNewer(describe(), ParseInt<int>(version->second).value_or(0));
  }
  return ParseFormat(describe(), Meta(), meta);
}

std::uint64_t PostgresStore::ParseCounter(const Result& result) const {
  if (pq::Lib().PQntuples(result.get()) != 1) {
    throw Damaged(describe(), Meta(),
                  "the " + tables_.counter_sql + " row is missing");
  }
  const std::string_view text = Value(result, 0, 0);
  const auto next = ParseInt<std::uint64_t>(text);
  if (!next || *next > space()) {
    throw Damaged(describe(), Meta(),
                  tables_.counter_sql + ".next=" + std::string(text) +
                      " is outside [0, " + std::to_string(space()) + "]");
  }
  return *next;
}

// Locks the counter row for the rest of the transaction; returns it.
// Every Reserve and Return locks it first: that lock serialises them, so
// the returned list needs no locking of its own.
std::uint64_t PostgresStore::LockCounter(const char* doing) {
  return ParseCounter(Exec(doing, "SELECT next FROM " + tables_.counter_sql +
                                      " WHERE id = 1 FOR UPDATE"));
}

// With the counter locked: the first `count` numbers of the lowest
// returned range, removed from the list; nullopt when the list is empty.
std::optional<Range> PostgresStore::TakeReturned(const char* doing,
                                                 std::uint64_t count,
                                                 std::uint64_t counter) {
  const Result lowest =
      Exec(doing, "SELECT first, last FROM " + tables_.returned_sql +
                      " ORDER BY first LIMIT 1");
  if (pq::Lib().PQntuples(lowest.get()) == 0) return std::nullopt;
  const auto first = ParseInt<std::uint64_t>(Value(lowest, 0, 0));
  const auto last = ParseInt<std::uint64_t>(Value(lowest, 0, 1));
  if (!first || !last || *last <= *first || *last > counter) {
    throw Damaged(describe(), Meta(),
                  tables_.returned_sql + " row (" +
                      std::string(Value(lowest, 0, 0)) + ", " +
                      std::string(Value(lowest, 0, 1)) +
                      ") is not a range below the counter");
  }
  const Range taken{*first, *first + std::min(count, *last - *first)};
  if (taken.last == *last) {
    Exec(doing, "DELETE FROM " + tables_.returned_sql + " WHERE first = $1",
         {std::to_string(*first)});
  } else {
    Exec(doing,
         "UPDATE " + tables_.returned_sql + " SET first = $1 WHERE first = $2",
         {std::to_string(taken.last), std::to_string(*first)});
  }
  return taken;
}

// With the counter locked: sets it to `to`.
void PostgresStore::WriteCounter(const char* doing, std::uint64_t to) {
  Exec(doing, "UPDATE " + tables_.counter_sql + " SET next = $1 WHERE id = 1",
       {std::to_string(to)});
}

// With the counter locked: empties the returned list; how many numbers it
// held.
std::uint64_t PostgresStore::DropReturned(const char* doing) {
  const Result sum = Exec(doing, "SELECT COALESCE(SUM(last - first), 0) FROM " +
                                     tables_.returned_sql);
  Exec(doing, "DELETE FROM " + tables_.returned_sql);
  return ParseInt<std::uint64_t>(Value(sum, 0, 0)).value_or(0);
}

// With the counter (*counter) locked: the regression guard (see
// range_store.h). Moves a counter below `mark` up to it.
Regression PostgresStore::RaiseToMark(const char* doing, std::uint64_t* counter,
                                      std::uint64_t mark) {
  mark = std::min(mark, space());
  if (*counter >= mark) return {};
  Regression r;
  r.skipped = Range{*counter, mark};
  WriteCounter(doing, mark);
  r.dropped = DropReturned(doing);
  *counter = mark;
  return r;
}

Reservation PostgresStore::ReserveAbove(std::uint64_t count,
                                        std::uint64_t mark) {
  FORGE_CHECK(count > 0, "Reserve(0): count must be > 0");
  BeginCall();
  const char* doing = "reserving a range";
  // Known only once COMMIT succeeded.
  return InTransaction(doing, [&] {
    std::uint64_t next = LockCounter(doing);
    Reservation out;
    out.regression = RaiseToMark(doing, &next, mark);
    if (const std::optional<Range> back = TakeReturned(doing, count, next)) {
      out.range = *back;
      return out;
    }
    out.range = Range{next, next + std::min(count, space() - next)};
    if (!out.range.empty()) WriteCounter(doing, out.range.last);
    return out;
  });
}

Advanced PostgresStore::Advance(std::uint64_t to) {
  BeginCall();
  const char* doing = "advancing the counter";
  return InTransaction(doing, [&] {
    const std::uint64_t from = LockCounter(doing);
    if (to < from || to > space()) {
      throw CannotAdvance(describe(), from, to, space());
    }
    if (to != from) WriteCounter(doing, to);
    return Advanced{from, to, DropReturned(doing)};
  });
}

void PostgresStore::CheckNotReturned(const char* doing, const Range& r) {
  const Result overlap =
      Exec(doing,
           "SELECT first, last FROM " + tables_.returned_sql +
               " WHERE first < $2 AND last > $1 ORDER BY first LIMIT 1",
           {std::to_string(r.first), std::to_string(r.last)});
  if (pq::Lib().PQntuples(overlap.get()) == 0) return;
  const auto first = ParseInt<std::uint64_t>(Value(overlap, 0, 0));
  const auto last = ParseInt<std::uint64_t>(Value(overlap, 0, 1));
  throw ReturnedTwice(describe(), r,
                      Range{first.value_or(0), last.value_or(0)});
}

void PostgresStore::RecordReturned(const char* doing,
                                   const std::vector<Range>& sorted) {
  std::uint64_t total = 0;
  for (const Range& r : sorted) {
    CheckNotReturned(doing, r);
    Exec(doing,
         "INSERT INTO " + tables_.returned_sql +
             " (first, last) VALUES ($1, $2)",
         {std::to_string(r.first), std::to_string(r.last)});
    total += r.size();
  }
  Exec(doing,
       "INSERT INTO " + tables_.meta_sql +
           " AS m (key, value) VALUES ('returned_total', $1) "
           "ON CONFLICT (key) DO UPDATE SET value = "
           "(m.value::numeric + EXCLUDED.value::numeric)::text",
       {std::to_string(total)});
}

Regression PostgresStore::ReturnAbove(const std::vector<Range>& ranges,
                                      std::uint64_t mark) {
  if (std::none_of(ranges.begin(), ranges.end(),
                   [](const Range& r) { return r.first < r.last; })) {
    return {};
  }
  BeginCall();
  const char* doing = "returning numbers";
  return InTransaction(
      doing,
      [&] {
        std::uint64_t counter = LockCounter(doing);
        Regression regression = RaiseToMark(doing, &counter, mark);
        if (regression.happened()) {
          regression.not_returned = TotalOf(ranges);
        } else {
          RecordReturned(doing, CheckReturnable(describe(), ranges, counter));
        }
        return regression;
      },
      IfUnknown::kDoNotRetry);
}

std::uint64_t PostgresStore::Next() {
  BeginCall();
  if (session_->conn == nullptr) Reconnect();
  const char* doing = "reading the counter";
  return ParseCounter(
      Exec(doing, "SELECT next FROM " + tables_.counter_sql + " WHERE id = 1"));
}

std::vector<std::string> PostgresStore::Namespaces() {
  BeginCall();
  if (session_->conn == nullptr) Reconnect();
  const Result rows =
      Exec("listing the namespaces",
           "SELECT name FROM forge_namespaces ORDER BY name COLLATE \"C\"");
  std::vector<std::string> names{std::string(base::kDefaultNamespace)};
  for (int i = 0; i < pq::Lib().PQntuples(rows.get()); ++i) {
    names.emplace_back(Value(rows, i, 0));
  }
  return names;
}

std::unique_ptr<RangeStore> PostgresStore::OpenNamespace(
    const std::string& name, const StoreFormat* create) {
  CheckNamespaceName(Describe(), name);
  if (create != nullptr) CheckWanted(Describe(), *create);
  auto space = std::make_unique<PostgresStore>(session_, Describe(), name);
  const char* doing = "opening the namespace";
  space->BeginCall();
  const std::optional<StoreFormat> stored =
      space->InTransaction(doing, [&]() -> std::optional<StoreFormat> {
        if (!space->FindOrCreateNamespace(doing, create, format().store_id)) {
          return std::nullopt;
        }
        return space->ReadFormat(doing);
      });
  if (!stored) return nullptr;
  space->OpenedNamespace(*stored, create);
  space->opened_ = true;
  return space;
}

// In the caller's transaction: true when this object's namespace exists,
// after creating it from *create when it did not and `create` is given
// (under the schema lock, so of racing creators one creates, the others
// then see its registry row: READ COMMITTED reads afresh per statement).
bool PostgresStore::FindOrCreateNamespace(const char* doing,
                                          const StoreFormat* create,
                                          const std::string& store_id) {
  if (namespace_name() == base::kDefaultNamespace) return true;
  const auto registered = [&] {
    return pq::Lib().PQntuples(
               Exec(doing, "SELECT 1 FROM forge_namespaces WHERE name = $1",
                    {namespace_name()})
                   .get()) > 0;
  };
  if (registered()) return true;
  if (create == nullptr) return false;
  Exec(doing, "SELECT pg_advisory_xact_lock($1)",
       {std::to_string(kSchemaLockKey)});
  if (registered()) return true;
  CreateTables(doing, NewFormatRows(*create, store_id));
  Exec(doing, "INSERT INTO forge_namespaces (name) VALUES ($1)",
       {namespace_name()});
  return true;
}

keys::BlocklistSpec PostgresStore::ReadBlocklist() {
  BeginCall();
  const char* doing = "reading the blocklist";
  return InTransaction(doing, [&] { return ReadFormat(doing).blocklist; });
}

void PostgresStore::WriteBlocklist(const keys::BlocklistSpec& spec) {
  CheckBlocklist(describe(), format().policy.prefix, spec);
  BeginCall();
  const char* doing = "writing the blocklist";
  InTransaction(doing, [&] {
    for (const auto& [key, value] : BlocklistRows(spec)) {
      Exec(doing,
           "INSERT INTO " + tables_.meta_sql +
               " (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE "
               "SET value = EXCLUDED.value",
           {key, value});
    }
    Exec(doing,
         "INSERT INTO forge_meta AS m (key, value) VALUES ($1, '1') "
         "ON CONFLICT (key) DO UPDATE SET value = "
         "(m.value::numeric + 1)::text",
         {std::string(kPolicyGenerationKey)});
  });
}

std::uint64_t PostgresStore::PolicyGeneration() {
  BeginCall();
  if (session_->conn == nullptr) Reconnect();
  const Result row = Exec("reading the policy generation",
                          "SELECT value FROM forge_meta WHERE key = $1",
                          {std::string(kPolicyGenerationKey)});
  std::optional<std::string> value;
  if (pq::Lib().PQntuples(row.get()) > 0) value = std::string(Value(row, 0, 0));
  return ParsePolicyGeneration(Describe(), {"forge_meta", kPostgresRepair},
                               value);
}

}  // namespace

std::unique_ptr<RangeStore> OpenPostgresStore(const std::string& url,
                                              const StoreFormat& wanted,
                                              const StoreLimits& limits) {
  return std::make_unique<PostgresStore>(url, wanted, limits);
}

}  // namespace forge::store
