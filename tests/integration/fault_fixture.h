// tests/integration/fault_fixture.h — a broker + frontend pair for fault
// tests: a tests/support Stack (SQLite store, unique segment, free port)
// with sequential keys, plus the segment and store readings they check.
//
// Contract
//   * Keys are sequential (KEY_ORDER=sequential), so every key the test
//     receives decodes to the number the store reserved for it (Numbers()).
//   * Starting, waiting and stopping follow the Stack contract.
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
#include "tests/support/stack.h"

namespace forge::testing {

using std::chrono::milliseconds;

inline constexpr milliseconds kFaultDeadline = kStackDeadline;

class FaultFixture : public ::testing::Test, public Stack {
 protected:
  FaultFixture() : Stack(Env{{"KEY_ORDER", "sequential"}}) {}

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
};

}  // namespace forge::testing
