// broker/broker.h — the refill loop: store ranges in, encoded keys out.
//
// Contract (docs/design.md §2, §4, §5)
//   * One Broker drives one producer Segment (the caller holds its flock)
//     and one RangeStore, from one thread (the loop's). It is the ring's
//     only producer: other threads encode and reserve for it, only the
//     loop's thread pushes.
//   * Durable before visible: the only numbers ever pushed are those that
//     RangeStore::Reserve returned, i.e. already committed. Numbers that
//     were reserved but not pushed when the process dies become gaps.
//   * "The hand": reserved numbers not yet in the ring. The broker keeps
//     at least (capacity - low_water) + range_size numbers in hand, so
//     refilling the ring from low water to full never waits on the store;
//     the next Reserve happens while the ring still has keys.
//   * Reserve off the refill path (issue 18): each reservation (with the
//     STORE_REQUIRE_SYNC check before it and Link() after it) runs on the
//     broker's one long-lived reserver thread (job_thread.h: made at the
//     first such reservation, every signal blocked, handed each job
//     through a condition variable), while the loop keeps pushing from the
//     hand (with nothing in hand, and the store lock free, the loop makes
//     the call itself: it could not push meanwhile anyway); at most one is
//     in flight. The loop takes its
//     outcome when it is done (Step), so "durable before visible" and the
//     regression mark hold as before: the range enters the hand, and the
//     mark is raised, on the loop's thread before any key of it is pushed.
//     With nothing to push (ring full or hand empty) while one is in
//     flight, Step waits for it up to kPendingSlice (1 ms) and says kBusy,
//     so the loop neither spins nor sleeps past its completion. A stop
//     waits for the reservation in flight (the store's stop flag cuts it
//     short) and returns its range with the hand; destroying the Broker
//     lets it end and joins the thread. Store calls of the
//     loop's own thread and of the reserver thread never overlap: both
//     hold options.store_mutex (a Fleet's, shared by every broker on its
//     store connection) or the broker's own lock. WhileStoreWaits does
//     nothing on the reserver thread (the loop keeps beating itself).
//   * Encode (issue 18 §2, encode_pipeline.h): numbers leave the hand
//     through an EncodePipeline. With encode_threads 1 the loop encodes
//     what fits the ring as it pushes it (one batch of 1024 at most).
//     With more, encode_threads - 1 helper threads (the broker's own, or
//     a Fleet's shared by its namespaces) encode chunks ahead — two per
//     thread, of capacity/4 numbers clamped to 256..4096 — and the loop
//     encodes whichever chunk it needs that no helper has begun, then
//     pushes the chunks in number order. Numbers in the pipeline, encoded
//     or not, are still the hand: counted in hand(), returned at a stop
//     (Finish), encoded again after ReplaceBlocklist; blocked ones are
//     counted when the key after them is pushed, as before.
//   * Range size (issue 18 §3, range_sizer.h): RANGE_SIZE fixed, or sized
//     to the demand between RANGE_SIZE_MIN and RANGE_SIZE_MAX; the hand
//     target grows with it.
//   * low_water = capacity - min(capacity / 2, 8192) (published in
//     BrokerStats::low_water): half the ring, but a refill of a large ring
//     is a short burst of at most 8 Ki keys, not half of it at once.
//   * Idle (ring full, hand stocked) the broker sleeps in
//     shm::WaitForLowWater; consumers wake it when the fill drops below
//     low water. Every sleep is bounded by idle_wait, and the heartbeat is
//     refreshed on every wake and while a store call waits, so it is never
//     older than about idle_wait.
//   * Store errors: a transient one sets state kStoreError and retries with
//     exponential back-off while the hand is still pushed. Logging (issue
//     11.8, store_trouble.h): one WARN line when the errors start, at most
//     one per store_log_every (a minute) while they last, one INFO line
//     "store recovered after …" when a Reserve succeeds again; a non-transient
//     one stops the loop (Run returns 2; the hand becomes a gap). An empty
//     range means the key space is used up: state kExhausted, the hand is
//     still pushed, the heartbeat goes on, and the store is asked again
//     only every exhausted_recheck (numbers other brokers return are
//     handed out again; then the state goes back to kRunning).
//   * Damaged segment: every damage_check_every (100 ms; 1 s for a
//     namespace other than default, fleet.h) and at once after a
//     SIGBUS fault (shm/bus_guard.h turns it into zero pages), Run asks
//     Segment::Damage(); when the file was truncated, resized, deleted or
//     replaced, it logs one ERROR line and returns 2 without touching the
//     segment again (the hand becomes a gap). Restarting the broker
//     replaces such a segment (segment.h).
//   * Zero-waste stop: when `stop` is seen, the broker stops pushing and
//     gives back to the store (RangeStore::Return, one transaction) the
//     numbers it never published: the hand, and — only when no frontend
//     worker is attached (every WorkerSlot pid 0 or dead, as seen from this
//     pid namespace) and the segment's recorded store identity is this
//     store's (header store_id == format().store_id: every key in the ring
//     came from this store, see segment.h "Store identity") — every key
//     still in the ring, popped as a consumer and decoded.
//     Keys leave circulation (popped; the hand is simply never pushed)
//     BEFORE they are recorded, so a crash in between leaves a gap, never
//     a duplicate; a worker that attaches meanwhile just finds the ring
//     empty (a pop is a claim).
//     Transient Return errors are retried with back-off for at most
//     return_budget (the store spends at most that long after the stop
//     signal in all, StoreLimits::stop_budget, so a stuck store cannot
//     hold the exit); then one log line says how many numbers become a
//     gap and Run still returns 0.
//     Keys taken out of the ring are never lost to a failed Return: when
//     the store recorded nothing (a transient error), they are put back
//     into the ring; only the hand becomes a gap.
//   * Blocklist (issue 14, keys/blocklist.h): numbers whose keys the
//     namespace's blocklist blocks are skipped at encode time (never
//     pushed, never returned: used up like issued ones) and counted in
//     BrokerStats::keys_blocked, so workers do no extra work.
//     ReplaceBlocklist (the fleet calls it when the store's policy
//     generation moves) applies a new list to everything not yet issued:
//     the hand, and the keys already in the ring, which it takes back out
//     (a consumer's claim) and pushes again minus the newly blocked ones.
//   * Regression guard (issue 16, docs/design.md §2): BrokerStats::
//     granted_high, kept in the segment so it survives broker restarts, is
//     the highest number the store ever granted this broker; it is raised
//     before any key of a new range is pushed, and passed to every
//     ReserveAbove/ReturnAbove as the mark. When the store's counter came
//     back below it (writes lost in a failover, a restored backup) the
//     store skips to the mark in the same transaction; the broker logs one
//     ERROR line naming the gap, counts BrokerStats::store_regressions and
//     keeps serving. At stop, a Return that finds the counter below the
//     mark records nothing: the hand becomes a gap (counted as wasted),
//     ring keys are put back into the ring.
//     BrokerStats::range_size is the size of the latest reservation.
//   * BrokerStats::keys_wasted counts the numbers this broker knowingly
//     discards: a failed Return at stop, the hand at a fatal store error,
//     ring keys that do not decode. Numbers lost to a crash or kill -9 (the
//     hand, keys claimed but not sent, a commit with unknown outcome) are
//     gaps it cannot count. Returned numbers are not waste.
//   * Store link (issue 16): after every store call the broker publishes
//     RangeStore::Link() in its segment when it changed: the host
//     (shm::WriteStoreLink), BrokerStats::store_reconnects and durability;
//     a change of durability logs one INFO line
//       "store durability: sync (synchronous_standby_names=…, 1 sync …)".
//   * require_sync (STORE_REQUIRE_SYNC): while Link().durability is not
//     kSync the broker does not reserve: state kStoreUnsafe, one WARN line
//     with the reason, the durability checked again (CheckLink) with the
//     store-error back-off; the hand and the ring keep serving. A range
//     granted on a connection that turned out not synchronous (the store
//     reconnected inside Reserve) is discarded as a gap (keys_wasted),
//     never served.
//   * Not thread-safe: all methods are called from the thread that runs
//     the loop (other threads may only read the shared-memory stats and
//     set the stop flag); the reserver and the encode helpers are the
//     broker's own business.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/signals.h"
#include "broker/encode_pipeline.h"
#include "broker/job_thread.h"
#include "broker/range_sizer.h"
#include "broker/store_trouble.h"
#include "config/config.h"
#include "keys/key_codec.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "store/range_store.h"

