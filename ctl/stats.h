// ctl/stats.h — `forge-ctl stats`: a snapshot of a segment, rates between
// two snapshots, and its renderings (table, JSON).
//
// Contract
//   * ReadSnapshot only reads the segment (forge-ctl maps it read-only), so
//     it can never disturb the ring, the broker or the workers. Each field
//     is one relaxed load: the snapshot is a consistent-enough view for an
//     operator, not an atomic picture (counters may move in between).
//   * Rates come from two snapshots of the same segment (AddRates): counter
//     deltas over the wall-clock time between them. A counter that went
//     backwards (the segment was replaced in between) counts as 0.
//   * The formatters are pure functions of a Snapshot (and so testable
//     without a segment). FormatJson emits one JSON object on one line;
//     its field names are stable (documented in docs/forge-ctl.md): new
//     fields may be added, existing ones never renamed or retyped.
//   * Thread-compatible: no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shm/health.h"
#include "shm/layout.h"
#include "shm/segment.h"

namespace forge::ctl {

// A broker whose heartbeat is older than this is reported as not alive
// (shm::kHeartbeatStaleAfter; liveness is shm::BrokerAlive).
inline constexpr std::int64_t kBrokerStaleMs =
    std::chrono::milliseconds(shm::kHeartbeatStaleAfter).count();

struct WorkerRow {
  std::uint32_t slot = 0;
  std::int32_t pid = 0;
  bool alive = false;
  std::uint64_t served = 0;
  std::uint64_t unavailable = 0;  // 503 answers
  std::uint64_t requests = 0;
  std::optional<double> served_per_s;  // set by AddRates
};

// Counter deltas per second between two snapshots.
struct Rates {
  double interval_s = 0;
  double served_per_s = 0;       // keys handed out by all workers
  double produced_per_s = 0;     // keys the broker pushed into the ring
  double unavailable_per_s = 0;  // 503 answers
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

struct Snapshot {
  std::uint64_t unix_ns = 0;  // when it was read (wall clock)
  std::string segment;        // SHM_NAME
  std::string path;           // /dev/shm/mini-forge.<name>
  // Broker.
  std::int32_t broker_pid = 0;
  bool broker_alive = false;
  shm::BrokerState state = shm::BrokerState::kNone;
  std::optional<std::int64_t> heartbeat_age_ms;  // nullopt: never beat
  // Ring.
  std::uint64_t capacity = 0;
  std::uint64_t fill = 0;
  std::uint64_t low_water = 0;
  // Counters.
  std::uint64_t keys_produced = 0;
  std::uint64_t keys_wasted = 0;
  std::uint64_t ranges_reserved = 0;
  std::uint64_t refills = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t last_refill_ns = 0;
  // Key format and space.
  std::uint32_t key_length = 0;
  std::uint32_t key_order = 0;  // 0 scrambled, 1 sequential
  std::uint64_t key_space = 0;
  std::uint64_t store_next = 0;  // numbers used so far (store counter)
  std::string store;
  // Workers: slots with a pid or with history (served > 0).
  std::vector<WorkerRow> workers;
  std::uint64_t served_total = 0;
  std::uint64_t unavailable_total = 0;
  // Set by AddRates; nullopt for a single snapshot.
  std::optional<Rates> rates;

  double fill_fraction() const;   // fill / capacity, 0 when empty
  double key_space_used() const;  // store_next / key_space
  std::uint64_t key_space_remaining() const;
  // "sqlite", "postgres" or "unknown", from the store text.
  std::string store_kind() const;
  // Remaining numbers over rates->produced_per_s.
  Exhaustion exhaustion() const;
};

// Reads the segment at wall-clock time `now_unix_ns` (heartbeat ages are
// measured against it).
Snapshot ReadSnapshot(const shm::Segment& seg, std::uint64_t now_unix_ns);

// Fills after->rates and each worker's served_per_s from the counter deltas
// since `before`. No-op when `after` is not later than `before`.
void AddRates(const Snapshot& before, Snapshot* after);

std::string FormatTable(const Snapshot& s);
std::string FormatJson(const Snapshot& s);  // one line, ends with '\n'

// `forge-ctl: no segment "x" (/dev/shm/mini-forge.x): is forge-broker
// running with SHM_NAME=x?`
std::string MissingSegmentMessage(const std::string& shm_name);

}  // namespace forge::ctl
