#include "frontend/metrics.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>

#include "shm/stats.h"

namespace forge::frontend {
namespace {

// Appends families and samples in exposition order.
class Exposition {
 public:
  explicit Exposition(std::string* out) : out_(*out) {}

  void Family(std::string_view name, std::string_view type,
              std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help);
    out_.append("\n# TYPE ").append(name).append(" ").append(type);
    out_.append("\n");
  }
  void Sample(std::string_view name, std::string_view value) {
    out_.append(name).append(" ").append(value).append("\n");
  }
  void Sample(std::string_view name, std::string_view label,
              std::string_view label_value, std::string_view value) {
    out_.append(name).append("{").append(label).append("=\"");
    out_.append(label_value).append("\"} ").append(value).append("\n");
  }
  // A family with one unlabelled sample.
  void Single(std::string_view name, std::string_view type,
              std::string_view help, std::string_view value) {
    Family(name, type, help);
    Sample(name, value);
  }

 private:
  std::string& out_;
};

std::string Int(std::uint64_t v) { return std::to_string(v); }
std::string Bool(bool v) { return v ? "1" : "0"; }

using Field = std::uint64_t shm::WorkerStats::*;

// One per-slot family; `field` picks the counter of each used slot.
void PerSlot(Exposition& e, const Snapshot& s, std::string_view name,
             std::string_view help, Field field) {
  e.Family(name, "counter", help);
  for (const shm::WorkerStats& w : s.workers) {
    e.Sample(name, "slot", Int(w.slot), Int(w.*field));
  }
}

void Workers(Exposition& e, const Snapshot& s) {
  PerSlot(e, s, "forge_keys_served_total",
          "Keys handed out, per worker stats slot (all frontends on the "
          "segment).",
          &shm::WorkerStats::served);
  PerSlot(e, s, "forge_unavailable_total",
          "Requests answered 503 because no key was available in time, per "
          "worker stats slot.",
          &shm::WorkerStats::unavailable);
  PerSlot(e, s, "forge_http_requests_total",
          "HTTP requests answered, per worker stats slot.",
          &shm::WorkerStats::requests);
  e.Family("forge_worker_pid", "gauge",
           "Process id of the live worker holding the stats slot.");
  for (const shm::WorkerStats& w : s.workers) {
    if (w.alive) e.Sample("forge_worker_pid", "slot", Int(w.slot), Int(w.pid));
  }
  e.Single("forge_workers_alive", "gauge",
           "Frontend worker processes holding a stats slot.",
           Int(s.workers_alive));
}

void Ring(Exposition& e, const Snapshot& s) {
  e.Single("forge_ring_capacity", "gauge", "Ring slots.", Int(s.ring_capacity));
  e.Single("forge_ring_fill", "gauge", "Keys ready in the ring.",
           Int(s.ring_fill));
  e.Single("forge_ring_low_water", "gauge",
           "The broker refills the ring when its fill drops below this.",
           Int(s.low_water));
}

void BrokerCounters(Exposition& e, const Snapshot& s) {
  e.Single("forge_ranges_reserved_total", "counter",
           "Ranges the broker reserved from the store.",
           Int(s.ranges_reserved));
  e.Single("forge_keys_produced_total", "counter",
           "Keys the broker pushed into the ring.", Int(s.keys_produced));
  e.Single("forge_refills_total", "counter",
           "Low-water refills the broker made.", Int(s.refills));
  e.Single("forge_store_errors_total", "counter",
           "Failed store operations (the broker retries with back-off).",
           Int(s.store_errors));
  e.Single("forge_keys_wasted_total", "counter",
           "Keys reserved but known never to be served (gaps, never "
           "reissued); 0 when unknown.",
           Int(s.keys_wasted));
  e.Single("forge_refill_latency_seconds", "gauge",
           "Duration of the latest store round trip for a range.",
           MetricNumber(static_cast<double>(s.last_refill_ns) / 1e9));
}

void BrokerHealth(Exposition& e, const Snapshot& s) {
  e.Family("forge_broker_heartbeat_age_seconds", "gauge",
           "Seconds since the broker's last heartbeat (absent if it never "
           "beat).");
  if (s.heartbeat_age_ns) {
    e.Sample("forge_broker_heartbeat_age_seconds",
             MetricNumber(static_cast<double>(*s.heartbeat_age_ns) / 1e9));
  }
  e.Family("forge_broker_state", "gauge",
           "1 for the broker's current state, 0 for the others.");
  for (const shm::BrokerState state : shm::kBrokerStates) {
    e.Sample("forge_broker_state", "state", shm::BrokerStateName(state),
             Bool(s.broker_state == state));
  }
}

void KeySpace(Exposition& e, const Snapshot& s) {
  e.Single("forge_key_space_size", "gauge",
           "Keys the store's format allows (62^KEY_LENGTH).", Int(s.key_space));
  e.Single("forge_key_space_used_ratio", "gauge",
           "Share of the key space the store has handed out (0..1).",
           MetricNumber(s.key_space_used()));
}

}  // namespace

std::string MetricNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::array<char, 32> buf{};
  const auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), value);
  return ec == std::errc() ? std::string(buf.data(), end) : "NaN";
}

std::string FormatMetrics(const Snapshot& s) {
  std::string out;
  out.reserve(4096 + 256 * s.workers.size());
  Exposition e(&out);
  e.Single("forge_segment_attached", "gauge",
           "1 when this worker has mapped the shared-memory segment.",
           Bool(s.attached));
  e.Single("forge_broker_up", "gauge",
           "1 when the broker process is alive and its heartbeat is fresh.",
           Bool(s.attached && s.broker_alive));
  if (!s.attached) return out;
  Workers(e, s);
  Ring(e, s);
  BrokerCounters(e, s);
  BrokerHealth(e, s);
  KeySpace(e, s);
  return out;
}

}  // namespace forge::frontend
