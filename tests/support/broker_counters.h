// tests/support/broker_counters.h — known values for a segment's broker
// counters, for tests that check a reader (forge-ctl stats, /metrics)
// against them.
//
// Contract: header-only; StoreCounters writes every field of `c` into `b`
// (relaxed stores: the tests read them back after joining nothing).
#pragma once

#include <atomic>
#include <cstdint>

#include "shm/layout.h"

namespace forge::testing {

struct BrokerCounters {
  std::uint64_t low_water = 0;
  std::uint64_t keys_produced = 0;
  std::uint64_t ranges_reserved = 0;
  std::uint64_t refills = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t keys_wasted = 0;
  std::uint64_t last_refill_ns = 0;
  std::uint64_t store_next = 0;
};

inline void StoreCounters(shm::BrokerStats& b, const BrokerCounters& c) {
  // relaxed: single-threaded set-up, read after the writes in this thread
  // or by a process started afterwards.
  constexpr auto kOrder = std::memory_order_relaxed;
  b.low_water.store(c.low_water, kOrder);
  b.keys_produced.store(c.keys_produced, kOrder);
  b.ranges_reserved.store(c.ranges_reserved, kOrder);
  b.refills.store(c.refills, kOrder);
  b.store_errors.store(c.store_errors, kOrder);
  b.keys_wasted.store(c.keys_wasted, kOrder);
  b.last_refill_ns.store(c.last_refill_ns, kOrder);
  b.store_next.store(c.store_next, kOrder);
}

}  // namespace forge::testing
