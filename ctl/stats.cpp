// ctl/stats.cpp — reading a snapshot and deriving rates; the renderings are
// in stats_format.cpp. See stats.h.
#include "ctl/stats.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>

#include "base/names.h"
#include "base/process.h"
#include "shm/health.h"

namespace forge::ctl {
namespace {

// relaxed (all loads in this file): forge-ctl only reports numbers; it
// never reads other memory through them, and a slightly stale value is
// fine for an operator's view.
constexpr auto kRelaxed = std::memory_order_relaxed;

// 10000-01-01T00:00:00Z: dates past it are not printable as YYYY-MM-DD.
constexpr double kYear10000UnixS = 253402300800.0;

void ReadBroker(const shm::Segment& seg, std::uint64_t now, Snapshot* s) {
  const shm::BrokerStats& b = seg.broker();
  s->broker_pid = b.pid.load(kRelaxed);
  s->state = static_cast<shm::BrokerState>(b.state.load(kRelaxed));
  const std::uint64_t beat = b.heartbeat_unix_ns.load(kRelaxed);
  if (beat != 0) {
    const std::uint64_t age_ns = now > beat ? now - beat : 0;
    s->heartbeat_age_ms = static_cast<std::int64_t>(age_ns / 1'000'000);
  }
  s->broker_alive = shm::BrokerAlive(b, now);
  s->low_water = b.low_water.load(kRelaxed);
  s->keys_produced = b.keys_produced.load(kRelaxed);
  s->keys_wasted = b.keys_wasted.load(kRelaxed);
  s->ranges_reserved = b.ranges_reserved.load(kRelaxed);
  s->refills = b.refills.load(kRelaxed);
  s->store_errors = b.store_errors.load(kRelaxed);
  s->last_refill_ns = b.last_refill_ns.load(kRelaxed);
  s->store_next = b.store_next.load(kRelaxed);
}

void ReadHeader(const shm::Segment& seg, Snapshot* s) {
  const shm::Header& h = seg.header();
  s->capacity = h.capacity;
  s->key_length = h.key_length;
  s->key_order = h.key_order;
  s->key_space = h.key_space;
  // The creator wrote it NUL-terminated; strnlen guards a damaged one.
  s->store.assign(h.store, ::strnlen(h.store, sizeof(h.store)));
}

void ReadWorkers(const shm::Segment& seg, Snapshot* s) {
  const std::uint32_t n = std::min(seg.header().max_workers, shm::kMaxWorkers);
  for (std::uint32_t i = 0; i < n; ++i) {
    const shm::WorkerSlot& w = seg.worker(i);
    WorkerRow row;
    row.slot = i;
    row.pid = w.pid.load(kRelaxed);
    row.served = w.served.load(kRelaxed);
    row.unavailable = w.unavailable.load(kRelaxed);
    row.requests = w.requests.load(kRelaxed);
    s->served_total += row.served;
    s->unavailable_total += row.unavailable;
    if (row.pid == 0 && row.served == 0 && row.unavailable == 0) continue;
    row.alive = row.pid > 0 && base::ProcessAlive(row.pid);
    s->workers.push_back(row);
  }
}

// Growth of a counter per second; a counter that shrank (the segment was
// replaced between the snapshots) grew by nothing we can measure.
double PerSecond(std::uint64_t before, std::uint64_t after, double seconds) {
  return after > before ? static_cast<double>(after - before) / seconds : 0.0;
}

// The worker row of `slot` in `s`, or nullptr (a slot first seen in the
// later snapshot started from 0).
const WorkerRow* FindSlot(const Snapshot& s, std::uint32_t slot) {
  const auto it =
      std::find_if(s.workers.begin(), s.workers.end(),
                   [&](const WorkerRow& w) { return w.slot == slot; });
  return it == s.workers.end() ? nullptr : &*it;
}

}  // namespace

double Snapshot::fill_fraction() const {
  return capacity == 0
             ? 0.0
             : static_cast<double>(fill) / static_cast<double>(capacity);
}

double Snapshot::key_space_used() const {
  return key_space == 0
             ? 0.0
             : static_cast<double>(store_next) / static_cast<double>(key_space);
}

std::uint64_t Snapshot::key_space_remaining() const {
  return key_space > store_next ? key_space - store_next : 0;
}

std::string Snapshot::store_kind() const {
  return base::StoreKindName(base::StoreKindOf(store));
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
  e.seconds_left =
      static_cast<double>(key_space_remaining()) / rates->produced_per_s;
  const double at = static_cast<double>(unix_ns) / 1e9 + e.seconds_left;
  if (at < kYear10000UnixS) e.unix_s = static_cast<std::int64_t>(at);
  return e;
}

Snapshot ReadSnapshot(const shm::Segment& seg, std::uint64_t now_unix_ns) {
  Snapshot s;
  s.unix_ns = now_unix_ns;
  s.segment = seg.name();
  s.path = shm::Segment::ObjectPath(seg.name());
  ReadHeader(seg, &s);
  ReadBroker(seg, now_unix_ns, &s);
  s.fill = seg.ring().Size();
  ReadWorkers(seg, &s);
  return s;
}

void AddRates(const Snapshot& before, Snapshot* after) {
  if (after->unix_ns <= before.unix_ns) return;
  Rates r;
  r.interval_s = static_cast<double>(after->unix_ns - before.unix_ns) / 1e9;
  r.served_per_s =
      PerSecond(before.served_total, after->served_total, r.interval_s);
  r.produced_per_s =
      PerSecond(before.keys_produced, after->keys_produced, r.interval_s);
  r.unavailable_per_s = PerSecond(before.unavailable_total,
                                  after->unavailable_total, r.interval_s);
  for (WorkerRow& w : after->workers) {
    const WorkerRow* old = FindSlot(before, w.slot);
    w.served_per_s = PerSecond(old ? old->served : 0, w.served, r.interval_s);
  }
  after->rates = r;
}

}  // namespace forge::ctl