namespace forge::broker {

struct BrokerOptions {
  // Numbers per Reserve (one transaction); 0 (config::Config::
  // kAutoRangeSize): sized to the demand between range_size_min and
  // range_size_max (range_sizer.h).
  std::uint64_t range_size = 1000;
  std::uint64_t range_size_min = 1000;
  std::uint64_t range_size_max = 1000000;
  // Brokers that share one store connection (a Fleet) share this lock; the
  // caller keeps it alive. nullptr: each broker has its own.
  std::mutex* store_mutex = nullptr;
  // Longest sleep: bounds the heartbeat age and how long a stop signal can
  // wait (shm::WaitForLowWater sleeps on through EINTR until its timeout).
  std::chrono::milliseconds idle_wait{100};
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{5000};
  // How long a stopping broker retries returning its numbers; also the
  // store's StoreLimits::stop_budget (OpenStoreRetrying), so a stuck store
  // cannot hold the exit for longer.
  std::chrono::milliseconds return_budget{1000};
  // How often an exhausted broker asks the store for returned numbers.
  std::chrono::milliseconds exhausted_recheck{1000};
  // STORE_TIMEOUT_MS: the store's own limit per call (store_limits.h).
  std::chrono::milliseconds store_timeout{2000};
  // While store errors last, at most one log line per this interval.
  std::chrono::milliseconds store_log_every{60000};
  // How often the loop asks the segment whether its file was damaged
  // (Segment::Damage: two syscalls); a fault in between is seen at once.
  std::chrono::milliseconds damage_check_every{100};
  // STORE_REQUIRE_SYNC: reserve only while the store's durability is
  // kSync (issue 16; see the contract).
  bool require_sync = false;
  // ENCODE_THREADS: threads that encode, the loop's own included (see
  // "Encode" in the contract); 1 encodes on the loop's thread alone.
  std::uint32_t encode_threads = 1;
  // Helper threads shared by several brokers (a Fleet's; the caller keeps
  // them alive). Empty: the broker makes encode_threads - 1 of its own.
  std::vector<JobThread*> encode_helpers;

