// shm/notify.h — sleeping and waking across processes without spinning.
//
// Contract
//   * Built on futex(2) words in BrokerStats (shared, not private futexes),
//     so a sleeper in one process is woken by a store in another.
//   * The fast path of a consumer (a pop that leaves the ring at or above
//     the low-water mark) costs three loads (head, tail, low_water): no
//     fence, no store, no syscall. Below low water each pop adds one
//     seq_cst fence; a syscall happens only when the producer sleeps (one
//     consumer per sleep wakes it) or when the ring is empty.
//   * low_water is clamped to 1..capacity: 0 means "refill when empty".
//   * Lost wake-ups are impossible by construction (the sleeper re-checks
//     the condition after announcing itself), and every wait has a timeout,
//     so a dead peer can delay a waiter by at most that timeout.
//   * A consumer SIGKILLed inside WaitForKeys leaves consumers_waiting
//     raised for good: the producer then pays one spare FUTEX_WAKE per
//     WakeConsumers call, nothing worse.
//   * Call these on a kReadWrite segment (they store to futex words).
#pragma once

#include <chrono>
#include <cstddef>
#include <span>

#include "shm/segment.h"

namespace forge::shm {

// Consumer: waits until the ring has at least one key or `deadline` passes.
// Returns true if keys are (probably) available.
bool WaitForKeys(Segment& seg, std::chrono::steady_clock::time_point deadline);

// Consumer: call after a successful pop. Wakes the producer if the ring is
// below its low-water mark and the producer is asleep.
void MaybeWakeProducer(Segment& seg);

// Producer: call after Push(). Wakes consumers sleeping in WaitForKeys.
void WakeConsumers(Segment& seg);

// Producer: sleeps until the fill drops below low_water (a consumer wakes
// it), `max_sleep` passes, or a signal interrupts the sleep (so a stop
// flag set by a handler is seen at once). Returns at once if already below.
void WaitForLowWater(Segment& seg, std::chrono::milliseconds max_sleep);

// Producer of several segments (one broker, many namespaces): the same,
// returning when ANY of `segs` drops below its low water, in one sleep
// (futex_waitv, Linux 5.16+: the idle cost does not grow with the number
// of segments). At most kMaxWaitSegments are watched; on an older kernel
// (ENOSYS) or with more segments the sleep is cut into 10 ms slices.
inline constexpr std::size_t kMaxWaitSegments = 128;
void WaitForLowWater(std::span<Segment* const> segs,
                     std::chrono::milliseconds max_sleep);

}  // namespace forge::shm
