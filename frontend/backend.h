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
#include <string>

#include "shm/layout.h"
#include "shm/ring.h"

namespace forge::frontend {

// A moment's view of the segment, for health, metrics and error messages.
struct Snapshot {
  std::string shm_name;   // SHM_NAME the worker attaches to
  bool attached = false;  // false until the broker has created the segment
  // Broker health (meaningful only when attached).
  bool broker_alive = false;  // pid alive and heartbeat younger than 3 s
  shm::BrokerState broker_state = shm::BrokerState::kNone;
  std::int32_t broker_pid = 0;
  std::string store;  // store description from the segment header
  std::uint32_t key_length = 0;
  // Ring.
  std::uint64_t ring_keys = 0;
  std::uint64_t ring_capacity = 0;
  std::uint64_t keys_produced = 0;
  // Totals over every worker slot of the segment (all frontends).
  std::uint64_t served_total = 0;
  std::uint64_t unavailable_total = 0;
  std::uint64_t requests_total = 0;
  std::uint32_t workers_alive = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Claims up to `want` keys into out[0..want). Returns at once when the
  // ring holds enough; otherwise waits (without spinning) up to the
  // configured empty-ring wait for more. Returns how many were claimed:
  // each is handed out exactly once and counted as served.
  virtual std::size_t TakeKeys(shm::Key* out, std::size_t want) = 0;

  // Length of the keys in the ring (0 while not attached).
  virtual std::uint32_t KeyLength() const = 0;

  virtual Snapshot Observe() = 0;

  // Worker counters (relaxed; see shm/workers.h).
  virtual void CountUnavailable() = 0;
  virtual void CountRequest() = 0;
};

}  // namespace forge::frontend
