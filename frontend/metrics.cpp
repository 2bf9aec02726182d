#include "frontend/metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "shm/stats.h"

namespace forge::frontend {
namespace {

// Appends families and samples in exposition order. Every sample carries
// namespace="…" first, then at most one more label.
class Exposition {
 public:
  explicit Exposition(std::string* out) : out_(*out) {}

  void Family(std::string_view name, std::string_view type,
              std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help);
    out_.append("\n# TYPE ").append(name).append(" ").append(type);
    out_.append("\n");
  }
  // Up to two labels after `namespace` (empty names are left out).
  void Sample(std::string_view name, std::string_view ns,
              std::string_view value, std::string_view label = {},
              std::string_view label_value = {}, std::string_view label2 = {},
              std::string_view label2_value = {}) {
    out_.append(name).append("{namespace=\"").append(ns).append("\"");
    Label(label, label_value);
    Label(label2, label2_value);
    out_.append("} ").append(value).append("\n");
  }

 private:
  void Label(std::string_view label, std::string_view value) {
    if (label.empty()) return;
    out_.append(",").append(label).append("=\"").append(value).append("\"");
  }

  std::string& out_;
};

std::string Int(std::uint64_t v) { return std::to_string(v); }
std::string OneOrZero(bool v) { return v ? "1" : "0"; }

using All = std::vector<NamespaceSnapshot>;

// A family with one sample per namespace: value(snapshot), for the
// attached namespaces only unless `detached_too`.
template <typename Value>
void PerNamespace(Exposition& e, const All& all, std::string_view name,
                  std::string_view type, std::string_view help, Value value,
                  bool detached_too = false) {
  e.Family(name, type, help);
  for (const NamespaceSnapshot& n : all) {
    if (n.snapshot.attached || detached_too) {
      e.Sample(name, n.name, value(n.snapshot));
    }
  }
}

using Field = std::uint64_t shm::WorkerStats::*;

// One per-slot family; `field` picks the counter of each used slot.
void PerSlot(Exposition& e, const All& all, std::string_view name,
             std::string_view help, Field field) {
  e.Family(name, "counter", help);
  for (const NamespaceSnapshot& n : all) {
    for (const shm::WorkerStats& w : n.snapshot.workers) {
      e.Sample(name, n.name, Int(w.*field), "slot", Int(w.slot));
    }
  }
}

void Workers(Exposition& e, const All& all) {
  PerSlot(e, all, "forge_keys_served_total",
          "Keys handed out, per worker stats slot (all frontends on the "
          "segment).",
          &shm::WorkerStats::served);
  PerSlot(e, all, "forge_unavailable_total",
          "Requests answered 503 because no key was available in time, per "
          "worker stats slot.",
          &shm::WorkerStats::unavailable);
  PerSlot(e, all, "forge_http_requests_total",
          "HTTP requests answered, per worker stats slot.",
          &shm::WorkerStats::requests);
  e.Family("forge_worker_pid", "gauge",
           "Process id of the live consumer holding the stats slot; kind "
           "\"worker\" (HTTP) or \"client\" (libforge-client).");
  for (const NamespaceSnapshot& n : all) {
    for (const shm::WorkerStats& w : n.snapshot.workers) {
      if (w.alive) {
        e.Sample("forge_worker_pid", n.name, Int(w.pid), "slot", Int(w.slot),
                 "kind", shm::ConsumerKindName(w.kind));
      }
    }
  }
  PerNamespace(e, all, "forge_workers_alive", "gauge",
               "Frontend worker processes holding a stats slot.",
               [](const Snapshot& s) { return Int(s.workers_alive); });
}

void Ring(Exposition& e, const All& all) {
  PerNamespace(e, all, "forge_ring_capacity", "gauge",
               "Keys the ring holds when full.",
               [](const Snapshot& s) { return Int(s.ring_capacity); });
  PerNamespace(e, all, "forge_ring_fill", "gauge", "Keys ready in the ring.",
               [](const Snapshot& s) { return Int(s.ring_fill); });
  PerNamespace(e, all, "forge_ring_low_water", "gauge",
               "The broker refills the ring when its fill drops below this.",
               [](const Snapshot& s) { return Int(s.low_water); });
}

void BrokerCounters(Exposition& e, const All& all) {
  PerNamespace(e, all, "forge_ranges_reserved_total", "counter",
               "Ranges the broker reserved from the store.",
               [](const Snapshot& s) { return Int(s.ranges_reserved); });
  PerNamespace(e, all, "forge_keys_produced_total", "counter",
               "Keys the broker pushed into the ring.",
               [](const Snapshot& s) { return Int(s.keys_produced); });
  PerNamespace(e, all, "forge_refills_total", "counter",
               "Low-water refills the broker made.",
               [](const Snapshot& s) { return Int(s.refills); });
  PerNamespace(e, all, "forge_store_errors_total", "counter",
               "Failed store operations (the broker retries with back-off).",
               [](const Snapshot& s) { return Int(s.store_errors); });
  PerNamespace(e, all, "forge_keys_wasted_total", "counter",
               "Keys reserved but known never to be served (gaps, never "
               "reissued); 0 when unknown.",
               [](const Snapshot& s) { return Int(s.keys_wasted); });
  PerNamespace(e, all, "forge_keys_blocked_total", "counter",
               "Numbers the broker skipped because their key contains a "
               "word of the namespace's blocklist (never issued).",
               [](const Snapshot& s) { return Int(s.keys_blocked); });
  PerNamespace(
      e, all, "forge_refill_latency_seconds", "gauge",
      "Duration of the latest store round trip for a range.",
      [](const Snapshot& s) {
        return MetricNumber(static_cast<double>(s.last_refill_ns) / 1e9);
      });
}

void BrokerHealth(Exposition& e, const All& all) {
  e.Family("forge_broker_heartbeat_age_seconds", "gauge",
           "Seconds since the broker's last heartbeat (absent if it never "
           "beat).");
  for (const NamespaceSnapshot& n : all) {
    if (n.snapshot.attached && n.snapshot.heartbeat_age_ns) {
      e.Sample("forge_broker_heartbeat_age_seconds", n.name,
               MetricNumber(static_cast<double>(*n.snapshot.heartbeat_age_ns) /
                            1e9));
    }
  }
  e.Family("forge_broker_state", "gauge",
           "1 for the broker's current state, 0 for the others.");
  for (const NamespaceSnapshot& n : all) {
    if (!n.snapshot.attached) continue;
    for (const shm::BrokerState state : shm::kBrokerStates) {
      e.Sample("forge_broker_state", n.name,
               OneOrZero(n.snapshot.broker_state == state), "state",
               shm::BrokerStateName(state));
    }
  }
}

void KeySpace(Exposition& e, const All& all) {
  PerNamespace(e, all, "forge_key_space_size", "gauge",
               "Keys the store's format allows (62^KEY_LENGTH).",
               [](const Snapshot& s) { return Int(s.key_space); });
  PerNamespace(
      e, all, "forge_key_space_used_ratio", "gauge",
      "Share of the key space the store has handed out (0..1).",
      [](const Snapshot& s) { return MetricNumber(s.key_space_used()); });
}

// A label value as the exposition format wants it: \\, \" and \n escaped.
std::string LabelValue(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

// Issue 16: the broker's store connection (shm::StoreLink), reconnects and
// durability mode.
void StoreLink(Exposition& e, const All& all) {
  PerNamespace(e, all, "forge_store_reconnects_total", "counter",
               "Store connections the broker made again after losing one.",
               [](const Snapshot& s) { return Int(s.store_reconnects); });
  e.Family("forge_store_durability", "gauge",
           "1 for the store's durability mode (unknown, local: no standby "
           "seen, async: a failover may lose a grant, sync), 0 for the "
           "others.");
  for (const NamespaceSnapshot& n : all) {
    if (!n.snapshot.attached) continue;
    for (const shm::StoreDurability mode :
         {shm::StoreDurability::kUnknown, shm::StoreDurability::kLocal,
          shm::StoreDurability::kAsync, shm::StoreDurability::kSync}) {
      e.Sample("forge_store_durability", n.name,
               OneOrZero(n.snapshot.durability == mode), "mode",
               shm::DurabilityName(mode));
    }
  }
  e.Family("forge_store_info", "gauge",
           "1, labelled with the host:port the broker's store connection "
           "goes to (local for SQLite).");
  for (const NamespaceSnapshot& n : all) {
    if (n.snapshot.attached && !n.snapshot.store_host.empty()) {
      e.Sample("forge_store_info", n.name, "1", "host",
               LabelValue(n.snapshot.store_host));
    }
  }
}

// The regression guard (issue 16) and the reservation size.
void StoreGuard(Exposition& e, const All& all) {
  PerNamespace(e, all, "forge_store_regressions_total", "counter",
               "Reservations that found the store's counter below the "
               "broker's mark (lost writes, a restored backup); each skipped "
               "to the mark.",
               [](const Snapshot& s) { return Int(s.store_regressions); });
  PerNamespace(e, all, "forge_store_granted_high", "gauge",
               "The broker's mark: the highest number (exclusive) the store "
               "ever granted it.",
               [](const Snapshot& s) { return Int(s.granted_high); });
  PerNamespace(e, all, "forge_broker_range_size", "gauge",
               "Numbers in the broker's latest reservation.",
               [](const Snapshot& s) { return Int(s.range_size); });
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

std::string FormatMetrics(const std::vector<NamespaceSnapshot>& all) {
  std::size_t workers = 0;
  bool any_attached = false;
  for (const NamespaceSnapshot& n : all) {
    workers += n.snapshot.workers.size();
    any_attached = any_attached || n.snapshot.attached;
  }
  std::string out;
  out.reserve(4096 * std::max<std::size_t>(all.size(), 1) + 256 * workers);
  Exposition e(&out);
  PerNamespace(
      e, all, "forge_segment_attached", "gauge",
      "1 when this worker has mapped the shared-memory segment.",
      [](const Snapshot& s) { return OneOrZero(s.attached); }, true);
  PerNamespace(
      e, all, "forge_broker_up", "gauge",
      "1 when the broker process is alive and its heartbeat is fresh.",
      [](const Snapshot& s) { return OneOrZero(s.attached && s.broker_alive); },
      true);
  if (!any_attached) return out;
  Workers(e, all);
  Ring(e, all);
  BrokerCounters(e, all);
  BrokerHealth(e, all);
  KeySpace(e, all);
  StoreLink(e, all);
  StoreGuard(e, all);
  return out;
}

}  // namespace forge::frontend
