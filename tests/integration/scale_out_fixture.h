// tests/integration/scale_out_fixture.h — several mini-forge instances
// (one forge-broker and one forge-frontend each, on their own segment and
// port) sharing one range store, for the scale-out tests.
//
// Contract
//   * SharedStore is the store every instance uses: a SQLite file in a
//     temporary directory, or database "forge_test" on a throw-away
//     PostgreSQL server started by the constructor (which throws, failing
//     the test loudly, when PostgreSQL cannot start; never skipped). Its
//     format is always KEY_LENGTH=7 KEY_ORDER=sequential, so a key decodes
//     to the number it was made from.
//   * Instance owns a unique SHM_NAME and a loopback port; the Processes it
//     starts are SIGKILLed and reaped on destruction (tests/support
//     Process), and its segment files are removed.
//   * Statistics are read from the instance's segment, attached read-only.
//   * Not thread-safe: drive each object from one thread (the load itself
//     runs on other threads against the port, not the object).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "keys/key_codec.h"
#include "shm/segment.h"
#include "tests/support/http_client.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

namespace forge::scale_out {

enum class StoreKind { kSqlite, kPostgres };
const char* StoreName(StoreKind kind);           // "SQLite" / "PostgreSQL"
void PrintTo(StoreKind kind, std::ostream* os);  // for GoogleTest names

inline constexpr int kKeyLength = 7;
inline constexpr auto kDeadline = std::chrono::milliseconds(20000);

class SharedStore {
 public:
  explicit SharedStore(StoreKind kind);
  SharedStore(const SharedStore&) = delete;
  SharedStore& operator=(const SharedStore&) = delete;

  std::string url() const;
  // The store's counter, read through a RangeStore of our own.
  std::uint64_t Counter() const;
  const std::string& dir() const { return dir_.path(); }
  // The server's log for failure messages ("" for SQLite).
  std::string Log() const;

 private:
  testing::TempDir dir_;
  std::optional<testing::PostgresServer> pg_;
};

struct InstanceOptions {
  std::string db_url;
  std::uint64_t range_size = 1000;
  std::uint64_t pool_capacity = 1024;
  std::string cwd;  // where the programs run
};

class Instance {
 public:
  // `port` must be free and differ from every other instance's.
  Instance(InstanceOptions options, int port);
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // The broker's environment, with `extra` overriding.
  testing::Env BrokerEnv(const testing::Env& extra = {}) const;
  void StartBroker();
  void StartFrontend();
  // /healthz answers 200 (ring has keys, broker alive).
  bool WaitHealthy();

  int port() const { return port_; }
  const std::string& shm_name() const { return shm_.str(); }
  testing::Process& broker() { return *broker_; }
  // Both programs' stderr, for failure messages.
  std::string Logs() const;

  // From the segment; nullopt until the broker has created it.
  const shm::BrokerStats* Stats();
  // The broker sleeps: no reservation is in flight and none will be until
  // a consumer pops again.
  bool BrokerIdle();

 private:
  InstanceOptions options_;
  int port_;
  testing::ShmName shm_;
  std::optional<testing::Process> broker_;
  std::optional<testing::Process> frontend_;
  std::optional<shm::ReadOnlySegment> segment_;
};

// `n` distinct free loopback ports.
std::vector<int> DistinctFreePorts(std::size_t n);

// The numbers behind every key in the 200 bodies of `r` (one key per
// line). Keys that do not decode are added to `malformed`.
std::vector<std::uint64_t> ServedNumbers(const testing::LoadResult& r,
                                         const keys::KeyCodec& codec,
                                         std::vector<std::string>* malformed);

// The lines of `log` that report an error ("ERROR" level).
std::vector<std::string> ErrorLines(const std::string& log);

}  // namespace forge::scale_out