  static BrokerOptions FromConfig(const config::Config& cfg);
};

// ENCODE_THREADS auto: the CPUs, at most kMaxAutoEncodeThreads.
inline constexpr std::uint32_t kMaxAutoEncodeThreads = 4;
std::uint32_t AutoEncodeThreads();

// What Step() found: call again now, or sleep (Idle) first, or give up.
enum class StepResult { kBusy, kIdle, kFatal };

// Longest wait of one Step for the reservation in flight (see the contract).
inline constexpr std::chrono::milliseconds kPendingSlice{1};

// The segment a broker on `store` produces into: capacity from the config,
// key format from the store (the store wins; OpenStore already refused a
// config that disagrees with it), store text = store.Describe(), store_id
// = the store's identity.
shm::SegmentSpec SegmentSpecFor(const config::Config& cfg,
                                const store::RangeStore& store);
// The same with the ring capacity given (a namespace's, fleet.h).
shm::SegmentSpec SegmentSpecFor(std::uint64_t capacity,
                                const store::RangeStore& store);

// OpenStore, retrying transient errors with the back-off of `options`
// (logged as a StoreTrouble run: one line, then at most one per
// store_log_every) until it succeeds or `stop` is set (then returns
// nullptr). A non-transient StoreError is thrown to the caller. The store
// gets StoreLimits{options.store_timeout, &stop, …, on_wait}, so `stop`
// also cuts its calls short (store_limits.h). With `signals` (the process's
// stop signals, Between::kDelivered) a stop that cut a call short ends the
// back-off sleep at once.
std::unique_ptr<store::RangeStore> OpenStoreRetrying(
    const config::Config& cfg, const BrokerOptions& options,
    const std::atomic<bool>& stop, std::function<void()> on_wait = {},
    Signals* signals = nullptr);

// Sleeps up to `d`; a signal ends the sleep early on purpose. With
// `signals` it returns the signal that ended it (0: the time ran out), and
// one that arrived before the call ends it at once (base/signals.h);
// without (tests that stop the loop by a flag) EINTR ends it.
int SleepInterruptibly(Signals* signals, std::chrono::nanoseconds d);

// Calls `attempt` until it returns (true) or `stop` is set (false). A
// transient StoreError is retried with the back-off of `options` and
// logged as a StoreTrouble run named `trouble_text` (one line, then at
// most one per store_log_every; `recovered_text` once it works again); a
// non-transient one is thrown to the caller. With `signals`, a stop that
// cut a store call short ends the back-off sleep at once.
[[nodiscard]] bool RetryTransient(const std::string& trouble_text,
                                  const std::string& recovered_text,
                                  const BrokerOptions& options,
                                  const std::atomic<bool>& stop,
                                  Signals* signals,
                                  const std::function<void()>& attempt);

class Broker {
 public:
  // Publishes pid, start time, low water and state kStarting in the
  // segment's BrokerStats. `store` and `seg` must outlive the Broker.
  Broker(const BrokerOptions& options, store::RangeStore& store,
         shm::Segment& seg);
  Broker(const config::Config& cfg, store::RangeStore& store,
         shm::Segment& seg);

  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;
  // Waits for the reservation in flight and the chunks helpers are
  // encoding (their numbers become a gap: Finish returns them).
  ~Broker();

