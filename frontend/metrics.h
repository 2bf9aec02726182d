// frontend/metrics.h — Prometheus text exposition of the shared counters.
//
// Contract
//   * FormatMetrics is a pure function of a Snapshot (thread-safe, no I/O).
//   * Output follows the Prometheus text format 0.0.4: every family has
//     # HELP and # TYPE lines before its samples, each family appears once,
//     counters end in _total and never go down (worker slots keep their
//     counters across worker replacement; the broker's counters live in the
//     segment, so a restarted broker carries them on).
//   * Counters cover every frontend attached to the segment, not only this
//     process, so any worker of any frontend answers the same totals.
//     Per-worker families carry one label, slot="N" (the stats slot, stable
//     across worker restarts); the pid is a separate gauge,
//     forge_worker_pid{slot="N"}, so a restart does not start a new series.
//   * Before the segment exists only forge_segment_attached and
//     forge_broker_up (both 0) are reported.
//   * The families and their meaning are listed in frontend/README-ops.md;
//     keep that table in step with this file.
#pragma once

#include <string>

#include "frontend/backend.h"

namespace forge::frontend {

std::string FormatMetrics(const Snapshot& s);

// A sample value as the exposition format writes it: integers exactly,
// other numbers in the shortest form that reads back to the same double.
std::string MetricNumber(double value);

}  // namespace forge::frontend
