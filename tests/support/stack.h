// tests/support/stack.h — the one way a process-level test stands up
// mini-forge: a temporary directory, a unique SHM_NAME, a free loopback
// port, a store (a SQLite file in the directory, or a throw-away
// PostgreSQL server), and the real forge-broker / forge-frontend from
// $FORGE_BIN_DIR.
//
// Contract
//   * Every program starts in dir() with MakeEnv(): SHM_NAME, DB_URL, HOST,
//     PORT, then the stack's `env`, then the call's `extra`; later entries
//     override earlier ones.
//   * StoreKind::kPostgres starts its server in the constructor, which
//     throws (failing the test loudly) when PostgreSQL cannot start; a test
//     that needs it never skips.
//   * Waits poll a condition until a deadline (WaitUntil); nothing sleeps.
//   * Processes are stopped by pid when their Process object (or the Stack
//     holding broker/frontend) is destroyed; the processes go before the
//     directory and the PostgreSQL server they use.
//   * Segment reads attach read-only afresh each time, so they never hold
//     on to a segment a broker has replaced.
//   * Namespaces (issue 13): Declare() writes config/config.yml in dir()
//     (where every program starts, so the loader finds it unless the env
//     sets CONFIG_PATH) with a `namespaces:` map; call it before starting
//     the programs. Segment reads take a namespace ("default": SHM_NAME's
//     own segment).
//   * Not thread-safe: one test thread drives a Stack.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/names.h"
#include "shm/segment.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

namespace forge::testing {

enum class StoreKind { kSqlite, kPostgres };
const char* StoreName(StoreKind kind);           // "SQLite" / "PostgreSQL"
void PrintTo(StoreKind kind, std::ostream* os);  // for GoogleTest names

inline constexpr milliseconds kStackDeadline{20000};

// Where the stack's store is and which port it uses; the defaults (a
// SQLite file forge.db in dir(), a free port) suit most tests.
struct StackOptions {
  StoreKind store = StoreKind::kSqlite;
  // A store of someone else's (shared by several stacks); "" = our own.
  std::string db_url;
  // The SQLite file of our own store, relative to dir().
  std::string sqlite_file = "forge.db";
  int port = 0;  // the frontend's port; 0 = a free one

  static StackOptions OwnStore(StoreKind kind);
  static StackOptions SqliteFile(std::string file);
  static StackOptions SharedStore(std::string db_url, int port);
};

// A namespace a test declares (config.yml `namespaces:`); sequential keys
// by default, so a key decodes to the number it was made from.
struct TestNamespace {
  std::string name{};
  int key_length = 7;
  std::string key_order = "sequential";
  std::uint64_t pool_capacity = 0;  // 0: NS_POOL_CAPACITY
  // Issue 14, written only when not empty: alphabet, check, prefix and
  // blocklist (default | none | a file path relative to config/).
  std::string alphabet{};
  std::string check{};
  std::string prefix{};
  std::string blocklist{};
};

class Stack {
 public:
  // `env` goes on top of the stack's own variables for every program.
  explicit Stack(Env env = {}, StackOptions options = {});
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  const TempDir& dir() const { return dir_; }
  const std::string& shm() const { return shm_.str(); }
  int port() const { return port_; }
  std::string DbUrl() const;
  // The stack's own PostgreSQL server (StoreKind::kPostgres only).
  PostgresServer& postgres() { return pg_.value(); }
  const PostgresServer& postgres() const { return pg_.value(); }
  // The PostgreSQL server's log ("" for SQLite), for failure messages.
  std::string StoreLog() const { return pg_ ? pg_->Log() : ""; }

  // Declares `namespaces` for every program started from now on
  // (replacing what an earlier call declared).
  void Declare(const std::vector<TestNamespace>& namespaces) const;

  Env MakeEnv(const Env& extra = {}) const;
  Process Start(const std::string& program, const Env& extra = {}) const;
  Process StartBroker(const Env& extra = {}) const {
    return Start("forge-broker", extra);
  }
  Process StartFrontend(const Env& extra = {}) const {
    return Start("forge-frontend", extra);
  }

  // Start a program and hold it in broker() / frontend(), stopping the
  // one held before.
  Process& HoldBroker(const Env& extra = {});
  Process& HoldFrontend(const Env& extra = {});
  // Holds a broker and a frontend and waits until /healthz answers 200;
  // false (with both still held, for Logs()) otherwise.
  [[nodiscard]] bool Up(const Env& extra = {},
                        milliseconds timeout = kStackDeadline);
  // The stderr of the held frontend and broker, under a title line.
  std::string Logs() const;

  [[nodiscard]] bool WaitHealthy(milliseconds timeout = kStackDeadline) const;
  // Every segment of the stack (each served namespace's) names `broker`
  // as its live producer in state running.
  [[nodiscard]] bool WaitBrokerRunning(
      const Process& broker, milliseconds timeout = kStackDeadline) const;

  // A read-only view of namespace `ns`'s segment; nullopt while there is
  // none.
  std::optional<shm::ReadOnlySegment> View(
      std::string_view ns = base::kDefaultNamespace) const;
  // Live worker pids of the frontend whose master is `master` (sorted).
  std::vector<pid_t> WorkerPids(pid_t master) const;
  [[nodiscard]] bool WaitWorkers(pid_t master, std::size_t n,
                                 milliseconds timeout = kStackDeadline) const;

  // What Hold*() / Up() started (empty before).
  std::optional<Process>& broker() { return broker_; }
  std::optional<Process>& frontend() { return frontend_; }
  const std::optional<Process>& broker() const { return broker_; }
  const std::optional<Process>& frontend() const { return frontend_; }

 private:
  Env env_;
  StackOptions options_;
  std::optional<PostgresServer> pg_;
  TempDir dir_;
  ShmName shm_;
  int port_;
  // Last, so they are stopped before the store and directory go.
  std::optional<Process> broker_;
  std::optional<Process> frontend_;
};

}  // namespace forge::testing
