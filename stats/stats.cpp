// stats/stats.cpp — reading a snapshot and deriving rates; the renderings are
// in stats_format.cpp. See stats.h.
#include "stats/stats.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>

#include "base/names.h"
#include "shm/namespaces.h"

namespace forge::stats {
namespace {

// 10000-01-01T00:00:00Z: dates past it are not printable as YYYY-MM-DD.
constexpr double kYear10000UnixS = 253402300800.0;

// Growth of a counter per second; a counter that shrank (the segment was
// replaced between the snapshots) grew by nothing we can measure.
double PerSecond(std::uint64_t before, std::uint64_t after, double seconds) {
  return after > before ? static_cast<double>(after - before) / seconds : 0.0;
}

// The served counter of `slot` in `s`, 0 when it is not listed (a slot
// first seen in the later snapshot started from 0).
std::uint64_t ServedOf(const Snapshot& s, std::uint32_t slot) {
  const auto it =
      std::find_if(s.workers.begin(), s.workers.end(),
                   [&](const shm::WorkerStats& w) { return w.slot == slot; });
  return it == s.workers.end() ? 0 : it->served;
}

// A snapshot, unless the segment was damaged while (or before) we read
// it: then what we read may be zeros, and the reason is thrown instead.
Snapshot ReadIntact(const shm::ReadOnlySegment& seg, std::uint64_t now) {
  Snapshot snap = ReadSnapshot(seg, now);
  if (std::string why = seg.Damage(); !why.empty()) {
    throw shm::SegmentError(why);
  }
  return snap;
}

// Another namespace's row: its snapshot, or why its segment cannot be read.
NamespaceSnapshot ReadOther(const std::string& shm_name, const std::string& ns,
                            std::uint64_t now) {
  NamespaceSnapshot n{ns, std::nullopt, ""};
  n.snap = TryReadSnapshot(base::NamespaceSegmentName(shm_name, ns), now,
                           &n.problem);
  return n;
}

}  // namespace

std::optional<std::int64_t> Snapshot::heartbeat_age_ms() const {
  if (!heartbeat_age_ns) return std::nullopt;
  return static_cast<std::int64_t>(*heartbeat_age_ns / 1'000'000);
}

std::string Snapshot::store_kind() const {
  return base::StoreKindName(base::StoreKindOf(store));
}

double Snapshot::usable_fraction() const {
  const double numbers =
      static_cast<double>(keys_produced) + static_cast<double>(keys_blocked);
  return numbers > 0 ? static_cast<double>(keys_produced) / numbers : 1.0;
}

Exhaustion Snapshot::exhaustion() const {
  Exhaustion e;
  if (key_space == 0) return e;  // no format: nothing to project
  if (key_space_remaining() == 0) {
    e.kind = Exhaustion::Kind::kUsedUp;
    return e;
  }
  if (!rates) return e;
  if (rates->produced_per_s <= 0) {
    e.kind = Exhaustion::Kind::kNever;
    return e;
  }
  e.kind = Exhaustion::Kind::kProjected;
  e.seconds_left = static_cast<double>(key_space_remaining()) *
                   usable_fraction() / rates->produced_per_s;
  const double at = static_cast<double>(now_unix_ns) / 1e9 + e.seconds_left;
  if (at < kYear10000UnixS) e.unix_s = static_cast<std::int64_t>(at);
  return e;
}

Snapshot ReadSnapshot(const shm::ReadOnlySegment& seg,
                      std::uint64_t now_unix_ns) {
  Snapshot s;
  static_cast<shm::Stats&>(s) = shm::ReadStats(seg, now_unix_ns);
  s.segment = seg.name();
  s.path = shm::Segment::ObjectPath(seg.name());
  return s;
}

std::optional<Snapshot> TryReadSnapshot(const std::string& segment,
                                        std::uint64_t now_unix_ns,
                                        std::string* problem) {
  try {
    return ReadIntact(shm::ReadOnlySegment::Attach(segment), now_unix_ns);
  } catch (const shm::SegmentError& e) {
    *problem = e.what();
    return std::nullopt;
  }
}

void AddRates(const Snapshot& before, Snapshot* after) {
  if (after->now_unix_ns <= before.now_unix_ns) return;
  Rates r;
  r.interval_s =
      static_cast<double>(after->now_unix_ns - before.now_unix_ns) / 1e9;
  r.served_per_s =
      PerSecond(before.served_total, after->served_total, r.interval_s);
  r.produced_per_s =
      PerSecond(before.keys_produced, after->keys_produced, r.interval_s);
  r.unavailable_per_s = PerSecond(before.unavailable_total,
                                  after->unavailable_total, r.interval_s);
  r.reserved_per_s =
      PerSecond(before.ranges_reserved, after->ranges_reserved, r.interval_s);
  for (const shm::WorkerStats& w : after->workers) {
    r.worker_served_per_s[w.slot] =
        PerSecond(ServedOf(before, w.slot), w.served, r.interval_s);
  }
  after->rates = r;
}

std::string ServingState(const shm::Stats& s) {
  if (s.broker_pid == 0) return "no broker yet";
  const std::string state = shm::BrokerStateName(s.broker_state);
  if (s.broker_alive || s.broker_state == shm::BrokerState::kStopped) {
    return state;
  }
  return state + ", broker not alive";
}

const Snapshot* Overview::Default() const {
  for (const NamespaceSnapshot& n : namespaces) {
    if (n.name == base::kDefaultNamespace && n.snap) return &*n.snap;
  }
  return nullptr;
}

bool Overview::HasOthers() const {
  return std::any_of(namespaces.begin(), namespaces.end(),
                     [](const NamespaceSnapshot& n) {
                       return n.name != base::kDefaultNamespace;
                     });
}

std::uint64_t Overview::memory_bytes() const {
  std::uint64_t total = 0;
  for (const NamespaceSnapshot& n : namespaces) {
    if (n.snap) total += shm::SegmentSize(n.snap->ring_capacity);
  }
  return total;
}

Overview ReadOverview(const std::string& shm_name, std::uint64_t now) {
  Overview o;
  std::optional<shm::SegmentMissing> no_default;
  try {
    const auto seg = shm::ReadOnlySegment::Attach(shm_name);
    o.namespaces.push_back(
        {std::string(base::kDefaultNamespace), ReadIntact(seg, now), ""});
  } catch (const shm::SegmentMissing& e) {
    no_default = e;
  }
  // Listed after the attach: a default segment a starting broker made in
  // between is listed but was not read, so it must not count as another.
  for (const std::string& ns : shm::ServedNamespaces(shm_name)) {
    if (ns != base::kDefaultNamespace) {
      o.namespaces.push_back(ReadOther(shm_name, ns, now));
    }
  }
  if (no_default && o.namespaces.empty()) throw *no_default;
  return o;
}

void AddRates(const Overview& before, Overview* after) {
  for (NamespaceSnapshot& n : after->namespaces) {
    const auto it = std::find_if(
        before.namespaces.begin(), before.namespaces.end(),
        [&](const NamespaceSnapshot& b) { return b.name == n.name; });
    if (n.snap && it != before.namespaces.end() && it->snap) {
      AddRates(*it->snap, &*n.snap);
    }
  }
}

}  // namespace forge::stats
