#include "consumer/segment_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/clock.h"
#include "base/log.h"
#include "shm/notify.h"
#include "shm/segment_codec.h"
#include "shm/stats.h"
#include "shm/workers.h"

namespace forge::consumer {
namespace {

using std::chrono::steady_clock;

}  // namespace

struct SegmentBackend::Attachment {
  shm::Segment segment;
  std::uint32_t key_length;  // from the validated header, kept in case the
                             // mapping faults later (it then reads zeros)
  std::optional<std::uint32_t> slot;
  std::optional<keys::KeyCodec> codec;  // shm::SegmentCodec, set at attach

  shm::WorkerSlot* Slot() { return slot ? &segment.worker(*slot) : nullptr; }
};

namespace {

shm::BrokerState StateOf(const shm::Segment& seg) {
  // acquire: pairs with the broker's release store, so after seeing
  // kExhausted a pop sees the broker's last push (see TakeKeys).
  return static_cast<shm::BrokerState>(
      seg.broker().state.load(std::memory_order_acquire));
}

}  // namespace

SegmentBackend::SegmentBackend(SegmentBackendOptions options)
    : options_(std::move(options)) {}

SegmentBackend::~SegmentBackend() {
  std::lock_guard lock(attach_mu_);
  const pid_t self = ::getpid();
  for (auto& a : attachments_) {
    if (a->slot) shm::ReleaseWorkerSlot(a->segment, *a->slot, self);
  }
}

bool SegmentBackend::Maintain() {
  std::lock_guard lock(attach_mu_);
  // relaxed: current_ is only stored under attach_mu_, which we hold.
  Attachment* a = current_.load(std::memory_order_relaxed);
  if (a != nullptr) {
    std::string why = a->segment.Damage();
    if (why.empty()) return true;
    Detach(a, why);
  }
  return Attach();
}

SegmentBackend::Attachment* SegmentBackend::Current() {
  // acquire: pairs with the release store in Attach(), so the Attachment
  // and its mapping are fully built before we use them.
  Attachment* a = current_.load(std::memory_order_acquire);
  if (a != nullptr) return a;
  std::lock_guard lock(attach_mu_);
  Attach();
  // relaxed: read under attach_mu_, which orders it after any store.
  return current_.load(std::memory_order_relaxed);
}

void SegmentBackend::Log(bool warn, const std::string& line) const {
  if (options_.quiet) return;
  if (warn) {
    log::Warn(line);
  } else {
    log::Info(line);
  }
}

void SegmentBackend::Detach(Attachment* a, const std::string& why) {
  // relaxed: under attach_mu_ (held by the caller), like every store.
  if (current_.load(std::memory_order_relaxed) != a) return;
  current_.store(nullptr, std::memory_order_relaxed);
  Log(true, "detached segment '" + options_.shm_name + "': " + why);
  std::lock_guard lock(reason_mu_);
  damage_ = why;
}

void SegmentBackend::OnFault(Attachment* a) {
  std::lock_guard lock(attach_mu_);
  std::string why = a->segment.Damage();
  if (why.empty())
    why = "shared memory of segment '" + options_.shm_name +
          "' faulted (SIGBUS) while in use";
  Detach(a, why);
}

void SegmentBackend::SetAttachError(const std::string& error, bool attached) {
  std::lock_guard lock(reason_mu_);
  last_error_ = error;
  if (attached) damage_.clear();
}

std::string SegmentBackend::DetachedReason() {
  std::lock_guard lock(reason_mu_);
  return damage_.empty() ? last_error_ : damage_;
}

bool SegmentBackend::Attach() {
  try {
    auto a = std::make_unique<Attachment>(
        Attachment{shm::Segment::Attach(options_.shm_name), 0, std::nullopt,
                   std::nullopt});
    a->key_length = a->segment.header().key_length;
    a->codec.emplace(shm::SegmentCodec(a->segment));
    a->slot = shm::ClaimWorkerSlot(a->segment, ::getpid(),
                                   options_.frontend_pid, options_.kind);
    if (a->segment.faulted()) throw shm::SegmentError(a->segment.Damage());
    if (!a->slot) {
      Log(true, "all " + std::to_string(shm::kMaxWorkers) +
                    " worker stats slots of segment '" + options_.shm_name +
                    "' are taken; serving without per-worker counters");
    }
    Attachment* raw = a.get();
    attachments_.push_back(std::move(a));
    // release: publishes the fully built Attachment to request threads
    // (see Current()).
    current_.store(raw, std::memory_order_release);
    Log(false, "attached segment '" + options_.shm_name + "' (" +
                   std::to_string(raw->segment.header().capacity) + " slots)");
    logged_error_.clear();
    SetAttachError("", true);
    return true;
  } catch (const shm::SegmentMissing&) {
    // Not created yet (or deleted): the normal state before the broker
    // starts, said by the 503 body rather than a log line per retry.
    SetAttachError("", false);
    return current_.load(std::memory_order_relaxed) != nullptr;
  } catch (const shm::SegmentError& e) {
    if (e.what() != logged_error_) {
      logged_error_ = e.what();
      Log(true, std::string("cannot attach yet (retrying): ") + e.what());
    }
    SetAttachError(e.what(), false);
    return current_.load(std::memory_order_relaxed) != nullptr;
  }
}

// Pops go through a mapping that a truncated file turns into zero pages
// (shm/bus_guard.h); keys popped around such a fault are dropped, never
// served: the claim may have hit the private copy (a gap, not a repeat).
TakenKeys SegmentBackend::TakeKeys(KeyBuffer& out, std::size_t want) {
  return TakeKeys(out, want, options_.empty_wait);
}

TakenKeys SegmentBackend::TakeKeys(KeyBuffer& out, std::size_t want,
                                   std::chrono::milliseconds wait) {
  Attachment* a = Current();
  if (a == nullptr || want == 0) return {};
  const std::size_t got =
      PopKeys(a, out.Room(want * a->segment.ring().Stride()), want, wait);
  if (!a->segment.faulted()) return {got, got > 0 ? a->key_length : 0U};
  OnFault(a);
  return {};
}

bool SegmentBackend::MayWait(std::size_t want) {
  Attachment* a = Current();
  // Detached: TakeKeys answers at once. Exhausted: it takes what is left.
  if (a == nullptr || want == 0 || options_.empty_wait.count() == 0) {
    return false;
  }
  return a->segment.ring().Size() < want &&
         StateOf(a->segment) != shm::BrokerState::kExhausted;
}

std::optional<std::uint32_t> SegmentBackend::KeyLength() {
  Attachment* a = Current();
  if (a == nullptr) return std::nullopt;
  return a->key_length;
}

std::size_t SegmentBackend::PopKeys(Attachment* a, shm::Key* out,
                                    std::size_t want,
                                    std::chrono::milliseconds wait) {
  shm::Segment& seg = a->segment;
  // Time counts from the first look at the clock, right after the first
  // claim: a request one claim serves (every /get-key) never reads it.
  std::optional<steady_clock::time_point> start;
  const auto since_start = [&] {
    const auto now = steady_clock::now();
    if (!start) start = now;
    return now - *start;
  };
  // Claims come in chunks (shm::kMaxClaimSlots) with a clock check between
  // them, so however many single pops compete, a batch stops claiming by
  // its wait (or kMinClaimTime) and answers with what it has.
  const auto claim_time = std::max<steady_clock::duration>(wait, kMinClaimTime);
  const std::uint32_t stride = seg.ring().Stride();
  const auto take = [&](std::size_t got) {
    return seg.ring().TryPopBatch(out + got * stride, want - got,
                                  [&] { return since_start() < claim_time; });
  };
  std::size_t got = 0;
  for (;;) {
    const std::size_t n = take(got);
    if (n > 0) {
      got += n;
      shm::MaybeWakeProducer(seg);
    }
    if (got == want) break;
    // An exhausted store will never refill the ring: do not wait for it,
    // but take what the broker's last push (made before it said so) left.
    if (StateOf(seg) == shm::BrokerState::kExhausted) {
      got += take(got);
      break;
    }
    if (since_start() >= wait || !shm::WaitForKeys(seg, *start + wait)) {
      // One last claim: keys may have landed just as the wait timed out.
      got += take(got);
      break;
    }
  }
  if (shm::WorkerSlot* slot = a->Slot(); slot != nullptr && got > 0) {
    // relaxed: a statistics counter; readers only need the eventual sum.
    slot->served.fetch_add(got, std::memory_order_relaxed);
  }
  return got;
}

std::optional<KeyCheck> SegmentBackend::CheckKey(std::string_view key) {
  Attachment* a = Current();
  if (a == nullptr) return std::nullopt;
  return KeyCheck{a->codec->Check(key),
                  a->codec->order() == keys::KeyOrder::kSequential};
}

void SegmentBackend::CountUnavailable() {
  Attachment* a = Current();
  if (shm::WorkerSlot* slot = a ? a->Slot() : nullptr) {
    // relaxed: a statistics counter.
    slot->unavailable.fetch_add(1, std::memory_order_relaxed);
  }
}

void SegmentBackend::CountRequest() {
  // Attaches first when needed, so a worker's very first request (counted
  // before it is routed) is not lost from forge_http_requests_total.
  Attachment* a = Current();
  if (shm::WorkerSlot* slot = a ? a->Slot() : nullptr) {
    // relaxed: a statistics counter.
    slot->requests.fetch_add(1, std::memory_order_relaxed);
  }
}

Snapshot SegmentBackend::Observe() {
  Snapshot s;
  s.shm_name = options_.shm_name;
  Attachment* a = Current();
  if (a != nullptr) {
    const shm::Segment& seg = a->segment;
    static_cast<shm::Stats&>(s) = shm::ReadStats(seg, base::UnixNowNs());
    s.attached = true;
    if (!seg.faulted()) return s;
    OnFault(a);  // what we read is zeros: report the damage instead
    s = Snapshot{};
    s.shm_name = options_.shm_name;
  }
  s.detached_reason = DetachedReason();
  return s;
}

}  // namespace forge::consumer
