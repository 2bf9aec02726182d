// tests/integration/fault_fixture.h — a broker + frontend pair for fault
// tests: a tests/support Stack (SQLite store, unique segment, free port)
// with sequential keys, plus the segment and store readings they check.
//
// Contract
//   * Keys are sequential (KEY_ORDER=sequential), so every key the test
//     receives decodes to the number the store reserved for it (Numbers()).
//   * Namespaces (issue 13): the suites also serve kSecond, declared with
//     another key length (DeclareSecond), so their invariants are checked
//     per namespace; keys of the two namespaces tell apart by their length
//     (ByNamespace). Readings take the namespace ("default" unless said).
//   * Starting, waiting and stopping follow the Stack contract.
//   * Not thread-safe: one test thread drives the fixture (loads run on
//     their own threads with their own state).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shm/layout.h"
#include "store/range_store.h"
#include "tests/support/stack.h"

namespace forge::testing {

using std::chrono::milliseconds;

inline constexpr milliseconds kFaultDeadline = kStackDeadline;
inline constexpr int kDefaultLength = 7;
// The namespace the fault suites serve next to default, and its key length.
inline constexpr const char* kSecond = "second";
inline constexpr int kSecondLength = 9;

// A set of keys split by namespace (told apart by length).
struct KeysByNamespace {
  std::vector<std::string> first;   // default: kDefaultLength
  std::vector<std::string> second;  // kSecond: kSecondLength
  std::vector<std::string> other;   // neither length
};

// Namespace `ns` ("default" too) of the existing store of `db_url`, in
// whatever format the store holds: `named` shares `root`'s connection
// (keep both), and is nullptr when the namespace does not exist. Throws
// what store::OpenStore throws.
struct NamespaceStore {
  std::unique_ptr<store::RangeStore> root;
  std::unique_ptr<store::RangeStore> named;
};
NamespaceStore OpenNamespaceStore(const std::string& db_url,
                                  const std::string& ns);

// Namespace `ns`'s counter in the store of `db_url`, read through the
// store's own code: every number below it was durably reserved. The store
// and the namespace must exist (else a test failure and 0).
std::uint64_t StoreCounterOf(
    const std::string& db_url,
    const std::string& ns = std::string(base::kDefaultNamespace));

class FaultFixture : public ::testing::Test, public Stack {
 protected:
  FaultFixture() : Stack(Env{{"KEY_ORDER", "sequential"}}) {}

  // Declares kSecond (sequential, kSecondLength) for every program started
  // from now on; `pool_capacity` 0 means NS_POOL_CAPACITY.
  void DeclareSecond(std::uint64_t pool_capacity = 0) const;

  // Broker fields of the segment; nullopt while there is no segment.
  std::optional<shm::BrokerState> BrokerStateNow(
      std::string_view ns = base::kDefaultNamespace) const;
  std::optional<std::uint64_t> RingFill() const;
  // Sum of served keys over every worker slot, and keys the brokers pushed.
  std::uint64_t ServedTotal() const;
  std::uint64_t ProducedTotal(
      std::string_view ns = base::kDefaultNamespace) const;

  // Namespace `ns`'s counter in the store (StoreCounterOf).
  std::uint64_t StoreCounter(
      const std::string& ns = std::string(base::kDefaultNamespace)) const;

  static KeysByNamespace ByNamespace(const std::vector<std::string>& keys);

  // Decodes sequential keys to their numbers; a malformed key adds a test
  // failure. The result is sorted.
  static std::vector<std::uint64_t> Numbers(
      const std::vector<std::string>& keys, int key_length = 7);
  // Numbers that appear more than once in a sorted vector.
  static std::vector<std::uint64_t> Repeats(
      const std::vector<std::uint64_t>& sorted);
};

}  // namespace forge::testing
