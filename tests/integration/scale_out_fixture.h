// tests/integration/scale_out_fixture.h — several mini-forge instances
// (one forge-broker and one forge-frontend each, on their own segment and
// port) sharing one range store, for the scale-out tests.
//
// Contract
//   * SharedStore is the store every instance uses: a SQLite file or a
//     throw-away PostgreSQL server (tests/support Stack: a PostgreSQL that
//     cannot start fails the test, never skips). Its format is always
//     KEY_LENGTH=7 KEY_ORDER=sequential, so a key decodes to the number it
//     was made from. Every instance also declares namespace kSecond
//     (KEY_LENGTH=8, sequential; issue 13), so the brokers share two
//     counters; a key's length says its namespace.
//   * Instance is a tests/support Stack on the shared store and a port of
//     the caller's choosing; it stops what it holds on destruction.
//   * Statistics are read from the instance's segments (one per
//     namespace), attached read-only.
//   * Not thread-safe: drive each object from one thread (the load itself
//     runs on other threads against the port, not the object).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "base/names.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "tests/support/http_client.h"
#include "tests/support/stack.h"

namespace forge::scale_out {

using testing::StackOptions;
using testing::StoreKind;
using testing::StoreName;

inline constexpr int kKeyLength = 7;
inline constexpr const char* kSecond = "second";
inline constexpr int kSecondLength = 8;
inline constexpr auto kDeadline = testing::kStackDeadline;

// The store every instance uses: the store of a Stack whose programs never
// run.
class SharedStore : public testing::Stack {
 public:
  explicit SharedStore(StoreKind kind)
      : Stack({}, StackOptions::OwnStore(kind)) {}
  // Namespace `ns`'s counter, read through a RangeStore of our own.
  std::uint64_t Counter(
      const std::string& ns = std::string(base::kDefaultNamespace)) const;
};

struct InstanceOptions {
  std::string db_url;
  std::uint64_t range_size = 1000;
  std::uint64_t pool_capacity = 1024;
};

// One broker and one frontend (WORKERS=1) on the shared store.
class Instance : public testing::Stack {
 public:
  // `port` must be free and differ from every other instance's.
  Instance(const InstanceOptions& options, int port);

  // From namespace `ns`'s segment; nullptr until the broker has created it.
  const shm::BrokerStats* Stats(
      const std::string& ns = std::string(base::kDefaultNamespace));
  // The broker sleeps with both rings full: no reservation is in flight
  // and none will be until a consumer pops again.
  bool BrokerIdle();

 private:
  // Namespace `ns`'s segment, attached once; nullptr until it exists.
  const shm::ReadOnlySegment* Segment(const std::string& ns);

  std::uint64_t pool_capacity_;
  std::map<std::string, shm::ReadOnlySegment> segments_;
};

// `n` distinct free loopback ports.
std::vector<int> DistinctFreePorts(std::size_t n);

// The numbers behind every key of `codec`'s length in the 200 bodies of
// `r` (one key per line; keys of other lengths belong to another
// namespace). Keys of that length that do not decode go to `malformed`.
std::vector<std::uint64_t> ServedNumbers(const testing::LoadResult& r,
                                         const keys::KeyCodec& codec,
                                         std::vector<std::string>* malformed);

// The lines of `log` that report an error ("ERROR" level).
std::vector<std::string> ErrorLines(const std::string& log);

}  // namespace forge::scale_out
