// store/range_store.h — where ranges of numbers are reserved durably.
//
// Contract
//   * Reserve(count) hands numbers out. It returns [first, last) with
//     last - first <= count, committed durably (SQLite synchronous=FULL in
//     WAL mode, PostgreSQL COMMIT) before it returns. Two calls — in this
//     process or any other, on this host or another — never return
//     overlapping ranges (a returned number is handed out again at most
//     once per Return). The counter never decreases and never wraps.
//   * Returned numbers first (zero-waste restarts): Reserve takes the
//     lowest returned range, whole or its first `count` numbers, before it
//     advances the counter; so it may return fewer than `count` numbers
//     while the counter still has plenty. Taking a returned range and
//     removing it from the returned list is one transaction.
//   * Return(ranges) gives back numbers that were reserved but never
//     published (never entered a ring, or were taken back out of one), in
//     one durable transaction. The caller must have removed them from
//     circulation first: a crash in between loses them (a gap), never
//     duplicates them. Return refuses (non-transient StoreError, nothing
//     recorded) ranges that overlap each other or numbers already
//     returned, or that reach past the counter. When the outcome of its
//     commit is unknown it throws a NON-transient StoreError: retrying
//     could record the numbers twice.
//   * Near the end of the key space Reserve returns the remainder; once the
//     counter is at the end AND no returned numbers are left it returns an
//     empty range (first == last). Numbers returned later are handed out
//     again, even after an empty range.
//   * The regression guard (issue 16, docs/design.md §2): ReserveAbove and
//     ReturnAbove take the caller's mark, the highest number the store
//     ever granted it (0: no mark). Inside the transaction that locks the
//     counter, a counter found below the mark (writes lost in a failover, a
//     store restored from a backup) is moved up to the mark and the whole
//     returned list is discarded (a restored list may hold numbers handed
//     out after the backup was taken); the Regression says what was
//     skipped. Then the call proceeds as usual: the reservation starts at
//     the mark, the returned ranges (ReturnAbove) are NOT recorded (they
//     were reserved before the counter went back, so another caller may
//     hold them again) and count as skipped. Nothing is ever handed out
//     twice by the same caller; see the contract for what other callers'
//     lost numbers need (synchronous replication).
//   * Advance(to) moves the counter forward to `to` and discards the
//     returned list in one transaction (the restore runbook); a `to` below
//     the counter or past the key space is a non-transient StoreError.
//   * Errors throw StoreError; transient() says whether retrying can help
//     (locked/busy database, lost connection, a wait cut short by
//     STORE_TIMEOUT_MS or the stop signal) or not (corrupt file, newer
//     schema, read-only directory). A transient error from Return means
//     nothing was recorded. When the outcome of a commit is unknown
//     the range is treated as reserved and lost: never reused.
//   * The store's format (key length, order, secret) is fixed at creation.
//     OpenStore with a wanted format that differs from a stored one throws
//     a non-transient StoreError naming both.
//   * A RangeStore object is used by one thread at a time. Do not carry an
//     open store across fork(): open it in the process that uses it.
//   * Describe() and every error message name the store without a password.
//   * Namespaces (issue 13, docs/design.md §5): one store holds many
//     independent key spaces. OpenStore's object reserves from "default",
//     the store's original key space (its counter, returned list and
//     format are where schema 2 kept them, so an upgraded store keeps
//     every issued number). OpenNamespace gives an object for another
//     namespace that shares this object's connection: it is used on the
//     same thread and must not outlive it. Each namespace has its own
//     format (fixed at its creation, with its own secret), counter and
//     returned list; every rule above holds per namespace, and a number of
//     one namespace says nothing about another's. Namespaces are never
//     deleted.
//   * Failover (issue 16): Link() says where the connection goes, how
//     often it was made again, and the durability mode found at the last
//     (re)connect: kLocal (SQLite; PostgreSQL without a standby seen),
//     kAsync (a standby, commits not waiting for it), kSync (commits wait
//     for a synchronous standby). A PostgreSQL connection that lands on a
//     standby is never used: a transient StoreError.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "keys/blocklist.h"
#include "keys/key_codec.h"
#include "shm/layout.h"
#include "store/store_limits.h"

namespace forge::store {

struct Range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // exclusive
  std::uint64_t size() const { return last - first; }
  bool empty() const { return first == last; }
};

struct StoreFormat {
  int key_length = 7;
  config::KeyOrder order = config::KeyOrder::kScrambled;
  std::uint64_t secret = 0;         // 0 for sequential
  std::int64_t created_unix_s = 0;  // set by the store at creation
  // The store's identity: 32 lower-case hex digits (128 random bits) set by
  // the store at creation (a store made before identities existed gets one
  // the first time it is opened). Not part of the format: OpenStore ignores
  // it in `wanted`. A copied SQLite file keeps it (and is the same key
  // space: never serve from both).
  std::string store_id;
  // Issue 14: the alphabet, check character and prefix (fixed at creation,
  // compared like key_length and order) and the blocklist (set at
  // creation, changed later only by WriteBlocklist; never compared). A
  // store or namespace from before issue 14 reads as the defaults: base62,
  // no check, no prefix, blocklist none.
  keys::KeyPolicy policy;
  keys::BlocklistSpec blocklist;
};

// Issue 16: the store connection as the broker reports it.
struct StoreLinkInfo {
  std::string host;              // "host:port" (no password), or "local"
  std::uint64_t reconnects = 0;  // connections made after the first
  shm::StoreDurability durability = shm::StoreDurability::kUnknown;
  // Why: "synchronous_standby_names=ANY 1 (s1), 1 sync standby", …
  std::string detail;
  bool operator==(const StoreLinkInfo&) const = default;
};

