// tests/support/postgres_server.h — a throw-away PostgreSQL server for tests.
//
// Contract
//   * The constructor runs initdb (PostgreSQL 15 from Debian, or the bin
//     directory in $FORGE_PG_BINDIR) into a fresh temporary directory and
//     starts `postgres` on 127.0.0.1 at a free port, its Unix socket in that
//     directory, trust authentication, superuser "postgres", durability
//     settings left at their defaults (fsync on, synchronous_commit on). It
//     returns once the server accepts connections and database
//     "forge_test" exists.
//   * Run as root (CI), initdb and postgres run as the unprivileged
//     `postgres` system user (setpriv, so the pid started is the server's
//     own) and the directory is given to that user; otherwise they run as
//     the current user.
//   * When the server cannot be started, the constructor (or Start) throws
//     std::runtime_error carrying the server's log: the test fails loudly,
//     it is never skipped.
//   * Stop() asks for a fast shutdown (SIGINT: clients are disconnected, a
//     shutdown checkpoint is written); Crash() for an immediate one
//     (SIGQUIT: no checkpoint, the next Start() recovers from the WAL, as
//     after a crash). Either waits for the server to exit, and SIGKILLs it
//     only if it has not after 30 s. Start() starts it again on the same
//     directory and port. The destructor shuts it down immediately and
//     removes the directory. Only the pid this object started is ever
//     signalled.
//   * initdb runs with --no-sync (the cluster is new and thrown away); the
//     server itself keeps fsync on. It runs once per machine: its output
//     is kept as a template in the temporary folder and copied for each
//     server (the same files initdb would write).
//   * Standby (issue 16): PostgresServer(primary, mode) makes a streaming
//     standby of a running `primary` with pg_basebackup -R -c fast (its
//     primary_conninfo goes to the primary's loopback port) and starts it
//     on its own port and directory; it returns once the primary's
//     pg_stat_replication shows it streaming — and, for kSync, once the
//     primary has synchronous_standby_names='*' (ALTER SYSTEM, reloaded)
//     and shows it as the sync standby, so every later commit on the
//     primary waits for it. Promote() runs pg_ctl promote and returns once
//     the server accepts writes; StopStreaming() cuts the standby off its
//     primary (primary_conninfo emptied and reloaded; returns once its WAL
//     receiver is gone), so what the primary commits later is lost in a
//     failover — pausing replay would not lose it: a promotion replays
//     every WAL record already received; Kill() is kill -9 of the postmaster
//     this object started (its children exit when they notice; Start() is not
//     meant to follow).
//   * Not thread-safe; one object per server.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace forge::testing {

class PostgresServer {
 public:
  enum class Replication { kAsync, kSync };

  // `settings` are extra "name=value" server settings (postgres -c).
  explicit PostgresServer(std::vector<std::string> settings = {});
  // A streaming standby of `primary` (see the contract).
  PostgresServer(const PostgresServer& primary, Replication mode);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  void Start();
  void Stop();
  void Crash();
  void Kill();  // kill -9 of the postmaster
  bool Running();
  pid_t pid() const { return server_ ? server_->pid() : 0; }
  void Promote();
  void StopStreaming();
  int port() const { return port_; }
  // The directory of the server's programs (pg_dump, pg_restore, …).
  const std::string& bindir() const { return bindir_; }

  // "postgresql://postgres@127.0.0.1:PORT/DB".
  std::string url(const std::string& db = "forge_test") const;
  // Creates database `name` and returns url(name).
  std::string CreateDatabase(const std::string& name);
  // Runs `sql` as the superuser in database `db`; returns the first column
  // of the first row ("" when there is none). Throws std::runtime_error
  // with the server's message when the statement fails.
  std::string Query(const std::string& sql,
                    const std::string& db = "forge_test") const;
  // Everything the server wrote to stdout/stderr so far, all runs.
  std::string Log() const;

 private:
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;
  void InitDb();  // from the run's template cluster (see the .cpp)
  void RunInitDb(const std::string& data) const;
  void BaseBackup(const PostgresServer& primary);
  // Polls Query(sql, "postgres") on `on` until it returns "t".
  void WaitForQuery(const PostgresServer& on, const std::string& sql,
                    const std::string& what);
  // Stops the server and throws `what` with the server's log.
  void Shutdown(int signal);
  [[noreturn]] void Fail(const std::string& what);

  std::vector<std::string> settings_;
  TempDir dir_;
  std::string bindir_;
  std::string data_;
  int port_ = 0;
  bool as_postgres_user_ = false;
  std::optional<Process> server_;
  std::string past_log_;  // output of previous runs
};

}  // namespace forge::testing
