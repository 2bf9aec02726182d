// stats/stats_format.cpp — the table and JSON renderings of a Snapshot. See
// stats.h; the JSON fields are documented in docs/forge-ctl.md.
#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

#include "shm/stats.h"
#include "stats/stats.h"
#include "stats/text.h"

namespace forge::stats {
namespace {

constexpr int kBarWidth = 20;
constexpr int kShortBarWidth = 10;  // in the namespaces' rows

const char* OrderName(std::uint32_t order) {
  return order == 1 ? "sequential" : "scrambled";
}

std::string Bool(bool b) { return b ? "true" : "false"; }

std::string RateText(double per_s) { return Fixed(per_s, 1) + "/s"; }

// "10  (3.0/s)" with a rate, "10" without.
std::string CountWithRate(std::uint64_t count, const Snapshot& s,
                          double Rates::*rate) {
  std::string text = std::to_string(count);
  if (s.rates) text += "  (" + RateText((*s.rates).*rate) + ")";
  return text;
}

std::string HeartbeatText(const Snapshot& s) {
  const std::optional<std::int64_t> age_ms = s.heartbeat_age_ms();
  if (!age_ms) return "never";
  return Fixed(static_cast<double>(*age_ms) / 1000.0, 1) + " s ago";
}

std::string BrokerText(const Snapshot& s) {
  if (s.broker_pid == 0) return "none has run on this segment";
  return "pid " + std::to_string(s.broker_pid) +
         (s.broker_alive ? ", alive" : ", NOT alive");
}

std::string FillText(const Snapshot& s) {
  return FillBar(s.ring_fill_fraction(), kBarWidth) + "  " +
         std::to_string(s.ring_fill) + " / " + std::to_string(s.ring_capacity) +
         " keys, low water " + std::to_string(s.low_water);
}

// "12 (0.5% of the numbers used)": numbers the blocklist skipped.
std::string BlockedText(const Snapshot& s) {
  if (s.keys_blocked == 0) return "0";
  return std::to_string(s.keys_blocked) + " (" +
         Percent(1.0 - s.usable_fraction()) + " of the numbers used)";
}

// "127.0.0.1:5432, durability sync, 2 reconnects" (issue 16).
std::string StoreLinkText(const Snapshot& s) {
  return (s.store_host.empty() ? std::string("not connected yet")
                               : s.store_host) +
         ", durability " + shm::DurabilityName(s.durability) + ", " +
         std::to_string(s.store_reconnects) +
         (s.store_reconnects == 1 ? " reconnect" : " reconnects");
}

// "200000 numbers (the latest reservation)": RANGE_SIZE, or what the
// broker sized it to when RANGE_SIZE is auto (issue 18 §3).
std::string RangeSizeText(const Snapshot& s) {
  if (s.range_size == 0) return "none reserved yet";
  return std::to_string(s.range_size) + " numbers (the latest reservation)";
}

std::string WastedText(const Snapshot& s) {
  return s.keys_wasted == 0 ? "0 (none known)"
                            : std::to_string(s.keys_wasted) + " (known gaps)";
}

// The projected exhaustion: a phrase for the detail table, a word or a
// date when `brief` (the namespaces' rows).
std::string ExhaustionText(const Snapshot& s, bool brief = false) {
  const Exhaustion e = s.exhaustion();
  switch (e.kind) {
    case Exhaustion::Kind::kUnknown:
      return brief ? "unknown" : "unknown (no rate measured)";
    case Exhaustion::Kind::kNever:
      return brief ? "never" : "never at the current rate (0 keys/s produced)";
    case Exhaustion::Kind::kUsedUp:
      return brief ? "used up" : "used up: the store has no number left";
    case Exhaustion::Kind::kProjected:
      break;
  }
  const std::string when = e.unix_s ? UtcDate(*e.unix_s) : "after year 9999";
  if (brief) return when;
  const std::string usable =
      s.keys_blocked == 0
          ? ""
          : ", " + Percent(s.usable_fraction()) + " of numbers usable";
  return when + " (in " + HumanDuration(e.seconds_left) + " at " +
         RateText(s.rates->produced_per_s) + " produced" + usable + ")";
}

std::string RatesText(const Snapshot& s) {
  if (!s.rates) return "not measured";
  return "over the last " + Fixed(s.rates->interval_s, 2) + " s";
}

std::vector<std::pair<std::string, std::string>> SummaryRows(
    const Snapshot& s) {
  return {
      {"segment", s.segment + " (" + s.path + ")"},
      {"broker", BrokerText(s)},
      {"state", shm::BrokerStateName(s.broker_state)},
      {"heartbeat", HeartbeatText(s)},
      {"ring fill", FillText(s)},
      {"rates", RatesText(s)},
      {"keys produced",
       CountWithRate(s.keys_produced, s, &Rates::produced_per_s)},
      {"keys served", CountWithRate(s.served_total, s, &Rates::served_per_s)},
      {"503s",
       CountWithRate(s.unavailable_total, s, &Rates::unavailable_per_s)},
      {"keys wasted", WastedText(s)},
      {"keys blocked", BlockedText(s)},
      {"ranges reserved",
       CountWithRate(s.ranges_reserved, s, &Rates::reserved_per_s)},
      {"range size", RangeSizeText(s)},
      {"refills", std::to_string(s.refills)},
      {"store errors", std::to_string(s.store_errors)},
      {"last refill",
       Fixed(static_cast<double>(s.last_refill_ns) / 1e6, 3) + " ms"},
      {"key format", "length " + std::to_string(s.key_length) + ", " +
                         OrderName(s.key_order)},
      {"store", s.store},
      {"store link", StoreLinkText(s)},
      {"key space used", std::to_string(s.store_next) + " / " +
                             std::to_string(s.key_space) + " (" +
                             Percent(s.key_space_used()) + ")"},
      {"exhaustion", ExhaustionText(s)},
      {"guard mark", std::to_string(s.granted_high) + ", " +
                         std::to_string(s.store_regressions) + " regressions"},
  };
}

// The worker slots forge-ctl lists: those with a pid, keys or 503s (a slot
// that only counted requests is left out; /metrics lists it).
std::vector<shm::WorkerStats> ListedWorkers(const Snapshot& s) {
  std::vector<shm::WorkerStats> out;
  for (const shm::WorkerStats& w : s.workers) {
    if (w.pid != 0 || w.served != 0 || w.unavailable != 0) out.push_back(w);
  }
  return out;
}

// A worker's keys per second, when rates were measured.
std::optional<double> ServedPerS(const Snapshot& s, const shm::WorkerStats& w) {
  if (!s.rates) return std::nullopt;
  const auto it = s.rates->worker_served_per_s.find(w.slot);
  return it == s.rates->worker_served_per_s.end() ? 0.0 : it->second;
}

void WriteWorkerTable(const Snapshot& s, std::ostringstream& out) {
  const std::vector<shm::WorkerStats> workers = ListedWorkers(s);
  out << "\nworkers (" << workers.size() << ")\n";
  char line[160];
  std::snprintf(line, sizeof(line), "  %-6s %-7s %-10s %-6s %-14s %-12s %s\n",
                "slot", "kind", "pid", "alive", "served", "keys/s", "503s");
  out << line;
  for (const shm::WorkerStats& w : workers) {
    const std::optional<double> per_s = ServedPerS(s, w);
    const std::string rate = per_s ? Fixed(*per_s, 1) : "-";
    std::snprintf(line, sizeof(line),
                  "  %-6u %-7s %-10d %-6s %-14llu %-12s %llu\n", w.slot,
                  shm::ConsumerKindName(w.kind), w.pid, w.alive ? "yes" : "no",
                  static_cast<unsigned long long>(w.served), rate.c_str(),
                  static_cast<unsigned long long>(w.unavailable));
    out << line;
  }
  out << "total served " << s.served_total << ", 503s " << s.unavailable_total
      << "\n";
}

std::string JsonNumberOrNull(const std::optional<double>& v) {
  return v ? Significant(*v) : "null";
}

std::string JsonRates(const Snapshot& s) {
  if (!s.rates) return "null";
  const Rates& r = *s.rates;
  return "{\"interval_ms\":" + Significant(r.interval_s * 1000.0) +
         ",\"served_per_s\":" + Significant(r.served_per_s) +
         ",\"produced_per_s\":" + Significant(r.produced_per_s) +
         ",\"unavailable_per_s\":" + Significant(r.unavailable_per_s) +
         ",\"reserved_per_s\":" + Significant(r.reserved_per_s) + "}";
}

const char* ExhaustionState(Exhaustion::Kind kind) {
  switch (kind) {
    case Exhaustion::Kind::kNever:
      return "never";
    case Exhaustion::Kind::kUsedUp:
      return "used_up";
    case Exhaustion::Kind::kProjected:
      return "projected";
    case Exhaustion::Kind::kUnknown:
      break;
  }
  return "unknown";
}

std::string JsonExhaustion(const Snapshot& s) {
  const Exhaustion e = s.exhaustion();
  const bool projected = e.kind == Exhaustion::Kind::kProjected;
  return std::string("{\"state\":\"") + ExhaustionState(e.kind) +
         "\",\"seconds_left\":" +
         (projected ? Significant(e.seconds_left) : "null") +
         ",\"date\":" + (e.unix_s ? JsonQuote(UtcIso(*e.unix_s)) : "null") +
         "}";
}

// The "ranges" object: the same in the default namespace's fields and in
// each namespaces[] object.
std::string JsonRanges(const Snapshot& s) {
  std::ostringstream o;
  o << "{\"reserved\":" << s.ranges_reserved << ",\"refills\":" << s.refills
    << ",\"size\":" << s.range_size << ",\"granted_high\":" << s.granted_high
    << ",\"regressions\":" << s.store_regressions << "}";
  return o.str();
}

// The "key_space" object: the same in a namespace's JSON and its row.
std::string JsonKeySpace(const Snapshot& s) {
  std::ostringstream o;
  o << "{\"size\":" << s.key_space << ",\"used\":" << s.store_next
    << ",\"used_fraction\":" << Significant(s.key_space_used())
    << ",\"remaining\":" << s.key_space_remaining()
    << ",\"usable_fraction\":" << Significant(s.usable_fraction())
    << ",\"exhaustion\":" << JsonExhaustion(s) << "}";
  return o.str();
}

void WriteJsonWorkers(const Snapshot& s, std::ostringstream& o) {
  const std::vector<shm::WorkerStats> workers = ListedWorkers(s);
  o << "[";
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const shm::WorkerStats& w = workers[i];
    o << (i ? "," : "") << "{\"slot\":" << w.slot << ",\"kind\":\""
      << shm::ConsumerKindName(w.kind) << "\",\"pid\":" << w.pid
      << ",\"alive\":" << Bool(w.alive) << ",\"served\":" << w.served
      << ",\"unavailable\":" << w.unavailable << ",\"requests\":" << w.requests
      << ",\"served_per_s\":" << JsonNumberOrNull(ServedPerS(s, w)) << "}";
  }
  o << "]";
}

}  // namespace

