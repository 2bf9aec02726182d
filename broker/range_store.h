// broker/range_store.h — where ranges of numbers are reserved durably.
//
// Contract
//   * Reserve(count) is the only write path. It returns [first, last) with
//     last - first <= count, committed durably (SQLite synchronous=FULL in
//     WAL mode, PostgreSQL COMMIT) before it returns. Two calls — in this
//     process or any other, on this host or another — never return
//     overlapping ranges. The counter never decreases and never wraps.
//   * Near the end of the key space Reserve returns the remainder; once the
//     space is used up it returns an empty range (first == last).
//   * Errors throw StoreError; transient() says whether retrying can help
//     (locked/busy database, lost connection) or not (corrupt file, newer
//     schema, read-only directory). When the outcome of a commit is unknown
//     the range is treated as reserved and lost: never reused.
//   * The store's format (key length, order, secret) is fixed at creation.
//     OpenStore with a wanted format that differs from a stored one throws
//     a non-transient StoreError naming both.
//   * A RangeStore object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.h"

namespace forge::broker {

struct Range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // exclusive
  std::uint64_t size() const { return last - first; }
  bool empty() const { return first == last; }
};

struct StoreFormat {
  int key_length = 7;
  config::KeyOrder order = config::KeyOrder::kScrambled;
  std::uint64_t secret = 0;        // 0 for sequential
  std::int64_t created_unix_s = 0;  // set by the store at creation
};

class StoreError : public std::runtime_error {
 public:
  StoreError(const std::string& what, bool transient)
      : std::runtime_error(what), transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

class RangeStore {
 public:
  virtual ~RangeStore() = default;
  virtual const StoreFormat& format() const = 0;
  virtual Range Reserve(std::uint64_t count) = 0;
  // The next number the store would hand out (for stats; may be stale).
  virtual std::uint64_t Next() = 0;
  // "sqlite:/abs/path/forge.db" or "postgres://user@host:5432/db"
  // (never a password).
  virtual std::string Describe() const = 0;
};

// Opens (creating if needed) the store named by db_url ("sqlite:PATH",
// "postgres://…", "postgresql://…"). A new store takes `wanted` (with a
// fresh random secret when scrambled); an existing one must match it.
std::unique_ptr<RangeStore> OpenStore(const std::string& db_url,
                                      const StoreFormat& wanted);

}  // namespace forge::broker
