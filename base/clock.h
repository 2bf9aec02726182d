// base/clock.h — the wall clock, as segment timestamps and log lines read it.
//
// Contract
//   * UnixNowNs is CLOCK_REALTIME in nanoseconds since the Unix epoch: the
//     unit of every *_unix_ns field in the segment (shm/layout.h) and of the
//     log timestamps. It may step back or forward with the system clock;
//     readers that compare two readings must allow for that.
//   * Thread-safe, async-signal-safe (clock_gettime), never fails.
#pragma once

#include <cstdint>

namespace forge::base {

std::uint64_t UnixNowNs();

}  // namespace forge::base