std::string FormatTable(const Snapshot& s) {
  std::ostringstream out;
  for (const auto& [label, value] : SummaryRows(s)) {
    char pad[24];
    std::snprintf(pad, sizeof(pad), "%-17s", label.c_str());
    out << pad << value << "\n";
  }
  WriteWorkerTable(s, out);
  return out.str();
}

namespace {

// The fields of FormatJson's object, without the braces.
void WriteJsonFields(const Snapshot& s, std::ostringstream& o) {
  o << "\"segment\":" << JsonQuote(s.segment)
    << ",\"path\":" << JsonQuote(s.path)
    << ",\"time_unix_ms\":" << s.now_unix_ns / 1'000'000
    << ",\"broker\":{\"pid\":" << s.broker_pid
    << ",\"alive\":" << Bool(s.broker_alive)
    << ",\"state\":" << JsonQuote(shm::BrokerStateName(s.broker_state))
    << ",\"heartbeat_age_ms\":"
    << (s.heartbeat_age_ms() ? std::to_string(*s.heartbeat_age_ms()) : "null")
    << ",\"store_errors\":" << s.store_errors
    << ",\"last_refill_ns\":" << s.last_refill_ns << "}"
    << ",\"ring\":{\"capacity\":" << s.ring_capacity
    << ",\"fill\":" << s.ring_fill
    << ",\"fill_fraction\":" << Significant(s.ring_fill_fraction())
    << ",\"low_water\":" << s.low_water << "}"
    << ",\"keys\":{\"produced\":" << s.keys_produced
    << ",\"served\":" << s.served_total
    << ",\"unavailable\":" << s.unavailable_total
    << ",\"wasted\":" << s.keys_wasted << ",\"blocked\":" << s.keys_blocked
    << "}"
    << ",\"rates\":" << JsonRates(s) << ",\"ranges\":" << JsonRanges(s)
    << ",\"key_space\":" << JsonKeySpace(s)
    << ",\"key\":{\"length\":" << s.key_length
    << ",\"order\":" << JsonQuote(OrderName(s.key_order)) << "}"
    << ",\"store\":" << JsonQuote(s.store)
    << ",\"store_kind\":" << JsonQuote(s.store_kind())
    << ",\"store_link\":{\"host\":" << JsonQuote(s.store_host)
    << ",\"reconnects\":" << s.store_reconnects
    << ",\"durability\":" << JsonQuote(shm::DurabilityName(s.durability)) << "}"
    << ",\"workers\":";
  WriteJsonWorkers(s, o);
}

// "[#####.....]  52.0%  10 / 1024" (the detail table has the low water).
std::string ShortFill(const Snapshot& s) {
  return FillBar(s.ring_fill_fraction(), kShortBarWidth) + "  " +
         std::to_string(s.ring_fill) + " / " + std::to_string(s.ring_capacity);
}

std::string ServedRate(const Snapshot& s) {
  return s.rates ? Fixed(s.rates->served_per_s, 1) : "-";
}

// A namespace's row: name, fill, keys/s served, key space used, numbers
// blocked, exhaustion, state.
constexpr const char* kRowFormat = "  %-16s %-34s %-8s %-11s %-10s %-20s %s\n";

// One row per namespace and the memory of the segments.
std::string NamespaceTable(const Overview& o) {
  std::ostringstream out;
  out << "namespaces (" << o.namespaces.size() << "), segments "
      << ByteSize(o.memory_bytes()) << " in all\n";
  char line[256];
  std::snprintf(line, sizeof(line), kRowFormat, "namespace", "fill", "keys/s",
                "used", "blocked", "exhaustion", "state");
  out << line;
  for (const NamespaceSnapshot& n : o.namespaces) {
    if (!n.snap) {
      out << "  " << n.name << "  unreadable: " << n.problem << "\n";
      continue;
    }
    const Snapshot& s = *n.snap;
    std::snprintf(line, sizeof(line), kRowFormat, n.name.c_str(),
                  ShortFill(s).c_str(), ServedRate(s).c_str(),
                  Percent(s.key_space_used()).c_str(),
                  std::to_string(s.keys_blocked).c_str(),
                  ExhaustionText(s, true).c_str(), ServingState(s).c_str());
    out << line;
  }
  return out.str();
}

void WriteJsonNamespace(const NamespaceSnapshot& n, std::ostringstream& o) {
  o << "{\"name\":" << JsonQuote(n.name);
  if (!n.snap) {
    o << ",\"error\":" << JsonQuote(n.problem) << "}";
    return;
  }
  const Snapshot& s = *n.snap;
  o << ",\"segment\":" << JsonQuote(s.segment)
    << ",\"state\":" << JsonQuote(ServingState(s))
    << ",\"broker\":{\"pid\":" << s.broker_pid
    << ",\"alive\":" << Bool(s.broker_alive)
    << ",\"state\":" << JsonQuote(shm::BrokerStateName(s.broker_state)) << "}"
    << ",\"ring\":{\"capacity\":" << s.ring_capacity
    << ",\"fill\":" << s.ring_fill
    << ",\"fill_fraction\":" << Significant(s.ring_fill_fraction()) << "}"
    << ",\"rates\":" << JsonRates(s) << ",\"key\":{\"length\":" << s.key_length
    << ",\"order\":" << JsonQuote(OrderName(s.key_order)) << "}"
    << ",\"ranges\":" << JsonRanges(s) << ",\"key_space\":" << JsonKeySpace(s)
    << ",\"keys_blocked\":" << s.keys_blocked
    << ",\"memory_bytes\":" << shm::SegmentSize(s.ring_capacity)
    << ",\"error\":null}";
}

}  // namespace

std::string FormatJson(const Snapshot& s) {
  std::ostringstream o;
  o << "{";
  WriteJsonFields(s, o);
  o << "}\n";
  return o.str();
}

std::string FormatTable(const Overview& o) {
  const Snapshot* d = o.Default();
  const std::string detail = d ? FormatTable(*d) : "";
  if (!o.HasOthers()) return detail;
  return detail + (d ? "\n" : "") + NamespaceTable(o);
}

std::string FormatJson(const Overview& o) {
  std::ostringstream out;
  out << "{";
  if (const Snapshot* d = o.Default()) {
    WriteJsonFields(*d, out);
    out << ",";
  }
  out << "\"namespaces\":[";
  for (std::size_t i = 0; i < o.namespaces.size(); ++i) {
    if (i) out << ",";
    WriteJsonNamespace(o.namespaces[i], out);
  }
  out << "],\"segments_memory_bytes\":" << o.memory_bytes() << "}\n";
  return out.str();
}

std::string MissingSegmentMessage(const std::string& shm_name) {
  return "forge-ctl: no segment \"" + shm_name + "\" (" +
         shm::Segment::ObjectPath(shm_name) +
         "): is forge-broker running with SHM_NAME=" + shm_name + "?";
}

}  // namespace forge::stats
