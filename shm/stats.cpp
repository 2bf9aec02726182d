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
  s->granted_high = b.granted_high.load(kRelaxed);
  s->store_regressions = b.store_regressions.load(kRelaxed);
  s->store_reconnects = b.store_reconnects.load(kRelaxed);
  s->range_size = b.range_size.load(kRelaxed);
  s->durability = static_cast<StoreDurability>(b.durability.load(kRelaxed));
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
    w.kind = static_cast<ConsumerKind>(slot.kind.load(kRelaxed));
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
    case BrokerState::kStoreUnsafe:
      return "store-unsafe";
  }
  return "unknown";
}

const char* DurabilityName(StoreDurability durability) {
  switch (durability) {
    case StoreDurability::kUnknown:
      return "unknown";
    case StoreDurability::kLocal:
      return "local";
    case StoreDurability::kAsync:
      return "async";
    case StoreDurability::kSync:
      return "sync";
  }
  return "unknown";
}

const char* ConsumerKindName(ConsumerKind kind) {
  return kind == ConsumerKind::kClient ? "client" : "worker";
}

void WriteStoreLink(StoreLink& link, std::string_view text) {
  char bytes[StoreLink::kWords * 8] = {};
  text.copy(bytes, sizeof(bytes) - 1);
  // relaxed: one writer; the release fence below orders it before the
  // words, and readers compare it before and after their copy.
  const std::uint64_t g = link.generation.load(std::memory_order_relaxed);
  link.generation.store(g + 1, std::memory_order_relaxed);  // odd: writing
  // release: a reader that sees any new word also sees the odd generation.
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t i = 0; i < StoreLink::kWords; ++i) {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes + i * 8, 8);
    // relaxed: ordered by the fence above and the release store below.
    link.text[i].store(w, std::memory_order_relaxed);
  }
  // release: the words are visible before the even generation.
  link.generation.store(g + 2, std::memory_order_release);
}

std::string ReadStoreLink(const StoreLink& link) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    // acquire: pairs with the writer's final release store.
    const std::uint64_t before =
        link.generation.load(std::memory_order_acquire);
    if (before % 2 != 0) continue;
    char bytes[StoreLink::kWords * 8 + 1] = {};
    for (std::size_t i = 0; i < StoreLink::kWords; ++i) {
      const std::uint64_t w = link.text[i].load(kRelaxed);
      std::memcpy(bytes + i * 8, &w, 8);
    }
    // acquire: the word loads above happen before this re-check.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (link.generation.load(kRelaxed) == before) return bytes;
  }
  return "";  // a writer kept changing it: a statistic, try next time
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
  s.store_host = ReadStoreLink(seg.store_link());
  return s;
}

}  // namespace forge::shm
