// base/clock.cpp — see clock.h.
#include "base/clock.h"

#include <time.h>

namespace forge::base {

std::uint64_t UnixNowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace forge::base
