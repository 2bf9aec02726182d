#include "shm/health.h"

#include "base/process.h"

namespace forge::shm {

bool BrokerAlive(const BrokerStats& b, std::uint64_t now_unix_ns) {
  // relaxed (all three): health is a heuristic snapshot; a stale value only
  // delays the verdict by one check.
  const std::int32_t pid = b.pid.load(std::memory_order_relaxed);
  const std::uint64_t beat =
      b.heartbeat_unix_ns.load(std::memory_order_relaxed);
  const auto state =
      static_cast<BrokerState>(b.state.load(std::memory_order_relaxed));
  if (pid <= 0 || beat == 0 || state == BrokerState::kStopped ||
      state == BrokerState::kNone) {
    return false;
  }
  constexpr auto kMaxAgeNs = static_cast<std::uint64_t>(
      std::chrono::nanoseconds(kHeartbeatStaleAfter).count());
  const bool fresh = beat > now_unix_ns || now_unix_ns - beat < kMaxAgeNs;
  return fresh && base::ProcessAlive(pid);
}

}  // namespace forge::shm
