// frontend/metrics.h — Prometheus text exposition of the shared counters.
//
// Contract
//   * FormatMetrics is a pure function of a Snapshot (thread-safe, no I/O).
//   * Output follows the Prometheus text format 0.0.4: every metric has
//     # HELP and # TYPE lines; counters end in _total and never go down
//     (worker slots keep their counters across worker replacement).
//   * Counters cover every frontend attached to the segment, not only this
//     process, so any worker of any frontend answers the same totals.
#pragma once

#include <string>

#include "frontend/backend.h"

namespace forge::frontend {

std::string FormatMetrics(const Snapshot& s);

}  // namespace forge::frontend
