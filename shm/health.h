// shm/health.h — is the segment's broker alive? One answer for every reader.
//
// Contract
//   * A broker is alive when its pid exists (kill(pid, 0)), its heartbeat
//     is younger than kHeartbeatStaleAfter, and it has not reported a clean
//     stop. A broker beats at least once a second (broker/broker.h), so
//     three missed beats mean it is stopped, hung or frozen even if its pid
//     still exists. A heartbeat in the future (the wall clock stepped back)
//     counts as fresh.
//   * Reads only; safe from any process or thread, including through a
//     read-only mapping. forge-ctl, /healthz and /metrics all use it, so
//     they never disagree about the broker.
#pragma once

#include <chrono>
#include <cstdint>

#include "shm/layout.h"

namespace forge::shm {

inline constexpr std::chrono::seconds kHeartbeatStaleAfter{3};

// `now_unix_ns` is the caller's wall clock (base/clock.h UnixNowNs).
bool BrokerAlive(const BrokerStats& broker, std::uint64_t now_unix_ns);

}  // namespace forge::shm
