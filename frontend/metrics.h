// frontend/metrics.h — Prometheus text exposition of the shared counters.
//
// Contract
//   * FormatMetrics is a pure function of the Snapshots of the served
//     namespaces (thread-safe, no I/O).
//   * Namespaces (issue 13): every sample carries namespace="NAME" first
//     ("default" too); each family appears once, with the samples of every
//     namespace. Every family here is per namespace (each namespace has its
//     own segment, broker counters and worker slots).
//   * Output follows the Prometheus text format 0.0.4: every family has
//     # HELP and # TYPE lines before its samples, each family appears once,
//     counters end in _total and never go down (worker slots keep their
//     counters across worker replacement; the broker's counters live in the
//     segment, so a restarted broker carries them on).
//   * Counters cover every frontend attached to the segment, not only this
//     process, so any worker of any frontend answers the same totals.
//     Per-worker families carry the label slot="N" too (the stats slot,
//     stable across worker restarts); the pid is a separate gauge,
//     forge_worker_pid{namespace="…",slot="N"}, so a restart does not start
//     a new series.
//   * Namespaces not attached report only forge_segment_attached and
//     forge_broker_up (both 0); with none attached, only those two families
//     are written.
//   * The families and their meaning are listed in frontend/README-ops.md;
//     keep that table in step with this file.
#pragma once

#include <string>
#include <vector>

#include "frontend/consumer.h"

namespace forge::frontend {

struct NamespaceSnapshot {
  std::string name;  // the namespace, e.g. "default"
  Snapshot snapshot;
};

std::string FormatMetrics(const std::vector<NamespaceSnapshot>& all);

// A sample value as the exposition format writes it: integers exactly,
// other numbers in the shortest form that reads back to the same double.
std::string MetricNumber(double value);

}  // namespace forge::frontend