// Code kUnavailable when transient, kIoError otherwise (base/status.h).
class StoreError : public Error {
 public:
  StoreError(const std::string& what, bool transient)
      : Error(transient ? Code::kUnavailable : Code::kIoError, what),
        transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

// What the regression guard found (see the contract): empty when the
// counter was not below the mark.
struct Regression {
  Range skipped;                   // [counter found, mark): never handed out
  std::uint64_t dropped = 0;       // returned numbers discarded (a gap)
  std::uint64_t not_returned = 0;  // ReturnAbove: numbers not recorded
  bool happened() const { return !skipped.empty(); }
};

struct Reservation {
  Range range;
  Regression regression;
};

// What Advance did: the counter went from `from` to `to`; `dropped`
// returned numbers were discarded.
struct Advanced {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::uint64_t dropped = 0;
};

class RangeStore {
 public:
  virtual ~RangeStore() = default;
  virtual const StoreFormat& format() const = 0;
  // Reserve without a mark (tools and tests; a broker passes its mark).
  Range Reserve(std::uint64_t count) { return ReserveAbove(count, 0).range; }
  [[nodiscard]] virtual Reservation ReserveAbove(std::uint64_t count,
                                                 std::uint64_t mark) = 0;
  // Empty ranges are skipped; an all-empty list writes nothing.
  void Return(const std::vector<Range>& ranges) {
    (void)ReturnAbove(ranges, 0);
  }
  [[nodiscard]] virtual Regression ReturnAbove(const std::vector<Range>& ranges,
                                               std::uint64_t mark) = 0;
  [[nodiscard]] virtual Advanced Advance(std::uint64_t to) = 0;
  // The counter: every number below it was reserved at least once (some
  // may be back in the returned list). For stats; may be stale.
  virtual std::uint64_t Next() = 0;
  // "sqlite:/abs/path/forge.db" or "postgres://user@host:5432/db"
  // (never a password).
  virtual std::string Describe() const = 0;

  // The namespace this object reserves from ("default" for OpenStore's).
  virtual const std::string& namespace_name() const = 0;
  // Every namespace of the store: "default" first, then the others by
  // name. Reads the store (a StoreError like any call).
  virtual std::vector<std::string> Namespaces() = 0;
  // An object for namespace `name` (base::IsNamespaceName; "default" too)
  // sharing this object's connection (see the contract). When it does not
  // exist: created with *create (key_length, order; a fresh secret when
  // scrambled and create->secret is 0; this store's store_id) in one
  // transaction when `create` is given (racing creators: one wins, the
  // others open it), else nullptr. When it exists and `create` is given,
  // its stored format must match *create's key_length and order: else a
  // non-transient StoreError naming the namespace and the field (like
  // OpenStore's). An invalid name is a non-transient StoreError.
  virtual std::unique_ptr<RangeStore> OpenNamespace(
      const std::string& name, const StoreFormat* create) = 0;

  // Issue 14. This namespace's blocklist as stored now (format().blocklist
  // is the one read at open). Reads the store.
  virtual keys::BlocklistSpec ReadBlocklist() = 0;
  // Replaces this namespace's blocklist and bumps the store's policy
  // generation, in one durable transaction.
  virtual void WriteBlocklist(const keys::BlocklistSpec& spec) = 0;
  // A store-wide counter that every WriteBlocklist (of any namespace)
  // bumps: brokers read it about once a second and re-read their
  // namespaces' blocklists when it moved. One cheap read.
  virtual std::uint64_t PolicyGeneration() = 0;

  // Issue 16. Where this object's connection goes and how durable its
  // commits are, as found when it last (re)connected; no I/O. The default
  // is a local store's ("local", kLocal).
  virtual StoreLinkInfo Link() const {
    return {"local", 0, shm::StoreDurability::kLocal, "a local file"};
  }
  // Finds the durability again (connecting first when the connection is
  // gone) and returns Link(). A StoreError like any call.
  virtual StoreLinkInfo CheckLink() { return Link(); }
};

// Opens (creating if needed) the store named by db_url ("sqlite:PATH",
// "postgres://…", "postgresql://…"). A new store takes `wanted` (with a
// fresh random secret when scrambled and wanted.secret is 0); an existing
// one must match wanted's key_length and order, and its own secret wins.
// A DB_URL that config::ParseDbUrl refuses (an unknown scheme, a
// sqlite://HOST form, …) or a SQLite path that is not a regular file
// throws a non-transient StoreError. Every call of the store, opening
// included, waits at most as `limits` allow (a transient StoreError when it
// gives up; see store_limits.h).
std::unique_ptr<RangeStore> OpenStore(const std::string& db_url,
                                      const StoreFormat& wanted,
                                      const StoreLimits& limits = {});

// Helpers shared by the store implementations (open_store.cpp; the
// metadata ones are in format.h).

// `ranges` without the empty ones, sorted by first. Throws a non-transient
// StoreError naming the store when two of them overlap or one reaches past
// `counter` (numbers never reserved cannot be returned).
std::vector<Range> CheckReturnable(const std::string& describe,
                                   std::vector<Range> ranges,
                                   std::uint64_t counter);

// The StoreError for a range being returned that overlaps `existing`, a
// range already in the returned list.
StoreError ReturnedTwice(const std::string& describe, const Range& range,
                         const Range& existing);

// "[first, last)".
std::string RangeText(const Range& r);

// How many numbers `ranges` hold.
std::uint64_t TotalOf(const std::vector<Range>& ranges);

// The StoreError for Advance(to) below the counter or past the key space.
StoreError CannotAdvance(const std::string& describe, std::uint64_t counter,
                         std::uint64_t to, std::uint64_t space);

}  // namespace forge::store
