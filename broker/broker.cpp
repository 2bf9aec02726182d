// broker/broker.cpp — the refill loop (see broker.h for the contract).
#include "broker/broker.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"
#include "base/status.h"
#include "shm/notify.h"
#include "shm/stats.h"
#include "shm/workers.h"
#include "store/format.h"

namespace forge::broker {
namespace {

// One refill pushes at most this many keys: a refill of half a large ring
// (524,288 keys of a 1 Mi ring) held a core for tens of milliseconds of
// encoding in one burst, which showed in the frontends' p99 on a small
// machine; 8 Ki keys is under a millisecond.
constexpr std::uint64_t kMaxRefillKeys = 8192;

std::uint64_t LowWaterFor(std::uint64_t capacity) {
  return capacity - std::min(capacity / 2, kMaxRefillKeys);
}

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// Keys encoded per Push(): big enough to amortise the tail store, small
// enough to keep the encode buffer in L1/L2.
constexpr std::uint64_t kBatchKeys = 1024;

// True on the reserver thread (see WhileStoreWaits).
thread_local bool t_reserving = false;

// Encode chunks for helpers: big enough that posting one costs little
// next to encoding it (~100 us for 4096 keys), small enough that a small
// ring's refill is shared out among the helpers.
std::size_t ChunkKeys(std::uint64_t capacity, std::size_t helpers) {
  if (helpers == 0) return kBatchKeys;
  return static_cast<std::size_t>(
      std::clamp<std::uint64_t>(capacity / 4, 256, 4 * kBatchKeys));
}

std::size_t HelperCount(const BrokerOptions& o) {
  if (!o.encode_helpers.empty()) return o.encode_helpers.size();
  return o.encode_threads > 0 ? o.encode_threads - 1 : 0;
}

// The helpers a broker encodes with: the shared ones, else its own.
std::vector<JobThread*> HelpersOf(
    const BrokerOptions& o, std::vector<std::unique_ptr<JobThread>>& own) {
  if (!o.encode_helpers.empty()) return o.encode_helpers;
  for (std::size_t i = 0; i < HelperCount(o); ++i) {
    own.push_back(std::make_unique<JobThread>());
  }
  std::vector<JobThread*> out;
  for (const auto& h : own) out.push_back(h.get());
  return out;
}

RangeSizer SizerFor(const BrokerOptions& o) {
  if (o.range_size != config::Config::kAutoRangeSize) {
    return RangeSizer::Fixed(o.range_size);
  }
  return RangeSizer::Automatic(o.range_size_min, o.range_size_max);
}

shm::BrokerState LoadState(const shm::BrokerStats& stats) {
  // relaxed: the state is a status word; nothing else is read through it.
  return static_cast<shm::BrokerState>(
      stats.state.load(std::memory_order_relaxed));
}

// True when the keys in the segment's ring came from `store`: its header
// records the identity of the store every key in it came from (segment.h,
// "Store identity"), so only then are they this store's numbers. The
// description is not compared: one store has many names (paths, hosts).
bool FilledFrom(const shm::Segment& seg, const store::RangeStore& store) {
  return shm::StoreIdOf(seg.header()) == store.format().store_id;
}

// Sorted, without empty ranges, touching ones merged (overlaps are kept
// apart for the store to refuse: they would mean a bug, never "merge").
std::vector<store::Range> Coalesce(std::vector<store::Range> ranges) {
  std::erase_if(ranges, [](const store::Range& r) { return r.empty(); });
  std::sort(ranges.begin(), ranges.end(),
            [](const store::Range& a, const store::Range& b) {
              return a.first < b.first;
            });
  std::vector<store::Range> out;
  for (const store::Range& r : ranges) {
    if (!out.empty() && out.back().last == r.first) {
      out.back().last = r.last;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

// The numbers as ranges of consecutive values.
std::vector<store::Range> RunsOf(std::vector<std::uint64_t> numbers) {
  std::sort(numbers.begin(), numbers.end());
  std::vector<store::Range> runs;
  for (const std::uint64_t n : numbers) {
    if (!runs.empty() && runs.back().last == n) {
      ++runs.back().last;
    } else {
      runs.push_back(store::Range{n, n + 1});
    }
  }
  return runs;
}

// "H in hand, R from the ring[, which stays ...]" for the stop log line.
std::string Sources(std::uint64_t in_hand, std::uint64_t from_ring,
                    std::uint32_t workers, const std::string& foreign_store) {
  std::string text = std::to_string(in_hand) + " in hand, " +
                     std::to_string(from_ring) + " from the ring";
  if (workers > 0) {
    text += ", which stays with " + std::to_string(workers) +
            " attached frontend worker(s)";
  } else if (!foreign_store.empty()) {
    text += ", which stays: it was filled from store " + foreign_store;
  }
  return text;
}

keys::KeyCodec MakeCodec(const store::RangeStore& store,
                         const shm::Segment& seg) {
  keys::KeyCodec codec = store::CodecOf(store.format());
  // The broker makes its segment from the store's format
  // (SegmentSpecFor), so they can only disagree by a programming error.
  FORGE_CHECK(codec.text_length() == seg.header().key_length,
              "segment \"" + seg.name() + "\" holds keys of " +
                  std::to_string(seg.header().key_length) +
                  " characters but the store (" + store.Describe() +
                  ") makes keys of " + std::to_string(codec.text_length()) +
                  "; they must agree");
  return codec;
}

}  // namespace

std::uint32_t AutoEncodeThreads() {
  const unsigned cpus = std::thread::hardware_concurrency();
  return std::clamp<std::uint32_t>(cpus, 1, kMaxAutoEncodeThreads);
}

int SleepInterruptibly(Signals* signals, std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return 0;
  if (signals != nullptr) return signals->WaitFor(d);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(d.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(d.count() % 1'000'000'000);
  ::nanosleep(&ts, nullptr);
  return 0;
}

shm::SegmentSpec SegmentSpecFor(const config::Config& cfg,
                                const store::RangeStore& store) {
  return SegmentSpecFor(cfg.pool_capacity, store);
}

shm::SegmentSpec SegmentSpecFor(std::uint64_t capacity,
                                const store::RangeStore& store) {
  const store::StoreFormat& f = store.format();
  shm::SegmentSpec spec;
  spec.capacity = capacity;
  spec.key_length = static_cast<std::uint32_t>(f.key_length);  // digits
  spec.key_order = static_cast<std::uint32_t>(store::LayoutKeyOrder(f.order));
  spec.key_space = keys::KeySpace(f.policy.alphabet.size(), f.key_length);
  spec.policy = f.policy;
  spec.secret = f.secret;
  spec.store = store.Describe();
  spec.store_id = f.store_id;
  return spec;
}

std::unique_ptr<store::RangeStore> OpenStoreRetrying(
    const config::Config& cfg, const BrokerOptions& options,
    const std::atomic<bool>& stop, std::function<void()> on_wait,
    Signals* signals) {
  store::StoreFormat wanted;
  wanted.key_length = cfg.key_length;
  wanted.order = cfg.key_order;
  store::StoreLimits limits;
  limits.timeout = options.store_timeout;
  limits.stop = &stop;
  limits.stop_budget = options.return_budget;
  limits.on_wait = std::move(on_wait);
  std::unique_ptr<store::RangeStore> store;
  const bool opened = RetryTransient(
      "cannot open the store yet", "store reachable again", options, stop,
      signals, [&] { store = store::OpenStore(cfg.db_url, wanted, limits); });
  return opened ? std::move(store) : nullptr;
}

bool RetryTransient(const std::string& trouble_text,
                    const std::string& recovered_text,
                    const BrokerOptions& options, const std::atomic<bool>& stop,
                    Signals* signals, const std::function<void()>& attempt) {
  StoreTrouble trouble(trouble_text, options.store_log_every);
  milliseconds backoff = options.backoff_min;
  // relaxed: a stop flag set by a signal handler; it carries no data.
  while (!stop.load(std::memory_order_relaxed)) {
    try {
      attempt();
      const auto line =
          trouble.Recovered(StoreTrouble::Clock::now(), recovered_text);
      if (line) log::Info(*line);
      return true;
    } catch (const store::StoreError& e) {
      if (!e.transient()) throw;
      const auto line = trouble.Failed(
          StoreTrouble::Clock::now(), e.what(),
          "retrying in " + std::to_string(backoff.count()) + " ms");
      if (line) log::Warn(*line);
      // A stop that cut the store call short ends this sleep at once.
      (void)SleepInterruptibly(signals, backoff);
      backoff = std::min(backoff * 2, options.backoff_max);
    }
  }
  return false;
}

BrokerOptions BrokerOptions::FromConfig(const config::Config& cfg) {
  BrokerOptions o;
  o.range_size = cfg.range_size;
  o.range_size_min = cfg.range_size_min;
  o.range_size_max = cfg.range_size_max;
  o.store_timeout = milliseconds(cfg.store_timeout_ms);
  o.require_sync = cfg.store_require_sync;
  o.encode_threads = cfg.encode_threads == config::Config::kAutoEncodeThreads
                         ? AutoEncodeThreads()
                         : cfg.encode_threads;
  return o;
}

Broker::Broker(const config::Config& cfg, store::RangeStore& store,
               shm::Segment& seg)
    : Broker(BrokerOptions::FromConfig(cfg), store, seg) {}

Broker::Broker(const BrokerOptions& options, store::RangeStore& store,
               shm::Segment& seg)
    : options_(options),
      prefix_(store.namespace_name() == base::kDefaultNamespace
                  ? std::string()
                  : "namespace " + store.namespace_name() + ": "),
      store_(store),
      seg_(seg),
      stats_(seg.broker()),
      ring_(seg.ring()),
      codec_(MakeCodec(store, seg)),
      blocklist_spec_(store.format().blocklist),
      blocklist_(keys::Blocklist::Of(blocklist_spec_)),
      capacity_(ring_.Capacity()),
      low_water_(LowWaterFor(capacity_)),
      sizer_(SizerFor(options)),
      batch_(kBatchKeys * ring_.Stride()),
      batch_numbers_(kBatchKeys),
      trouble_("store error", options.store_log_every),
      store_mutex_(options.store_mutex != nullptr ? *options.store_mutex
                                                  : own_store_mutex_),
      pipeline_(codec_, blocklist_, ring_.Stride(),
                ChunkKeys(capacity_, HelperCount(options)),
                HelpersOf(options, own_helpers_)) {
  FORGE_CHECK(sizer_.current() > 0, "broker range size must be at least 1");
  // relaxed (all below): BrokerStats are independent status words for
  // readers (forge-ctl, /metrics, consumers' low-water check); no other
  // memory is published through them.
  stats_.pid.store(static_cast<std::int32_t>(::getpid()),
                   std::memory_order_relaxed);
  stats_.start_unix_ns.store(base::UnixNowNs(), std::memory_order_relaxed);
  stats_.low_water.store(low_water_, std::memory_order_relaxed);
  // Alive (pid, state, beat) before the first store call: a client that
  // finds the new segment's ring empty meanwhile waits for keys instead of
  // being told "no broker" (shm/health.h). The segment is visible a little
  // earlier, from its creation (fleet.cpp): a call in that instant is
  // still told "no broker".
  SetState(shm::BrokerState::kStarting);
  Heartbeat();
  try {
    stats_.store_next.store(store_.Next(), std::memory_order_relaxed);
  } catch (const store::StoreError& e) {
    log::Warn(prefix_ + std::string("cannot read the store counter yet: ") +
              e.what());
  }
  PublishLink(store_.Link());
}

// reserver_ (declared last) lets the reservation in flight end and joins;
// pipeline_ waits for the chunks helpers are encoding.
Broker::~Broker() = default;

int Broker::Run(const std::atomic<bool>& stop, Signals* signals) {
  Begin(signals);
  // relaxed: the flag is set by a signal handler or another thread and
  // carries no data; seeing it one iteration late is fine.
  while (!stop.load(std::memory_order_relaxed)) {
    const StepResult r = Tick();
    if (r == StepResult::kFatal) return 2;
    // Each SIGHUP logs one line; SIGTERM/SIGINT already raised `stop`.
    while (signals_ != nullptr && NoteSignal(signals_->Poll()) != 0) {
    }
    if (r == StepResult::kIdle && !stop.load(std::memory_order_relaxed)) {
      Idle();
    }
  }
  // The stop signal is handled: only a second one shortens a Return's
  // back-off.
  if (signals_ != nullptr) signals_->Acknowledge();
  Finish();
  return 0;
}

void Broker::Begin(Signals* signals) {
  signals_ = signals;
  SetState(shm::BrokerState::kRunning);
}

StepResult Broker::Tick() {
  if (SegmentDamaged()) return StepResult::kFatal;
  const StepResult r = Step();
  if (r == StepResult::kFatal) {
    // TakeAttempt logged the one ERROR line; this only accounts for it.
    AddWasted(hand());
    if (hand() > 0) {
      log::Warn(prefix_ + "exiting: " + std::to_string(hand()) +
                " reserved numbers not pushed become a gap");
    }
  }
  return r;
}

void Broker::Finish() {
  // The range in flight joins the hand (and goes back with it); a
  // non-transient error was logged by TakeAttempt.
  (void)Collect(std::chrono::hours(1));
  ReturnUnpublished();
  SetState(shm::BrokerState::kStopped);
  Heartbeat();
}

bool Broker::SegmentDamaged() {
  const Clock::time_point now = Clock::now();
  if (!seg_.faulted() && now < next_damage_check_) return false;
  next_damage_check_ = now + options_.damage_check_every;
  const std::string why = seg_.Damage();
  if (why.empty()) return false;
  // Nothing more is written to the segment (it may be zero pages now);
  // the hand was never published, so it is a gap, never a repeat.
  log::Error(prefix_ + "segment damaged, exiting: " + why + "; " +
             std::to_string(hand()) +
             " reserved numbers not pushed become a gap");
  return true;
}

StepResult Broker::Step() {
  // relaxed: a statistic for tests, see iterations().
  iterations_.fetch_add(1, std::memory_order_relaxed);
  Heartbeat();
  if (!Collect(nanoseconds::zero())) return StepResult::kFatal;
  PushFromHand();
  if (WantReserve()) {
    if (!StartReserve()) return StepResult::kFatal;
    PushFromHand();  // a range reserved inline goes out at once
  }
  if (Pending() && !CanPush()) {
    // Nothing else to do: wait a little for the store.
    if (!Collect(kPendingSlice)) return StepResult::kFatal;
    PushFromHand();
  }
  return CanPush() || WantReserve() || Pending() ? StepResult::kBusy
                                                 : StepResult::kIdle;
}

Broker::IdlePlan Broker::PlanIdle() const {
  nanoseconds wait = options_.idle_wait;
  if (BackingOff())
    wait = std::min<nanoseconds>(wait, retry_at_ - Clock::now());
  if (exhausted_) {
    wait = std::min<nanoseconds>(wait, recheck_at_ - Clock::now());
  }
  // Something to push once consumers take keys: a consumer's wake ends the
  // sleep (at once if the fill is already below low water). Not "and the
  // ring is full": a consumer may pop between Step's look and this one,
  // and a plain sleep then outlasted a small ring (a 100 ms stall with
  // 4,096 slots). With nothing in hand (exhausted, or the store backing
  // off) a consumer cannot make work appear: only time or a signal.
  return IdlePlan{std::max(wait, nanoseconds::zero()), hand() > 0};
}

void Broker::Idle() {
  const IdlePlan plan = PlanIdle();
  if (plan.wait <= nanoseconds::zero()) return;
  if (plan.until_low_water) {
    // A signal that came since the loop's check skips the sleep; one that
    // comes during it ends it (EINTR).
    if (signals_ != nullptr && NoteSignal(signals_->Poll()) != 0) return;
    shm::WaitForLowWater(
        seg_,
        std::max(milliseconds(1), duration_cast<milliseconds>(plan.wait)));
  } else {
    NoteSignal(SleepInterruptibly(signals_, plan.wait));
  }
}

int Broker::NoteSignal(int sig) {
  if (sig == SIGHUP) log::Info("SIGHUP ignored (restart to apply config)");
  return sig;
}

void Broker::WhileStoreWaits() {
  if (t_reserving) return;  // the loop's thread beats and pushes itself
  Heartbeat();
  PushFromHand();
}

void Broker::Heartbeat() {
  // relaxed: a timestamp for readers; see the constructor.
  stats_.heartbeat_unix_ns.store(base::UnixNowNs(), std::memory_order_relaxed);
}

void Broker::SetState(shm::BrokerState state) {
  const shm::BrokerState old = LoadState(stats_);
  // release: a consumer that loads kExhausted with acquire also sees every
  // key pushed before it (it pops once more before answering 503).
  stats_.state.store(static_cast<std::uint32_t>(state),
                     std::memory_order_release);
  if (old != state) {
    log::Info(prefix_ + std::string("state ") + shm::BrokerStateName(old) +
              " -> " + shm::BrokerStateName(state));
  }
}

bool Broker::RingFull() const { return ring_.Size() >= capacity_; }

bool Broker::CanPush() const { return hand() > 0 && !RingFull(); }

bool Broker::BackingOff() const {
  return backoff_.count() > 0 && Clock::now() < retry_at_;
}

std::uint64_t Broker::TargetHand() const {
  return capacity_ - low_water_ + sizer_.current();
}

std::uint64_t Broker::Taken() const {
  // relaxed: this thread is the only writer of keys_produced.
  const std::uint64_t pushed =
      stats_.keys_produced.load(std::memory_order_relaxed);
  return pushed - std::min(pushed, ring_.Size());
}

bool Broker::WantReserve() const {
  if (Pending() || hand() >= TargetHand() || BackingOff()) return false;
  return !exhausted_ || Clock::now() >= recheck_at_;
}

void Broker::PushFromHand() {
  std::uint64_t pushed = 0;
  while (hand() > 0) {
    const std::size_t n = PushBatch();
    if (n == 0) break;
    pushed += n;
  }
  if (pushed == 0) return;
  // The last numbers in hand are in the ring: only now will nothing more
  // come, which is what kExhausted tells consumers (see OnExhausted).
  if (exhausted_ && hand() == 0) SetState(shm::BrokerState::kExhausted);
  // Consumers may be asleep on an empty ring; the call costs one load when
  // nobody waits, so it is made after every push rather than guessing
  // whether the ring looked empty a moment ago.
  shm::WakeConsumers(seg_);
  if (RingFull()) refilling_ = false;
}

// Pushes what the pipeline has encoded (feeding it from the hand first);
// returns the numbers it used up (pushed or blocked), 0 when the ring has
// no room.
std::size_t Broker::PushBatch() {
  const std::uint64_t fill = ring_.Size();
  const std::uint64_t room = capacity_ - std::min(fill, capacity_);
  if (room == 0) return 0;
  NoteRefillStart(fill);
  Feed(room);
  const EncodePipeline::Pushed p = pipeline_.PushInto(ring_);
  // relaxed: see hand(); this thread is the only writer.
  hand_count_.fetch_sub(p.consumed, std::memory_order_relaxed);
  // relaxed (both): statistics; see the constructor.
  stats_.keys_produced.fetch_add(p.keys, std::memory_order_relaxed);
  if (p.blocked > 0) {
    stats_.keys_blocked.fetch_add(p.blocked, std::memory_order_relaxed);
  }
  return static_cast<std::size_t>(p.consumed);
}

void Broker::Feed(std::uint64_t room) {
  // Without helpers the loop encodes what fits now, as it pushes it; with
  // them, two chunks ahead per thread so none waits for work.
  const std::uint64_t want =
      pipeline_.helpers() == 0
          ? std::min(room, kBatchKeys)
          : 2 * (pipeline_.helpers() + 1) * pipeline_.chunk_keys();
  while (pipeline_.size() < want && !hand_.empty()) {
    store::Range& r = hand_.front();
    const std::uint64_t n = std::min(r.size(), want - pipeline_.size());
    pipeline_.Add(store::Range{r.first, r.first + n});
    r.first += n;
    // r dangles after this pop: nothing below may touch it.
    if (r.empty()) hand_.pop_front();
  }
}

std::size_t Broker::EncodeClean(const store::Range& r, std::size_t max_keys,
                                std::uint64_t* used) {
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(max_keys, r.size()));
  // batch_ starts zeroed and DrainRing zeroes it again: slots NUL-padded.
  *used = n;
  return broker::EncodeClean(codec_, blocklist_, ring_.Stride(), r.first, n,
                             batch_.data(), batch_numbers_.data());
}

std::size_t Broker::PushEncoded(store::Range& r, std::size_t n,
                                std::uint64_t used) {
  // Only consumers move head, which frees slots, so all n fit; whatever
  // did not fit stays in hand (r.first stops at the first key not pushed).
  const std::size_t m = ring_.Push(batch_.data(), n);
  const std::uint64_t next = m < n ? batch_numbers_[m] : r.first + used;
  const std::uint64_t blocked = next - r.first - m;
  r.first = next;
  // relaxed: a statistic; see the constructor.
  if (blocked > 0)
    stats_.keys_blocked.fetch_add(blocked, std::memory_order_relaxed);
  return m;
}

void Broker::NoteRefillStart(std::uint64_t fill_before) {
  if (refilling_ || fill_before >= low_water_) return;
  refilling_ = true;
  // relaxed: a statistic; see the constructor.
  stats_.refills.fetch_add(1, std::memory_order_relaxed);
}

bool Broker::StartReserve() {
  const std::uint64_t asked = sizer_.Next(Clock::now(), Taken());
  const std::uint64_t mark = Mark();
  const bool check_sync = options_.require_sync;
  const bool recheck = unsafe_;
  // Nothing in hand: the loop could not push meanwhile anyway, so it makes
  // the call itself (no thread to start and schedule), unless another
  // namespace's reservation holds the store lock: that is not waited for.
  if (hand() == 0) {
    std::unique_lock<std::mutex> lock(store_mutex_, std::try_to_lock);
    if (lock.owns_lock()) {
      return TakeAttempt(
          Reserve(std::move(lock), asked, mark, check_sync, recheck));
    }
  }
  in_flight_ = true;
  reserver_.Post([this, asked, mark, check_sync, recheck] {
    // Scoped: without a thread, Post runs this on the loop's own thread.
    struct Reserving {
      Reserving() { t_reserving = true; }
      ~Reserving() { t_reserving = false; }
    } const reserving;
    attempt_ = Reserve(std::unique_lock<std::mutex>(store_mutex_), asked, mark,
                       check_sync, recheck);
  });
  return true;
}

Broker::Attempt Broker::Reserve(std::unique_lock<std::mutex> lock,
                                std::uint64_t asked, std::uint64_t mark,
                                bool check_sync, bool recheck) {
  FORGE_CHECK(lock.owns_lock(), "a reservation without the store lock");
  const Clock::time_point t0 = Clock::now();
  Attempt a;
  a.asked = asked;
  try {
    if (check_sync) {
      // The mode found at the last connect; once unsafe, asked again.
      a.checked_sync = true;
      a.link_before = recheck ? store_.CheckLink() : store_.Link();
    }
    if (!check_sync ||
        a.link_before.durability == shm::StoreDurability::kSync) {
      a.got = store_.ReserveAbove(asked, mark);
    }
  } catch (const store::StoreError& e) {
    a.error = e;
  }
  a.link = store_.Link();
  a.took = Clock::now() - t0;
  return a;
}

bool Broker::Collect(nanoseconds wait) {
  if (!Pending() || !reserver_.WaitIdle(wait)) return true;
  in_flight_ = false;
  const Attempt a = std::move(*attempt_);
  attempt_.reset();
  return TakeAttempt(a);
}

bool Broker::TakeAttempt(const Attempt& a) {
  if (a.checked_sync && !a.error) PublishLink(a.link_before);
  PublishLink(a.link);
  if (a.error) {
    // relaxed: a statistic; see the constructor.
    stats_.store_errors.fetch_add(1, std::memory_order_relaxed);
    if (a.error->transient()) {
      OnTransientError(*a.error);
      return true;
    }
    SetState(shm::BrokerState::kStoreError);
    log::Error(prefix_ +
               std::string("store failed (not retryable), exiting: ") +
               a.error->what());
    return false;
  }
  if (a.checked_sync && !SafeToReserve(a.link_before)) return true;
  const store::Reservation& got = *a.got;
  if (got.regression.happened()) OnRegression(got.regression);
  const store::Range& r = got.range;
  if (options_.require_sync && !r.empty() &&
      a.link.durability != shm::StoreDurability::kSync) {
    // Reconnected inside Reserve to a store that is not synchronous:
    // this grant may not survive a failover, so it is never served.
    DiscardUnsafe(r);
    return true;
  }
  if (backoff_.count() > 0) {
    backoff_ = milliseconds(0);
    const auto line = trouble_.Recovered(Clock::now(), "store recovered");
    if (line) log::Info(prefix_ + *line + ": " + store_.Describe());
    SetState(shm::BrokerState::kRunning);
  }
  if (r.empty()) {
    OnExhausted();
  } else {
    sizer_.Granted(a.asked);
    TakeRange(r, a.took);
  }
  return true;
}

void Broker::TakeRange(const store::Range& r, nanoseconds took) {
  if (exhausted_) {
    exhausted_ = false;
    log::Info(prefix_ + "the store has returned numbers again: " +
              std::to_string(r.size()) + " more keys");
    SetState(shm::BrokerState::kRunning);
  }
  hand_.push_back(r);
  // relaxed: see hand(); this thread is the only writer.
  hand_count_.fetch_add(r.size(), std::memory_order_relaxed);
  // relaxed: statistics; see the constructor.
  stats_.ranges_reserved.fetch_add(1, std::memory_order_relaxed);
  // A returned range lies below the counter: keep the highest seen.
  stats_.store_next.store(
      std::max(r.last, stats_.store_next.load(std::memory_order_relaxed)),
      std::memory_order_relaxed);
  stats_.last_refill_ns.store(static_cast<std::uint64_t>(took.count()),
                              std::memory_order_relaxed);
  stats_.range_size.store(r.size(), std::memory_order_relaxed);
  // relaxed: this thread alone writes the mark, and nothing of the range is
  // pushed before this store (program order); it is read back by this
  // thread and, for display, by others.
  stats_.granted_high.store(std::max(r.last, Mark()),
                            std::memory_order_relaxed);
  if (log::DebugEnabled()) {
    log::Debug(prefix_ + "reserved [" + std::to_string(r.first) + ", " +
               std::to_string(r.last) + ") in " +
               std::to_string(took.count() / 1000) + " us; hand " +
               std::to_string(hand()));
  }
}

void Broker::OnExhausted() {
  recheck_at_ = Clock::now() + options_.exhausted_recheck;
  exhausted_ = true;
  // Consumers stop waiting on an exhausted ring, so the state changes only
  // once the hand is in it too (PushFromHand publishes it then).
  if (hand() == 0) SetState(shm::BrokerState::kExhausted);  // logs a change
  if (std::exchange(exhaustion_warned_, true)) return;      // said it once
  log::Warn(prefix_ + "key space exhausted (" + std::to_string(codec_.space()) +
            " keys of length " + std::to_string(codec_.length()) +
            "): pushing the last " + std::to_string(hand()) +
            " numbers in hand, then only numbers other brokers return");
}

void Broker::BackOff() {
  backoff_ = backoff_.count() == 0
                 ? options_.backoff_min
                 : std::min(backoff_ * 2, options_.backoff_max);
  retry_at_ = Clock::now() + backoff_;
}

bool Broker::SafeToReserve(const store::StoreLinkInfo& link) {
  if (link.durability == shm::StoreDurability::kSync) {
    if (std::exchange(unsafe_, false)) {
      log::Info(prefix_ + "store synchronous again (" + link.detail +
                "): reserving");
    }
    return true;
  }
  BackOff();
  SetState(shm::BrokerState::kStoreUnsafe);
  if (!std::exchange(unsafe_, true)) {
    log::Warn(prefix_ + "STORE_REQUIRE_SYNC: not reserving: store " +
              link.host + " durability is " +
              shm::DurabilityName(link.durability) + " (" + link.detail +
              "), not sync; serving the " + std::to_string(hand()) +
              " numbers in hand and the ring, checking again with back-off");
  }
  return false;
}

void Broker::PublishLink(const store::StoreLinkInfo& link) {
  if (published_link_ == link) return;
  const bool durability_changed =
      !published_link_ || published_link_->durability != link.durability;
  published_link_ = link;
  shm::WriteStoreLink(seg_.store_link(), link.host);
  // relaxed: statistics; see the constructor.
  stats_.store_reconnects.store(link.reconnects, std::memory_order_relaxed);
  stats_.durability.store(static_cast<std::uint32_t>(link.durability),
                          std::memory_order_relaxed);
  if (durability_changed) {
    log::Info(prefix_ +
              "store durability: " + shm::DurabilityName(link.durability) +
              " (" + link.detail + ") on " + link.host);
  }
}

void Broker::OnTransientError(const store::StoreError& e) {
  BackOff();
  SetState(shm::BrokerState::kStoreError);
  const auto line = trouble_.Failed(
      Clock::now(), e.what(),
      "will retry in " + std::to_string(backoff_.count()) + " ms; " +
          std::to_string(hand()) + " numbers still in hand");
  if (line) log::Warn(prefix_ + *line);
}

void Broker::DiscardUnsafe(const store::Range& r) {
  AddWasted(r.size());
  // relaxed: as in TakeRange; the range was granted to this broker, so the
  // mark covers it even though none of it is served.
  stats_.granted_high.store(std::max(r.last, Mark()),
                            std::memory_order_relaxed);
  log::Warn(prefix_ + "discarding " + store::RangeText(r) +
            " as a gap: granted on a connection that is not synchronous "
            "(STORE_REQUIRE_SYNC)");
}

std::uint64_t Broker::Mark() const {
  // relaxed: only this thread writes it (TakeRange).
  return stats_.granted_high.load(std::memory_order_relaxed);
}

void Broker::OnRegression(const store::Regression& r) {
  // relaxed: a statistic; see the constructor.
  stats_.store_regressions.fetch_add(1, std::memory_order_relaxed);
  log::Error(prefix_ + "store counter went back from " +
             std::to_string(r.skipped.last) + " to " +
             std::to_string(r.skipped.first) +
             " (writes lost in a failover, or a restored backup): skipped " +
             store::RangeText(r.skipped) + " and " + std::to_string(r.dropped) +
             " returned numbers, no key repeated; other brokers' numbers "
             "lost with those writes are not covered (docs/scaling-out.md)");
}

void Broker::ReplaceBlocklist(const keys::BlocklistSpec& spec) {
  if (spec == blocklist_spec_) return;
  const std::string was = keys::DescribeBlocklist(blocklist_spec_);
  // The pipeline's keys went through the old list: back into the hand
  // (in front, in order), encoded again through the new one.
  const std::vector<store::Range> unwound = pipeline_.Unwind();
  hand_.insert(hand_.begin(), unwound.begin(), unwound.end());
  blocklist_spec_ = spec;
  blocklist_ = keys::Blocklist::Of(spec);
  pipeline_.SetBlocklist(blocklist_);
  // relaxed: a statistic this thread alone writes.
  const std::uint64_t blocked_before =
      stats_.keys_blocked.load(std::memory_order_relaxed);
  // The ring's keys were filtered by the old list and are not issued yet:
  // take them back (a claim, so each is ours alone) and push them again
  // through the new one. Whatever does not fit goes back into the hand.
  std::vector<store::Range> runs;
  const std::uint64_t taken = DrainRing(&runs);
  if (PutBack(runs) > 0) {
    for (const store::Range& r : runs) {
      if (r.empty()) continue;
      hand_.push_front(r);
      // relaxed: see hand(); this thread is the only writer.
      hand_count_.fetch_add(r.size(), std::memory_order_relaxed);
    }
  }
  const std::uint64_t dropped =
      stats_.keys_blocked.load(std::memory_order_relaxed) - blocked_before;
  log::Info(prefix_ + "blocklist " + was + " -> " +
            keys::DescribeBlocklist(spec) + ": " + std::to_string(taken) +
            " ring keys checked again, " + std::to_string(dropped) +
            " of them now blocked");
}

void Broker::AddWasted(std::uint64_t n) {
  // relaxed: a statistic; see the constructor.
  stats_.keys_wasted.fetch_add(n, std::memory_order_relaxed);
}

// See "Zero-waste stop" in broker.h. From here on nothing is pushed.
void Broker::ReturnUnpublished() {
  // The numbers in the pipeline, encoded or not, are the hand's first.
  std::vector<store::Range> back = pipeline_.Unwind();
  back.insert(back.end(), hand_.begin(), hand_.end());
  const std::uint64_t in_hand = hand();
  hand_.clear();
  // relaxed: see hand(); this thread is the only writer.
  hand_count_.store(0, std::memory_order_relaxed);
  const auto workers =
      static_cast<std::uint32_t>(shm::LiveWorkerPids(seg_).size());
  // A damaged segment's mapping may be zero pages (shm/bus_guard.h): what it
  // shows is garbage, so nothing is drained from it or put back into it.
  const std::string damage = seg_.Damage();
  const bool ours = damage.empty() && FilledFrom(seg_, store_);
  std::vector<store::Range> ring_runs;
  const std::uint64_t from_ring =
      workers == 0 && ours ? DrainRing(&ring_runs) : 0;
  back.insert(back.end(), ring_runs.begin(), ring_runs.end());
  const std::string where =
      Sources(in_hand, from_ring, workers,
              ours ? ""
              : damage.empty()
                  ? "id " + shm::StoreIdOf(seg_.header()) + ", not this one"
                  : "segment damaged: " + damage);
  back = Coalesce(std::move(back));
  const std::uint64_t total = store::TotalOf(back);
  if (total == 0) {
    log::Info(prefix_ + "stopping: nothing to return to the store (" + where +
              ")");
    return;
  }
  bool regressed = false;
  const Status returned = ReturnWithin(back, &regressed);
  if (regressed) {
    // Reserved before the counter went back: maybe another broker's now.
    // The hand becomes a gap; the ring's keys go back where they were.
    const std::uint64_t put_back = from_ring - PutBack(ring_runs);
    AddWasted(total - put_back);
    log::Warn(prefix_ + "stopping: did not return " + std::to_string(total) +
              " unpublished numbers (" + where +
              ") to a store whose counter went back; " +
              std::to_string(put_back) + " put back into the ring, " +
              std::to_string(total - put_back) + " become a gap");
    return;
  }
  if (returned.ok()) {
    log::Info(prefix_ + "stopping: returned " + std::to_string(total) +
              " unpublished numbers to the store (" + where + ")");
    return;
  }
  // Nothing recorded: the ring's keys are still ours alone; back they go.
  const std::uint64_t put_back = returned.code() == Code::kUnavailable
                                     ? from_ring - PutBack(ring_runs)
                                     : 0;
  AddWasted(total - put_back);
  log::Warn(prefix_ + "stopping: could not return " + std::to_string(total) +
            " unpublished numbers (" + where + "); " +
            std::to_string(put_back) + " put back into the ring, " +
            std::to_string(total - put_back) +
            " become a gap: " + returned.message());
}

// Pushes numbers drained from the ring back into it (encoded again), for
// the frontend or the next broker; returns how many did not fit (none,
// unless something else pushed meanwhile, which only a producer can).
std::uint64_t Broker::PutBack(std::vector<store::Range>& runs) {
  std::uint64_t left = 0;
  for (store::Range& r : runs) {
    while (!r.empty()) {
      std::uint64_t used = 0;
      const std::size_t n = EncodeClean(r, kBatchKeys, &used);
      const std::size_t m = PushEncoded(r, n, used);
      if (m < n) break;
    }
    left += r.size();
  }
  shm::WakeConsumers(seg_);
  return left;
}

// Pops every key left in the ring (a consumer's claim, so each is ours
// alone) and appends their numbers as ranges; returns how many decoded.
std::uint64_t Broker::DrainRing(std::vector<store::Range>* out) {
  std::vector<std::uint64_t> numbers;
  std::uint64_t bad = 0;
  for (;;) {
    const std::size_t n = ring_.TryPopBatch(batch_.data(), kBatchKeys);
    if (n == 0) break;
    const auto length = static_cast<std::uint32_t>(codec_.text_length());
    for (std::size_t i = 0; i < n; ++i) {
      const std::string_view text = shm::KeyTextAt(batch_.data(), i, length);
      if (const auto number = codec_.Decode(text)) {
        numbers.push_back(*number);
      } else {
        ++bad;
      }
    }
  }
  // Popped keys are NUL-padded too, but EncodeClean relies on it: make sure.
  std::fill(batch_.begin(), batch_.end(), shm::Key{});
  if (bad > 0) {
    AddWasted(bad);
    log::Warn(prefix_ + "drained " + std::to_string(bad) +
              " ring keys that do not decode with this store's format; "
              "they are dropped (a gap)");
  }
  const std::vector<store::Range> runs = RunsOf(std::move(numbers));
  out->insert(out->end(), runs.begin(), runs.end());
  return store::TotalOf(runs);
}

// Store::Return, retrying transient errors with back-off until
// return_budget is spent. When it gave up, the last error: kUnavailable if
// every attempt failed transiently (RangeStore: then nothing was
// recorded), else kIoError (the outcome is unknown).
Status Broker::ReturnWithin(const std::vector<store::Range>& ranges,
                            bool* regressed) {
  const Clock::time_point deadline = Clock::now() + options_.return_budget;
  milliseconds backoff = options_.backoff_min;
  for (;;) {
    try {
      const std::lock_guard<std::mutex> lock(store_mutex_);
      const store::Regression r = store_.ReturnAbove(ranges, Mark());
      *regressed = r.happened();
      if (*regressed) OnRegression(r);
      return Status();
    } catch (const store::StoreError& e) {
      // relaxed: a statistic; see the constructor.
      stats_.store_errors.fetch_add(1, std::memory_order_relaxed);
      if (!e.transient()) return Status::IoError(e.what());
      if (Clock::now() + backoff >= deadline) {
        return Status::Unavailable(e.what());
      }
    }
    // A second signal only shortens it.
    (void)SleepInterruptibly(signals_, backoff);
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

}  // namespace forge::broker
