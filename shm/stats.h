// shm/stats.h — the one reader of a segment's counters: a snapshot of the
// broker, the ring and every used worker slot, and the broker state names.
//
// Contract
//   * ReadStats only loads (it takes a ReadOnlySegment, so it cannot store),
//     so it never disturbs the ring, the broker or the workers. Each field
//     is one relaxed load: the snapshot is a consistent-enough view for an
//     operator, /healthz and /metrics, not an atomic picture (counters may
//     move in between), and is never used to decide who gets a key.
//   * Broker liveness is shm::BrokerAlive (health.h) at the caller's clock,
//     so forge-ctl, /healthz and /metrics never disagree about the broker.
//   * Workers: every slot that was ever used (a pid, or any count), by slot
//     number; readers that show fewer filter when they format. Totals cover
//     every slot of the segment (all frontends).
//   * What a damaged segment yields is garbage: callers check
//     ReadOnlySegment::faulted() or Damage() after reading.
//   * Formatting lives with each reader (stats/stats_format.cpp,
//     frontend/metrics.cpp). Thread-compatible: no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shm/layout.h"
#include "shm/segment.h"

namespace forge::shm {

// Every BrokerState, in enum order.
inline constexpr std::array<BrokerState, 7> kBrokerStates = {
    BrokerState::kNone,       BrokerState::kStarting,  BrokerState::kRunning,
    BrokerState::kStoreError, BrokerState::kExhausted, BrokerState::kStopped,
    BrokerState::kStoreUnsafe};

// "none", "starting", "running", "store-error", "exhausted", "stopped",
// "store-unsafe" ("unknown" for a value no build wrote): the words of the
// broker's log, forge-ctl and the forge_broker_state label.
const char* BrokerStateName(BrokerState state);

// "unknown", "local", "async", "sync" (StoreDurability; "unknown" too for
// a value no build wrote): forge-ctl, the log and the metric label.
const char* DurabilityName(StoreDurability durability);
const char* ConsumerKindName(ConsumerKind kind);  // "worker", "client"

// The broker's StoreLink text ("host:port"): written by the one broker
// whenever its store connection changes (seqlock, see layout.h); read
// by ReadStats. Text longer than the block is cut.
void WriteStoreLink(StoreLink& link, std::string_view text);
std::string ReadStoreLink(const StoreLink& link);

// One used worker stats slot.
struct WorkerStats {
  std::uint32_t slot = 0;
  std::int32_t pid = 0;  // 0 when free
  bool alive = false;    // pid > 0 and the process exists
  std::uint64_t served = 0;
  std::uint64_t unavailable = 0;  // 503 answers
  std::uint64_t requests = 0;
  ConsumerKind kind = ConsumerKind::kWorker;
};

struct Stats {
  std::uint64_t now_unix_ns = 0;  // the clock it was read at
  // Header: the key format and the store the keys come from.
  std::string store;             // store description, no password
  std::uint32_t key_length = 0;  // characters: prefix + digits + check
  std::uint32_t key_order = 0;   // 0 scrambled, 1 sequential
  std::uint64_t key_space = 0;   // numbers [0, key_space)
  // Broker health.
  std::int32_t broker_pid = 0;  // 0 when no broker has run
  BrokerState broker_state = BrokerState::kNone;
  bool broker_alive = false;                      // shm::BrokerAlive
  std::optional<std::uint64_t> heartbeat_age_ns;  // nullopt: never beat
  // Ring.
  std::uint64_t ring_capacity = 0;  // keys (Ring::Capacity)
  std::uint64_t ring_fill = 0;      // keys ready to claim
  std::uint64_t low_water = 0;      // the broker refills below this fill
  // Broker counters (they only grow while one broker runs; a new broker on
  // the same segment carries them on).
  std::uint64_t keys_produced = 0;
  std::uint64_t keys_wasted = 0;   // known gaps (0 if unknown)
  std::uint64_t keys_blocked = 0;  // numbers the blocklist skipped
  std::uint64_t ranges_reserved = 0;
  std::uint64_t refills = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t last_refill_ns = 0;  // latest store round trip
  // The store has handed out [0, store_next) as of the broker's latest
  // reservation.
  std::uint64_t store_next = 0;
  // Store link and failover (layout version 4).
  std::uint64_t granted_high = 0;  // the regression guard's mark
  std::uint64_t store_regressions = 0;
  std::uint64_t store_reconnects = 0;
  std::uint64_t range_size = 0;  // the latest reservation's size
  StoreDurability durability = StoreDurability::kUnknown;
  std::string store_host;  // "" until the broker has connected
  // Workers (see the contract) and their totals.
  std::vector<WorkerStats> workers;
  std::uint64_t served_total = 0;
  std::uint64_t unavailable_total = 0;
  std::uint64_t requests_total = 0;
  std::uint32_t workers_alive = 0;

  double ring_fill_fraction() const;  // ring_fill / ring_capacity, 0 if none
  double key_space_used() const;      // store_next / key_space, 0 if none
  std::uint64_t key_space_remaining() const;
};

// Reads the segment at wall-clock time `now_unix_ns` (CLOCK_REALTIME ns;
// heartbeat age and broker liveness are measured against it).
Stats ReadStats(const ReadOnlySegment& seg, std::uint64_t now_unix_ns);

}  // namespace forge::shm
