#include "frontend/metrics.h"

#include <cstdint>
#include <string_view>

namespace forge::frontend {
namespace {

void Metric(std::string* out, std::string_view name, std::string_view type,
            std::string_view help, std::uint64_t value) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out->append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string FormatMetrics(const Snapshot& s) {
  std::string out;
  out.reserve(1536);
  Metric(&out, "forge_segment_attached", "gauge",
         "1 when this worker has mapped the shared-memory segment.",
         s.attached ? 1 : 0);
  Metric(&out, "forge_broker_up", "gauge",
         "1 when the broker process is alive and its heartbeat is fresh.",
         s.attached && s.broker_alive ? 1 : 0);
  if (!s.attached) return out;
  Metric(&out, "forge_keys_served_total", "counter",
         "Keys handed out by all frontend workers on this segment.",
         s.served_total);
  Metric(&out, "forge_unavailable_total", "counter",
         "Requests answered 503 because no key was available in time.",
         s.unavailable_total);
  Metric(&out, "forge_requests_total", "counter",
         "HTTP requests answered by all frontend workers on this segment.",
         s.requests_total);
  Metric(&out, "forge_keys_produced_total", "counter",
         "Keys the broker pushed into the ring.", s.keys_produced);
  Metric(&out, "forge_ring_keys", "gauge", "Keys ready in the ring.",
         s.ring_keys);
  Metric(&out, "forge_ring_capacity", "gauge", "Ring slots.", s.ring_capacity);
  Metric(&out, "forge_workers_alive", "gauge",
         "Frontend worker processes holding a stats slot.", s.workers_alive);
  return out;
}

}  // namespace forge::frontend
