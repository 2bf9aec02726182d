// stats/stats.h — `forge-ctl stats`: a snapshot of a segment, rates between
// two snapshots, and its renderings (table, JSON).
//
// Contract
//   * ReadSnapshot is shm::ReadStats (shm/stats.h) on a read-only segment
//     plus the segment's names: it never disturbs the ring, the broker or
//     the workers, and is a consistent-enough view for an operator, not an
//     atomic picture (counters may move in between).
//   * Blocklist (issue 14): keys_blocked counts the numbers the broker
//     skipped; the exhaustion projection counts only the usable share of
//     the numbers left (usable_fraction).
//   * Rates come from two snapshots of the same segment (AddRates): counter
//     deltas over the wall-clock time between them. A counter that went
//     backwards (the segment was replaced in between) counts as 0.
//   * The formatters are pure functions of a Snapshot (and so testable
//     without a segment). They list the worker slots with a pid, keys or
//     503s; a slot that only counted requests is left out. FormatJson emits one
//     JSON object on one line; its field names are stable (documented in
//     docs/forge-ctl.md): new fields may be added, existing ones never renamed
//     or retyped.
//   * Namespaces (issue 13): every namespace served under one SHM_NAME has
//     its own segment (base::NamespaceSegmentName). An Overview holds one
//     snapshot per served namespace ("default" first); its table is the
//     default namespace's table as before, followed by one row per
//     namespace (state, fill, keys/s, used fraction, exhaustion) and the
//     segments' memory when any namespace but "default" is served. Its JSON
//     is the default namespace's object (every field above, when default
//     is served) plus `namespaces` (one object per namespace) and
//     `segments_memory_bytes`.
//   * Thread-compatible: no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shm/health.h"
#include "shm/layout.h"
#include "shm/segment.h"
#include "shm/stats.h"

namespace forge::stats {

// A broker whose heartbeat is older than this is reported as not alive
// (shm::kHeartbeatStaleAfter; liveness is shm::BrokerAlive).
inline constexpr std::int64_t kBrokerStaleMs =
    std::chrono::milliseconds(shm::kHeartbeatStaleAfter).count();

// Counter deltas per second between two snapshots.
struct Rates {
  double interval_s = 0;
  double served_per_s = 0;       // keys handed out by all workers
  double produced_per_s = 0;     // keys the broker pushed into the ring
  double unavailable_per_s = 0;  // 503 answers
  double reserved_per_s = 0;     // ranges the broker reserved in the store
  std::map<std::uint32_t, double> worker_served_per_s;  // by slot
};

// When the key space runs out at the current production rate.
struct Exhaustion {
  enum class Kind {
    kUnknown,    // no rate measured (--interval 0, first watch frame)
    kNever,      // nothing produced over the interval
    kUsedUp,     // no number left
    kProjected,  // seconds_left (and date, when before year 10000)
  };
  Kind kind = Kind::kUnknown;
  double seconds_left = 0;
  std::optional<std::int64_t> unix_s;  // projected date, UTC seconds
};

// What forge-ctl shows: shm::Stats (read by shm::ReadStats) with the
// segment's names and the rates since an earlier snapshot.
struct Snapshot : shm::Stats {
  std::string segment;  // SHM_NAME
  std::string path;     // /dev/shm/mini-forge.<name>
  // Set by AddRates; nullopt for a single snapshot.
  std::optional<Rates> rates;

  // Whole milliseconds since the broker's last heartbeat; nullopt: never.
  std::optional<std::int64_t> heartbeat_age_ms() const;
  // "sqlite", "postgres" or "unknown", from the store text.
  std::string store_kind() const;
  // The share of numbers whose key passed the blocklist: keys_produced /
  // (keys_produced + keys_blocked); 1 before any number was used.
  double usable_fraction() const;
  // The keys left (remaining numbers × usable_fraction()) over
  // rates->produced_per_s.
  Exhaustion exhaustion() const;
};

// Reads the segment at wall-clock time `now_unix_ns` (heartbeat ages are
// measured against it).
Snapshot ReadSnapshot(const shm::ReadOnlySegment& seg,
                      std::uint64_t now_unix_ns);

// Segment `segment` (SHM_NAME or SHM_NAME@NS) attached read-only and read
// at `now_unix_ns`; nullopt with `*problem` set to one line when it cannot
// be (missing, damaged before or while read, another layout, not a
// segment at all).
std::optional<Snapshot> TryReadSnapshot(const std::string& segment,
                                        std::uint64_t now_unix_ns,
                                        std::string* problem);

// Fills after->rates (with each worker's served_per_s) from the counter
// deltas since `before`. No-op when `after` is not later than `before`.
void AddRates(const Snapshot& before, Snapshot* after);

std::string FormatTable(const Snapshot& s);
std::string FormatJson(const Snapshot& s);  // one line, ends with '\n'

// "running", "stopped", "no broker yet", "running, broker not alive": how
// a namespace's segment is being served (forge-ctl stats and namespace).
std::string ServingState(const shm::Stats& s);

// One served namespace: its snapshot, or why its segment could not be read.
struct NamespaceSnapshot {
  std::string name;
  std::optional<Snapshot> snap;
  std::string problem;  // one line, set when snap is nullopt
};

// Every namespace served under one SHM_NAME ("default" first).
struct Overview {
  std::vector<NamespaceSnapshot> namespaces;

  // The default namespace's snapshot; nullptr when it is not served.
  const Snapshot* Default() const;
  // True when a namespace other than "default" is served.
  bool HasOthers() const;
  // shm::SegmentSize(ring capacity) summed over the readable segments.
  std::uint64_t memory_bytes() const;
};

// Every namespace served under SHM_NAME `shm_name` at wall-clock time
// `now_unix_ns`: "default" attached by name (as before namespaces; its
// errors are thrown — a damaged segment too — except SegmentMissing while
// other namespaces are served), then every other namespace
// shm::ServedNamespaces finds, whose errors become its row's problem.
Overview ReadOverview(const std::string& shm_name, std::uint64_t now_unix_ns);

// AddRates for each namespace of `after` that `before` has too.
void AddRates(const Overview& before, Overview* after);

std::string FormatTable(const Overview& o);
std::string FormatJson(const Overview& o);  // one line, ends with '\n'

// `forge-ctl: no segment "x" (/dev/shm/mini-forge.x): is forge-broker
// running with SHM_NAME=x?`
std::string MissingSegmentMessage(const std::string& shm_name);

}  // namespace forge::stats
