// shm/stats.cpp — see stats.h.
#include "shm/stats.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/process.h"
#include "shm/health.h"

namespace forge::shm {
namespace {

// relaxed (all loads in this file): the snapshot only reports numbers; no
// other memory is read through them, and a slightly stale value is fine.
constexpr auto kRelaxed = std::memory_order_relaxed;

void ReadHeader(const Header& h, Stats* s) {
  // The creator wrote it NUL-terminated; strnlen guards a damaged one.
  s->store.assign(h.store, ::strnlen(h.store, sizeof(h.store)));
  s->key_length = h.key_length;
  s->key_order = h.key_order;
  s->key_space = h.key_space;
}

void ReadBroker(const BrokerStats& b, Stats* s) {
  s->broker_pid = b.pid.load(kRelaxed);
  s->broker_state = static_cast<BrokerState>(b.state.load(kRelaxed));
  s->broker_alive = BrokerAlive(b, s->now_unix_ns);
  if (const std::uint64_t beat = b.heartbeat_unix_ns.load(kRelaxed)) {
    // A beat in the future (the clock stepped back) is 0 old.
    s->heartbeat_age_ns = s->now_unix_ns > beat ? s->now_unix_ns - beat : 0;
  }
  s->low_water = b.low_water.load(kRelaxed);
  s->keys_produced = b.keys_produced.load(kRelaxed);
  s->keys_wasted = b.keys_wasted.load(kRelaxed);
  s->keys_blocked = b.keys_blocked.load(kRelaxed);
  s->ranges_reserved = b.ranges_reserved.load(kRelaxed);
  s->refills = b.refills.load(kRelaxed);
  s->store_errors = b.store_errors.load(kRelaxed);
  s->last_refill_ns = b.last_refill_ns.load(kRelaxed);
  s->store_next = b.store_next.load(kRelaxed);
}

void ReadWorkers(const ReadOnlySegment& seg, Stats* s) {
  for (std::uint32_t i = 0; i < kMaxWorkers; ++i) {
    const WorkerSlot& slot = seg.worker(i);
    WorkerStats w;
    w.slot = i;
    w.pid = slot.pid.load(kRelaxed);
    w.served = slot.served.load(kRelaxed);
    w.unavailable = slot.unavailable.load(kRelaxed);
    w.requests = slot.requests.load(kRelaxed);
    if (w.pid == 0 && w.served == 0 && w.unavailable == 0 && w.requests == 0) {
      continue;  // never used
    }
    w.alive = w.pid > 0 && base::ProcessAlive(w.pid);
    s->served_total += w.served;
    s->unavailable_total += w.unavailable;
    s->requests_total += w.requests;
    if (w.alive) ++s->workers_alive;
    s->workers.push_back(w);
  }
}

double Ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0
                    : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

const char* BrokerStateName(BrokerState state) {
  switch (state) {
    case BrokerState::kNone:
      return "none";
    case BrokerState::kStarting:
      return "starting";
    case BrokerState::kRunning:
      return "running";
    case BrokerState::kStoreError:
      return "store-error";
    case BrokerState::kExhausted:
      return "exhausted";
    case BrokerState::kStopped:
      return "stopped";
  }
  return "unknown";
}

double Stats::ring_fill_fraction() const {
  return Ratio(ring_fill, ring_capacity);
}

double Stats::key_space_used() const { return Ratio(store_next, key_space); }

std::uint64_t Stats::key_space_remaining() const {
  return key_space > store_next ? key_space - store_next : 0;
}

Stats ReadStats(const ReadOnlySegment& seg, std::uint64_t now_unix_ns) {
  Stats s;
  s.now_unix_ns = now_unix_ns;
  ReadHeader(seg.header(), &s);
  ReadBroker(seg.broker(), &s);
  s.ring_capacity = seg.ring().Capacity();
  s.ring_fill = seg.ring().Size();
  ReadWorkers(seg, &s);
  return s;
}

}  // namespace forge::shm