  // Loops Step()/Idle() until `stop` is set (returns the unpublished
  // numbers, then 0, state kStopped) or the store fails for good (returns
  // 2, state stays kStoreError) or the segment is damaged (returns 2).
  // With `signals` (base/signals.h, Between::kDelivered; `stop` is then
  // its stop_flag()) every sleep of the loop takes them: a signal that
  // arrived after the loop looked at `stop` ends the next sleep at once
  // instead of after it, and each SIGHUP logs one line saying it was
  // ignored. Without, only `stop` stops the loop (tests).
  int Run(const std::atomic<bool>& stop, Signals* signals = nullptr);

  // One pass: heartbeat, take the outcome of the reservation in flight,
  // push from the hand, start a Reserve (unless one is in flight, backing
  // off or exhausted), push again; with nothing to push, wait up to
  // kPendingSlice for the reservation in flight.
  StepResult Step();

  // Run is made of these; a Fleet (fleet.h) drives several brokers with
  // them from one thread. Begin: state kRunning, `signals` as in Run.
  // Tick: the damage check, then Step; kFatal after the one ERROR line
  // (the hand counted as wasted). Finish: the zero-waste stop (returns
  // the unpublished numbers), state kStopped.
  void Begin(Signals* signals);
  StepResult Tick();
  void Finish();
  // How the loop may sleep now: at most `wait`, and, when
  // until_low_water, until a consumer wakes this broker's segment.
  struct IdlePlan {
    std::chrono::nanoseconds wait;
    bool until_low_water;
  };
  IdlePlan PlanIdle() const;
  shm::Segment& segment() { return seg_; }
  // Each SIGHUP logs one line; returns `sig`.
  static int NoteSignal(int sig);

  // Sleeps until there may be work: a consumer wake below low water, the
  // end of a back-off, or idle_wait. Returns early on a signal (EINTR).
  void Idle();

  // Reserved numbers not yet pushed (readable from any thread).
  std::uint64_t hand() const {
    // relaxed: a statistic; the loop thread is its only writer.
    return hand_count_.load(std::memory_order_relaxed);
  }
  bool exhausted() const { return exhausted_; }
  // From now on keys `spec` blocks are skipped, those in the ring included
  // (see the contract). A spec equal to the current one changes nothing.
  void ReplaceBlocklist(const keys::BlocklistSpec& spec);
  // Called while a store call waits (StoreLimits::on_wait, about every
  // 50 ms): on the loop's thread the heartbeat goes on (the broker is
  // alive) and the ring is still refilled from the hand, so a stalled
  // store costs nothing until the hand is used up; on the reserver
  // thread it does nothing. Touches nothing the store call uses.
  void WhileStoreWaits();
  // Times the loop went round (for tests: an idle broker goes round a
  // few times per second, not thousands).
  std::uint64_t iterations() const {
    // relaxed: a statistic read by a test thread; no data depends on it.
    return iterations_.load(std::memory_order_relaxed);
  }

 private:
  using Clock = std::chrono::steady_clock;

