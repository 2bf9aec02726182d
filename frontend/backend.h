// frontend/backend.h — what the HTTP handlers need from the key ring.
//
// Contract
//   * Backend is the seam between the socket-free handlers (handlers.h) and
//     the shared-memory segment (segment_backend.h). Tests substitute a fake.
//   * All methods are called concurrently from many request threads of one
//     worker process; implementations must be thread-safe and must not block
//     longer than the configured empty-ring wait (TakeKeys) or a few
//     microseconds (everything else).
//   * Snapshot is a plain value: a consistent-enough picture for /healthz,
//     /metrics and 503 reasons, never used to decide who gets a key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shm/layout.h"
#include "shm/ring.h"

namespace forge::frontend {

// One worker stats slot that has been used (a live pid or any count).
struct WorkerSnapshot {
  std::uint32_t slot = 0;
  std::int32_t pid = 0;  // 0 when free
  bool alive = false;    // pid > 0 and the process exists
  std::uint64_t served = 0;
  std::uint64_t unavailable = 0;
  std::uint64_t requests = 0;
};

// A moment's view of the segment, for health, metrics and error messages.
struct Snapshot {
  std::string shm_name;   // SHM_NAME the worker attaches to
  bool attached = false;  // false until the broker has created the segment
  // While not attached: why ("" when no segment exists yet), one line, e.g.
  // "shared memory … was truncated to 100 bytes (expected N) …".
  std::string detached_reason;
  // Broker health (meaningful only when attached).
  bool broker_alive = false;  // pid alive and heartbeat younger than
                              // kHeartbeatStaleAfter (segment_backend.h)
  shm::BrokerState broker_state = shm::BrokerState::kNone;
  std::int32_t broker_pid = 0;
  // Seconds since the broker's last heartbeat; nullopt if it never beat.
  std::optional<double> heartbeat_age_s;
  std::string store;  // store description from the segment header
  std::uint32_t key_length = 0;
  // Ring.
  std::uint64_t ring_keys = 0;
  std::uint64_t ring_capacity = 0;
  std::uint64_t low_water = 0;  // the broker refills below this fill
  // Broker counters (they only grow while one broker runs; a new broker on
  // the same segment carries them on).
  std::uint64_t keys_produced = 0;
  std::uint64_t ranges_reserved = 0;
  std::uint64_t refills = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t keys_wasted = 0;     // known gaps (0 if unknown)
  std::uint64_t last_refill_ns = 0;  // latest store round trip
  // Key space: numbers [0, key_space); the store has handed out
  // [0, store_next) as of the broker's latest reservation.
  std::uint64_t key_space = 0;
  std::uint64_t store_next = 0;
  // Totals over every worker slot of the segment (all frontends).
  std::uint64_t served_total = 0;
  std::uint64_t unavailable_total = 0;
  std::uint64_t requests_total = 0;
  std::uint32_t workers_alive = 0;
  std::vector<WorkerSnapshot> workers;  // used slots, by slot number
};

// What TakeKeys claimed. The length comes from the same segment as the
// keys: a worker may swap segments between two calls, and a key read with
// another segment's length would be cut or padded.
struct TakenKeys {
  std::size_t count = 0;         // keys written to out[0..count)
  std::uint32_t key_length = 0;  // characters per key (0 when count is 0)
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Claims up to `want` keys into out[0..want). Returns at once when the
  // ring holds enough; otherwise waits (without spinning) for more, until
  // the configured empty-ring wait after the call began, whatever the
  // contention. Each key claimed is handed out exactly once and counted as
  // served: dropping the result loses them.
  [[nodiscard]] virtual TakenKeys TakeKeys(shm::Key* out, std::size_t want) = 0;

  virtual Snapshot Observe() = 0;

  // Worker counters (relaxed; see shm/workers.h).
  virtual void CountUnavailable() = 0;
  virtual void CountRequest() = 0;
};

}  // namespace forge::frontend
