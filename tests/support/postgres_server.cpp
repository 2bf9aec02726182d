#include "tests/support/postgres_server.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>

#include "pq/libpq.h"

namespace forge::testing {
namespace {

constexpr const char* kDefaultBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr const char* kServerUser = "postgres";
constexpr milliseconds kInitTimeout{120000};
constexpr milliseconds kStartTimeout{60000};
constexpr milliseconds kStopTimeout{30000};

std::string PgBinDir() {
  const char* dir = std::getenv("FORGE_PG_BINDIR");
  return dir != nullptr && *dir != '\0' ? dir : kDefaultBinDir;
}

std::string Conninfo(int port, const std::string& db) {
  return "host=127.0.0.1 port=" + std::to_string(port) +
         " user=" + kServerUser + " dbname=" + db + " connect_timeout=5";
}

// What pg_ctl waits for: postmaster.pid names this postmaster (line 1) and
// says "ready" (line 8) once it accepts connections. Cheaper to poll than
// connecting, which forks a server process per try.
bool PidFileSaysReady(const std::string& data, pid_t pid) {
  std::ifstream in(data + "/postmaster.pid");
  std::vector<std::string> lines;
  for (std::string line; lines.size() < 8 && std::getline(in, line);) {
    lines.push_back(line);
  }
  // A hot standby says "standby" once it takes read-only connections.
  return lines.size() == 8 && lines[0] == std::to_string(pid) &&
         (lines[7].rfind("ready", 0) == 0 || lines[7].rfind("standby", 0) == 0);
}

// Gives `dir` to the unprivileged server user: postgres refuses to run as
// root and wants to own its data directory.
void GiveToServerUser(const std::string& dir) {
  const passwd* user = ::getpwnam(kServerUser);
  if (user == nullptr) {
    throw std::runtime_error(
        std::string("tests run as root but there is no '") + kServerUser +
        "' user to run PostgreSQL as: install the postgresql package "
        "(scripts/install-deps.sh test)");
  }
  if (::chown(dir.c_str(), user->pw_uid, user->pw_gid) != 0) {
    throw std::runtime_error("chown " + dir + " to " + kServerUser + ": " +
                             std::strerror(errno));
  }
}

}  // namespace

PostgresServer::PostgresServer(std::vector<std::string> settings)
    : settings_(std::move(settings)),
      bindir_(PgBinDir()),
      data_(dir_ / "data"),
      port_(FreePort()),
      as_postgres_user_(::geteuid() == 0) {
  if (::access((bindir_ + "/postgres").c_str(), X_OK) != 0) {
    throw std::runtime_error(
        "PostgreSQL 15 is not installed: no " + bindir_ +
        "/postgres (run scripts/install-deps.sh test, or set "
        "FORGE_PG_BINDIR to the directory holding initdb and postgres)");
  }
  if (as_postgres_user_) GiveToServerUser(dir_.path());
  InitDb();
  Start();
  try {
    CreateDatabase("forge_test");
  } catch (const std::exception& e) {
    Fail(std::string("cannot create database forge_test: ") + e.what());
  }
}

PostgresServer::PostgresServer(const PostgresServer& primary, Replication mode)
    : bindir_(primary.bindir_),
      data_(dir_ / "data"),
      port_(FreePort()),
      as_postgres_user_(primary.as_postgres_user_) {
  if (as_postgres_user_) GiveToServerUser(dir_.path());
  BaseBackup(primary);
  Start();
  const std::string streaming =
      "SELECT count(*) > 0 FROM pg_stat_replication WHERE state = "
      "'streaming'";
  WaitForQuery(primary, streaming, "the standby streaming from the primary");
  if (mode == Replication::kAsync) return;
  primary.Query("ALTER SYSTEM SET synchronous_standby_names = '*'", "postgres");
  primary.Query("SELECT pg_reload_conf()", "postgres");
  WaitForQuery(primary,
               "SELECT count(*) > 0 FROM pg_stat_replication WHERE "
               "sync_state = 'sync'",
               "the standby as the primary's synchronous standby");
}

void PostgresServer::BaseBackup(const PostgresServer& primary) {
  const RunResult r = Run(
      AsServerUser({bindir_ + "/pg_basebackup", "-D", data_, "-R", "-X",
                    "stream", "--no-sync", "-c", "fast", "-h", "127.0.0.1",
                    "-p", std::to_string(primary.port()), "-U", kServerUser}),
      {{"LC_ALL", "C"}}, kInitTimeout);
  if (r.exit_code == 0) return;
  throw std::runtime_error(
      "pg_basebackup from 127.0.0.1:" + std::to_string(primary.port()) +
      " failed (exit " + std::to_string(r.exit_code) + "):\n" + r.out + r.err);
}

void PostgresServer::WaitForQuery(const PostgresServer& on,
                                  const std::string& sql,
                                  const std::string& what) {
  const bool seen = WaitUntil(
      [&] {
        try {
          return on.Query(sql, "postgres") == "t";
        } catch (const std::runtime_error&) {
          return false;  // not up yet
        }
      },
      kStartTimeout);
  if (!seen) Fail("timed out waiting for " + what);
}

void PostgresServer::Kill() {
  if (!server_) return;
  server_->Kill();
  past_log_ += server_->Stdout() + server_->Stderr();
  server_.reset();
}

void PostgresServer::Promote() {
  const RunResult r = Run(AsServerUser({bindir_ + "/pg_ctl", "promote", "-D",
                                        data_, "-w", "-t", "30"}),
                          {{"LC_ALL", "C"}}, kStopTimeout);
  if (r.exit_code != 0) {
    Fail("pg_ctl promote failed (exit " + std::to_string(r.exit_code) +
         "): " + r.out + r.err);
  }
  WaitForQuery(*this, "SELECT NOT pg_is_in_recovery()",
               "the promoted standby to accept writes");
}

void PostgresServer::StopStreaming() {
  Query("ALTER SYSTEM SET primary_conninfo = ''", "postgres");
  Query("SELECT pg_reload_conf()", "postgres");
  WaitForQuery(*this, "SELECT count(*) = 0 FROM pg_stat_wal_receiver",
               "the standby to stop streaming");
}

PostgresServer::~PostgresServer() {
  try {
    Crash();  // the data is thrown away: no need for a checkpoint
  } catch (...) {
    // A destructor must not throw; Stop() only fails if reaping fails.
  }
}

std::vector<std::string> PostgresServer::AsServerUser(
    std::vector<std::string> argv) const {
  if (!as_postgres_user_) return argv;
  // setpriv execs the program in place: the pid we start is the server's.
  std::vector<std::string> out = {
      kSetpriv, std::string("--reuid=") + kServerUser,
      std::string("--regid=") + kServerUser, "--init-groups", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

void PostgresServer::RunInitDb(const std::string& data) const {
  const RunResult r =
      Run(AsServerUser({bindir_ + "/initdb", "-D", data, "-U", kServerUser,
                        "--auth=trust", "--encoding=UTF8", "--locale=C",
                        "--no-sync", "--no-instructions"}),
          {{"LC_ALL", "C"}}, kInitTimeout);
  if (r.exit_code == 0) return;
  throw std::runtime_error("initdb -D " + data + " failed (exit " +
                           std::to_string(r.exit_code) + "):\n" + r.out +
                           r.err);
}

// initdb takes 1-2 s of CPU and ~80 PostgreSQL tests each need a new
// cluster, so the first one of a run makes a template (a never-started
// cluster, built aside and renamed into place, so concurrent tests never
// see half of one) and every server copies it. A copy that fails falls
// back to initdb: the template only saves time.
void PostgresServer::InitDb() {
  const char* base = std::getenv("TMPDIR");  // where TempDir makes its own
  const std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
      "/forge-pg-template-" + std::to_string(::geteuid()) + "-" +
      std::to_string(std::hash<std::string>{}(bindir_));
  if (::access((tmpl + "/data/PG_VERSION").c_str(), R_OK) != 0) {
    TempDir building;
    if (as_postgres_user_) GiveToServerUser(building.path());
    RunInitDb(building / "data");
    // Fails harmlessly when another test's template got there first; once
    // renamed, `building` has nothing left to remove.
    (void)::rename(building.path().c_str(), tmpl.c_str());
  }
  if (Run({"/bin/cp", "-a", tmpl + "/data", data_}).exit_code == 0) return;
  RunInitDb(data_);
}

void PostgresServer::Start() {
  if (Running()) return;
  std::vector<std::string> argv = {
      bindir_ + "/postgres", "-D", data_, "-p", std::to_string(port_), "-k",
      dir_.path(), "-c", "listen_addresses=127.0.0.1",
      // Dynamic shared memory as files under the data directory, removed
      // with it: POSIX segments (the default) outlive a Crash() in
      // /dev/shm, two per crashed server.
      "-c", "dynamic_shared_memory_type=mmap"};
  for (const std::string& s : settings_) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  server_.emplace(Process::Start(AsServerUser(argv), {{"LC_ALL", "C"}}));
  const std::string ping = Conninfo(port_, "postgres");
  WaitUntil(
      [&] {
        return !server_->Running() || PidFileSaysReady(data_, server_->pid());
      },
      kStartTimeout);
  if (!Running() || pq::Lib().PQping(ping.c_str()) != PQPING_OK) {
    Fail("PostgreSQL did not start accepting connections on 127.0.0.1:" +
         std::to_string(port_));
  }
}

void PostgresServer::Stop() { Shutdown(SIGINT); }

void PostgresServer::Crash() { Shutdown(SIGQUIT); }

void PostgresServer::Shutdown(int signal) {
  if (!server_) return;
  if (server_->Running()) {
    server_->Signal(signal);
    if (!server_->Wait(kStopTimeout)) server_->Kill();
  }
  past_log_ += server_->Stdout() + server_->Stderr();
  server_.reset();
}

bool PostgresServer::Running() { return server_ && server_->Running(); }

std::string PostgresServer::url(const std::string& db) const {
  return std::string("postgresql://") + kServerUser +
         "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PostgresServer::CreateDatabase(const std::string& name) {
  Query("CREATE DATABASE \"" + name + "\"", "postgres");
  return url(name);
}

std::string PostgresServer::Query(const std::string& sql,
                                  const std::string& db) const {
  const pq::Conn conn(pq::Lib().PQconnectdb(Conninfo(port_, db).c_str()));
  if (pq::Lib().PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to the test PostgreSQL (" +
                             Conninfo(port_, db) +
                             "): " + pq::Lib().PQerrorMessage(conn.get()));
  }
  const pq::Result result(pq::Lib().PQexec(conn.get(), sql.c_str()));
  const ExecStatusType status = pq::Lib().PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("query \"" + sql + "\" failed: " +
                             pq::Lib().PQerrorMessage(conn.get()));
  }
  if (pq::Lib().PQntuples(result.get()) == 0 ||
      pq::Lib().PQnfields(result.get()) == 0)
    return "";
  return pq::Lib().PQgetvalue(result.get(), 0, 0);
}

std::string PostgresServer::Log() const {
  if (!server_) return past_log_;
  return past_log_ + server_->Stdout() + server_->Stderr();
}

void PostgresServer::Fail(const std::string& what) {
  Crash();
  throw std::runtime_error(what + "\n--- PostgreSQL server log ---\n" + Log());
}

}  // namespace forge::testing