  bool SegmentDamaged();  // true after one ERROR line saying how
  void Heartbeat();
  void SetState(shm::BrokerState state);
  bool RingFull() const;
  bool CanPush() const;
  bool WantReserve() const;
  bool BackingOff() const;
  void PushFromHand();
  std::size_t PushBatch();
  // Moves numbers from hand_ into the encode pipeline: what fits the ring's
  // `room` (one batch at most) without helpers, chunks ahead for each
  // helper with them. They stay in hand() until pushed.
  void Feed(std::uint64_t room);
  // Encodes up to max_keys numbers from r.first on into batch_
  // (broker::EncodeClean), dropping blocked ones; batch_numbers_[i] is
  // key i's number. Returns the keys kept; *used: the numbers looked at.
  std::size_t EncodeClean(const store::Range& r, std::size_t max_keys,
                          std::uint64_t* used);
  // Pushes batch_[0, n) whose numbers start at r.first; advances r.first
  // past the pushed keys and the blocked numbers before them, counts
  // those as blocked, and returns the keys pushed.
  std::size_t PushEncoded(store::Range& r, std::size_t n, std::uint64_t used);
  void NoteRefillStart(std::uint64_t fill_before);
  // What one reservation (run on the reserver thread) found.
  struct Attempt {
    std::uint64_t asked = 0;
    bool checked_sync = false;         // require_sync: link_before was asked
    store::StoreLinkInfo link_before;  // durability before reserving
    std::optional<store::Reservation> got;  // unset: not reserved
    std::optional<store::StoreError> error;
    store::StoreLinkInfo link;  // Link() after the calls
    Clock::duration took{};
  };
  // Starts the next reservation on the reserver thread, or, with nothing
  // in hand, makes it now; false on a non-transient error.
  [[nodiscard]] bool StartReserve();
  // The store calls of one reservation; `lock` holds the store lock.
  Attempt Reserve(std::unique_lock<std::mutex> lock, std::uint64_t asked,
                  std::uint64_t mark, bool check_sync, bool recheck);
  // Takes the outcome of the reservation in flight once it is done,
  // waiting at most `wait`; false on a non-transient error.
  [[nodiscard]] bool Collect(std::chrono::nanoseconds wait);
  [[nodiscard]] bool TakeAttempt(const Attempt& a);
  bool Pending() const { return in_flight_; }
  std::uint64_t TargetHand() const;
  // Keys consumers took so far (pushed minus what the ring holds).
  std::uint64_t Taken() const;
  void TakeRange(const store::Range& r, std::chrono::nanoseconds took);
  void OnExhausted();
  void OnTransientError(const store::StoreError& e);
  // require_sync: false (state kStoreUnsafe, back-off set) while the
  // store's durability, `link` as found before reserving, is not kSync.
  [[nodiscard]] bool SafeToReserve(const store::StoreLinkInfo& link);
  void BackOff();
  void PublishLink(const store::StoreLinkInfo& link);
  // require_sync: a range granted on a connection that is not synchronous
  // becomes a gap (wasted; the mark still covers it).
  void DiscardUnsafe(const store::Range& r);
  // The regression guard's mark: BrokerStats::granted_high.
  std::uint64_t Mark() const;
  // One ERROR line naming the gap; counts store_regressions.
  void OnRegression(const store::Regression& r);
  void ReturnUnpublished();
  [[nodiscard]] std::uint64_t DrainRing(std::vector<store::Range>* out);
  // *regressed: whether the store's counter was found below the mark (then
  // nothing was recorded and the status is OK).
  Status ReturnWithin(const std::vector<store::Range>& ranges, bool* regressed);
  // Pushes `runs` back into the ring (encoded again, blocked ones
  // skipped); each run is left holding what did not fit. Returns that.
  [[nodiscard]] std::uint64_t PutBack(std::vector<store::Range>& runs);
  void AddWasted(std::uint64_t n);

  BrokerOptions options_;
  // "" for namespace default, else "namespace NAME: ": every log line of
  // this broker starts with it.
  std::string prefix_;
  Signals* signals_ = nullptr;  // Run's, or none
  store::RangeStore& store_;
  shm::Segment& seg_;
  shm::BrokerStats& stats_;
  shm::Ring& ring_;
  keys::KeyCodec codec_;
  keys::BlocklistSpec blocklist_spec_;
  keys::Blocklist blocklist_;
  std::uint64_t capacity_;
  std::uint64_t low_water_;
  RangeSizer sizer_;

  std::deque<store::Range> hand_;  // not yet in the pipeline
  // hand_'s numbers plus the pipeline's (pipeline_.size()).
  std::atomic<std::uint64_t> hand_count_{0};
  std::vector<shm::Key> batch_;  // encode buffer (kBatchKeys keys), reused
  std::vector<std::uint64_t> batch_numbers_;  // the number of each key

  bool exhausted_ = false;
  bool exhaustion_warned_ = false;
  Clock::time_point recheck_at_{};        // when exhausted: next Reserve
  bool refilling_ = false;                // a refill episode is in progress
  std::chrono::milliseconds backoff_{0};  // 0 when the store is healthy
  StoreTrouble trouble_;
  bool unsafe_ = false;  // require_sync and the store is not synchronous
  std::optional<store::StoreLinkInfo> published_link_;  // PublishLink's
  Clock::time_point retry_at_{};
  std::atomic<std::uint64_t> iterations_{0};
  Clock::time_point next_damage_check_{};
  std::mutex own_store_mutex_;  // when options.store_mutex is nullptr
  std::mutex& store_mutex_;
  // Encode helpers when options.encode_helpers is empty.
  std::vector<std::unique_ptr<JobThread>> own_helpers_;
  // After codec_, blocklist_ and the helpers: destroyed before them,
  // waiting for the chunks a helper is encoding.
  EncodePipeline pipeline_;
  // The reservation in flight: the reserver thread writes attempt_ and
  // goes idle; the loop reads it after JobThread::WaitIdle said so.
  bool in_flight_ = false;
  std::optional<Attempt> attempt_;
  // Declared last: destroyed first, letting the reservation in flight end
  // and joining the thread, which uses the members above.
  JobThread reserver_;
};

}  // namespace forge::broker
