// tests/integration/fault_fixture.h — a broker + frontend pair for fault
// tests: the real binaries, a SQLite store in a temporary directory, a
// unique segment and a free loopback port.
//
// Contract
//   * Keys are sequential (KEY_ORDER=sequential), so every key the test
//     receives decodes to the number the store reserved for it (Numbers()).
//   * Every process started through the fixture is stopped by pid when the
//     fixture is destroyed (forge::testing::Process).
//   * Segment reads go through a fresh read-only attach each time, so they
//     never hold on to a segment a broker has replaced.
//   * Not thread-safe: one test thread drives the fixture (loads run on
//     their own threads with their own state).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shm/layout.h"
#include "tests/support/process.h"

namespace forge::testing {

using std::chrono::milliseconds;

inline constexpr milliseconds kFaultDeadline{20000};

class FaultFixture : public ::testing::Test {
 protected:
  // SHM_NAME, DB_URL, HOST, PORT, KEY_ORDER=sequential, plus `extra`.
  Env MakeEnv(const Env& extra = {}) const;
  std::string DbUrl() const { return "sqlite:" + (dir_ / "forge.db"); }

  Process StartBroker(const Env& extra = {});
  Process StartFrontend(const Env& extra = {});

  // The segment names `broker` as its live producer in state running.
  bool WaitBrokerRunning(const Process& broker,
                         milliseconds timeout = kFaultDeadline);
  bool WaitHealthy(milliseconds timeout = kFaultDeadline);

  // Live worker pids of the frontend whose master is `master`, from the
  // segment's worker slots (sorted).
  std::vector<pid_t> WorkerPids(pid_t master) const;
  bool WaitWorkers(pid_t master, std::size_t n,
                   milliseconds timeout = kFaultDeadline);

  // Broker fields of the segment; nullopt while there is no segment.
  std::optional<shm::BrokerState> BrokerStateNow() const;
  std::optional<std::uint64_t> RingFill() const;
  // Sum of served keys over every worker slot, and keys the brokers pushed.
  std::uint64_t ServedTotal() const;
  std::uint64_t ProducedTotal() const;

  // The store's counter: every number below it was durably reserved.
  std::uint64_t StoreCounter(int key_length = 7) const;

  // Decodes sequential keys to their numbers; a malformed key adds a test
  // failure. The result is sorted.
  static std::vector<std::uint64_t> Numbers(
      const std::vector<std::string>& keys, int key_length = 7);
  // Numbers that appear more than once in a sorted vector.
  static std::vector<std::uint64_t> Repeats(
      const std::vector<std::uint64_t>& sorted);

  TempDir dir_;
  ShmName shm_;
  int port_ = FreePort();
};

}  // namespace forge::testing
