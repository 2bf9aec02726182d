// tests/shm/heap_ring.h — a Ring over ordinary heap memory: the same code
// as in shared memory, for unit tests and micro-benchmarks.
//
// Contract: owns its indices and slots; not copyable or movable (the Ring
// points into them). Thread-safety is the Ring's.
#pragma once

#include <cstdint>
#include <vector>

#include "shm/ring.h"

namespace forge::shm::testing {

// capacity: keys; each takes `stride` slots (shm/ring.h).
struct HeapRing {
  explicit HeapRing(std::uint64_t capacity, std::uint32_t stride = 1)
      : slots(capacity * stride),
        ring(&head, &tail, slots.data(), capacity * stride, stride) {}
  HeapRing(const HeapRing&) = delete;
  HeapRing& operator=(const HeapRing&) = delete;
  RingIndex head{};
  RingIndex tail{};
  std::vector<Slot> slots;
  Ring ring;
};

}  // namespace forge::shm::testing
