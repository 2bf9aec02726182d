// In-process tests of the refill loop: a real segment, a fake RangeStore
// whose failures and key space the test controls.
#include "broker/broker.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "base/log.h"
#include "shm/notify.h"
#include "shm/workers.h"
#include "tests/support/process.h"

namespace forge::broker {
namespace {

using forge::testing::ShmName;
using forge::testing::WaitUntil;
using std::chrono::milliseconds;
using State = shm::BrokerState;

constexpr std::uint64_t kCapacity = 1024;
constexpr std::uint64_t kRange = 100;
constexpr auto kDeadline = milliseconds(5000);

// A store with a counter, a returned list (handed out first, lowest
// first, as RangeStore promises), scriptable failures and an optional end.
class FakeStore : public store::RangeStore {
 public:
  FakeStore(int key_length, std::uint64_t end) : end_(end) {
    format_.key_length = key_length;
    format_.order = keys::KeyOrder::kSequential;
  }

  const store::StoreFormat& format() const override { return format_; }
  std::string Describe() const override { return "fake:test"; }
  const std::string& namespace_name() const override { return ns_; }
  std::vector<std::string> Namespaces() override { return {ns_}; }
  keys::BlocklistSpec ReadBlocklist() override { return format_.blocklist; }
  void WriteBlocklist(const keys::BlocklistSpec& spec) override {
    format_.blocklist = spec;
    ++generation_;
  }
  std::uint64_t PolicyGeneration() override { return generation_; }
  std::unique_ptr<store::RangeStore> OpenNamespace(
      const std::string&, const store::StoreFormat*) override {
    return nullptr;
  }
  void SetStoreId(const std::string& id) { format_.store_id = id; }
  void SetPolicy(const keys::KeyPolicy& policy,
                 const keys::BlocklistSpec& blocklist) {
    format_.policy = policy;
    format_.blocklist = blocklist;
  }
  std::uint64_t Next() override {
    std::lock_guard<std::mutex> lock(mu_);
    return next_;
  }

  store::Reservation ReserveAbove(std::uint64_t count,
                                  std::uint64_t mark) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    released_.wait(lock, [&] { return !held_; });
    --waiting_;
    ++calls_;
    reserve_tids_.insert(::gettid());
    if (fatal_) throw store::StoreError("fake: disk image is malformed", false);
    if (transient_failures_ > 0) {
      --transient_failures_;
      throw store::StoreError("fake: database is locked", true);
    }
    store::Reservation out;
    out.regression = RaiseToMark(mark);
    store::Range r{next_, std::min(next_ + count, end_)};
    if (!returned_.empty()) {
      store::Range& low = returned_.front();
      r = store::Range{low.first, low.first + std::min(count, low.size())};
      low.first = r.last;
      if (low.empty()) returned_.erase(returned_.begin());
    }
    next_ = std::max(next_, r.last);
    committed_.push_back(r);
    out.range = r;
    return out;
  }

  store::Regression ReturnAbove(const std::vector<store::Range>& ranges,
                                std::uint64_t mark) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++return_calls_;
    if (return_failure_) throw *return_failure_;
    store::Regression regression = RaiseToMark(mark);
    if (regression.happened()) {
      regression.not_returned = store::TotalOf(ranges);
      return regression;
    }
    for (const store::Range& r : ranges) {
      if (!r.empty()) returned_.push_back(r);
    }
    std::sort(returned_.begin(), returned_.end(),
              [](const store::Range& a, const store::Range& b) {
                return a.first < b.first;
              });
    return {};
  }

  store::Advanced Advance(std::uint64_t to) override {
    std::lock_guard<std::mutex> lock(mu_);
    store::Advanced a{next_, to, store::TotalOf(returned_)};
    next_ = to;
    returned_.clear();
    return a;
  }

  // The counter goes back to `next` (a lost write, a restored backup).
  void SetBack(std::uint64_t next) {
    std::lock_guard<std::mutex> lock(mu_);
    next_ = next;
  }

  // Every later Return throws `e`.
  void FailReturns(const store::StoreError& e) {
    std::lock_guard<std::mutex> lock(mu_);
    return_failure_ = e;
  }
  int return_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return return_calls_;
  }
  std::vector<store::Range> returned() {
    std::lock_guard<std::mutex> lock(mu_);
    return returned_;
  }

  // While held, every Reserve waits in the store until ReleaseReserves.
  void HoldReserves() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void ReleaseReserves() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    released_.notify_all();
  }
  // Reserve calls waiting now.
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

  void FailTransiently(int times) {
    std::lock_guard<std::mutex> lock(mu_);
    transient_failures_ = times;
  }
  void FailForGood() {
    std::lock_guard<std::mutex> lock(mu_);
    fatal_ = true;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // The threads (kernel ids, never reused soon) Reserve was called on.
  std::set<pid_t> reserve_tids() {
    std::lock_guard<std::mutex> lock(mu_);
    return reserve_tids_;
  }
  // True if n lies in a range Reserve returned (i.e. was committed).
  bool Committed(std::uint64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const store::Range& r : committed_) {
      if (n >= r.first && n < r.last) return true;
    }
    return false;
  }

 private:
  std::string ns_ = "default";
  store::StoreFormat format_;
  std::uint64_t generation_ = 0;
  std::mutex mu_;
  std::condition_variable released_;
  bool held_ = false;
  int waiting_ = 0;
  std::uint64_t next_ = 0;
  std::uint64_t end_;
  int transient_failures_ = 0;
  bool fatal_ = false;
  int calls_ = 0;
  std::set<pid_t> reserve_tids_;
  std::vector<store::Range> committed_;
  std::vector<store::Range> returned_;  // sorted by first

  // With mu_ held: the regression guard of range_store.h.
  store::Regression RaiseToMark(std::uint64_t mark) {
    if (next_ >= mark) return {};
    store::Regression r{store::Range{next_, mark}, store::TotalOf(returned_)};
    next_ = mark;
    returned_.clear();
    return r;
  }
  std::optional<store::StoreError> return_failure_;
  int return_calls_ = 0;
};

// Runs a Broker's loop on a thread; stops and joins it on destruction, so
// declare it after the store and the broker it uses.
class Runner {
 public:
  Runner(Broker& broker, std::atomic<bool>& stop)
      : stop_(stop),
        thread_([this, &broker] { exit_code_ = broker.Run(stop_); }) {}
  ~Runner() { Stop(); }

  // Returns Run()'s exit code.
  int Stop() {
    // relaxed: a flag with no data, as in forge-broker's signal handler.
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
    return exit_code_;
  }
  bool running() const {
    return exit_code_.load() == -1;
  }  // Run() not returned

 private:
  std::atomic<bool>& stop_;
  std::atomic<int> exit_code_{-1};
  std::thread thread_;
};

class BrokerTest : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  void SetUp() override {
    cfg_.pool_capacity = kCapacity;
    cfg_.range_size = kRange;
    log::Init("broker_test", cfg_.log_format, cfg_.debug);
  }

  // Creates the producer segment and a consumer view of it.
  void Open(FakeStore& store) {
    producer_.emplace(
        shm::Segment::OpenProducer(shm_.str(), SegmentSpecFor(cfg_, store)));
    consumer_.emplace(shm::Segment::Attach(shm_.str()));
  }

  BrokerOptions Options(milliseconds idle_wait = milliseconds(50)) const {
    BrokerOptions o;
    o.range_size = kRange;
    o.idle_wait = idle_wait;
    o.backoff_min = milliseconds(5);
    o.backoff_max = milliseconds(40);
    o.encode_threads = encode_threads_;
    return o;
  }

  shm::Ring& ring() { return consumer_->ring(); }
  const shm::BrokerStats& stats() { return consumer_->broker(); }
  State state() {
    return static_cast<State>(stats().state.load(std::memory_order_relaxed));
  }
  bool RingFull() { return ring().Size() == kCapacity; }
  // The ring is full and the broker's hand at its target (Options()'s
  // range size): no reservation is in flight or wanted.
  bool WaitStocked(const Broker& broker) {
    return WaitUntil(
        [&] {
          return RingFull() &&
                 broker.hand() >= kCapacity - kCapacity / 2 + kRange;
        },
        kDeadline);
  }
  // The ring is full and the broker sleeps.
  void WaitFullAndAsleep() {
    ASSERT_TRUE(WaitUntil([&] { return RingFull(); }, kDeadline));
    ASSERT_TRUE(WaitUntil([&] { return stats().producer_sleeping.load() == 1; },
                          kDeadline));
  }

  // Pops up to n keys now, decoding each with the sequential codec.
  std::vector<std::uint64_t> Pop(std::size_t n, const keys::KeyCodec& codec) {
    std::vector<shm::Key> keys(n);
    const std::size_t got = ring().TryPopBatch(keys.data(), n);
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i < got; ++i) {
      const auto v = codec.Decode(keys[i].text);
      EXPECT_TRUE(v.has_value()) << "undecodable key " << keys[i].text;
      if (v) out.push_back(*v);
    }
    return out;
  }

  config::Config cfg_;
  // Every test runs with one encoding thread and with three (the
  // pipeline's helpers, issue 18 §2): the invariants hold either way.
  std::uint32_t encode_threads_ = GetParam();
  ShmName shm_;
  std::optional<shm::Segment> producer_;
  std::optional<shm::Segment> consumer_;
  std::atomic<bool> stop_{false};
};

const keys::KeyCodec kCodec7(7, keys::KeyOrder::kSequential, 0);

TEST_P(BrokerTest, StepFillsTheRingAndStocksTheHand) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  Broker broker(Options(), store, *producer_);
  for (int i = 0; i < 100 && broker.Step() == StepResult::kBusy; ++i) {
  }
  EXPECT_EQ(ring().Size(), kCapacity);
  EXPECT_EQ(stats().low_water.load(), kCapacity / 2);
  // Enough in hand to refill from low water to full, plus one more range.
  EXPECT_GE(broker.hand(), kCapacity - kCapacity / 2 + kRange);
  EXPECT_EQ(stats().keys_produced.load(), kCapacity);
  EXPECT_EQ(stats().ranges_reserved.load(),
            static_cast<std::uint64_t>(store.calls()));
  EXPECT_EQ(stats().store_next.load(), store.Next());
  EXPECT_EQ(stats().pid.load(), ::getpid());
  // Durable before visible: every key in the ring came from a committed
  // range, in order, exactly once.
  const std::vector<std::uint64_t> got = Pop(kCapacity, kCodec7);
  ASSERT_EQ(got.size(), kCapacity);
  for (std::uint64_t i = 0; i < kCapacity; ++i) {
    EXPECT_EQ(got[i], i);
    EXPECT_TRUE(store.Committed(got[i]));
  }
}

TEST_P(BrokerTest, KeysAreNulPaddedToTheStoreKeyLength) {
  FakeStore store(4, keys::KeySpace(4));
  cfg_.key_length = 4;
  Open(store);
  Broker broker(Options(), store, *producer_);
  broker.Step();
  shm::Key key{};
  ASSERT_TRUE(ring().TryPop(&key));
  EXPECT_EQ(std::string(key.text), "0000");
  for (std::size_t i = 4; i < sizeof(key.text); ++i) EXPECT_EQ(key.text[i], 0);
}

TEST_P(BrokerTest, TransientErrorsAreCountedRetriedAndTheHandStillPushed) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  Broker broker(Options(), store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_TRUE(WaitUntil([&] { return RingFull(); }, kDeadline));
  const std::uint64_t hand_numbers = kCapacity - kCapacity / 2 + kRange;
  ASSERT_TRUE(WaitUntil(
      [&] { return stats().store_next.load() >= kCapacity + hand_numbers; },
      kDeadline));

  store.FailTransiently(1'000'000);
  // Drain below low water: the broker refills from its hand although the
  // store keeps failing.
  const std::vector<std::uint64_t> first = Pop(kCapacity / 2 + 100, kCodec7);
  shm::MaybeWakeProducer(*consumer_);
  EXPECT_TRUE(WaitUntil([&] { return RingFull(); }, kDeadline));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return state() == State::kStoreError &&
               stats().store_errors.load() >= 3;
      },
      kDeadline));
  // Back-off, not a hot retry loop: after 200 ms with 5..40 ms back-off
  // there can only be a handful of attempts.
  const int before = store.calls();
  EXPECT_FALSE(WaitUntil([&] { return store.calls() > before + 15; },
                         milliseconds(200)));

  store.FailTransiently(0);
  EXPECT_TRUE(WaitUntil([&] { return state() == State::kRunning; }, kDeadline));
  const std::vector<std::uint64_t> rest = Pop(kCapacity, kCodec7);
  std::set<std::uint64_t> seen(first.begin(), first.end());
  for (std::uint64_t n : rest) EXPECT_TRUE(seen.insert(n).second) << n;
  EXPECT_EQ(seen.size(), first.size() + rest.size());
}

TEST_P(BrokerTest, NonTransientErrorEndsTheLoopWithExitCode2) {
  FakeStore store(7, keys::KeySpace(7));
  store.FailForGood();
  Open(store);
  Broker broker(Options(), store, *producer_);
  EXPECT_EQ(broker.Run(stop_), 2);
  EXPECT_EQ(state(), State::kStoreError);
  EXPECT_EQ(stats().store_errors.load(), 1u);
  EXPECT_EQ(ring().Size(), 0u);
}

TEST_P(BrokerTest, ExhaustionPushesExactlyTheWholeSpaceAndKeepsBeating) {
  const std::uint64_t space = keys::KeySpace(2);  // 3844 keys, > ring capacity
  FakeStore store(2, space);
  cfg_.key_length = 2;
  Open(store);
  Broker broker(Options(), store, *producer_);
  Runner runner(broker, stop_);
  const keys::KeyCodec codec(2, keys::KeyOrder::kSequential, 0);
  std::set<std::uint64_t> seen;
  std::size_t popped = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (std::uint64_t n : Pop(256, codec)) {
          ++popped;
          seen.insert(n);
        }
        shm::MaybeWakeProducer(*consumer_);
        return state() == State::kExhausted && broker.hand() == 0 &&
               ring().Size() == 0;
      },
      kDeadline));
  EXPECT_EQ(popped, space);
  EXPECT_EQ(seen.size(), space);
  EXPECT_EQ(*seen.rbegin(), space - 1);
  EXPECT_EQ(stats().keys_produced.load(), space);
  // Still alive: the heartbeat moves on although nothing is left to do.
  const std::uint64_t beat = stats().heartbeat_unix_ns.load();
  EXPECT_TRUE(WaitUntil([&] { return stats().heartbeat_unix_ns.load() > beat; },
                        milliseconds(2000)));
  // ...without spinning: nothing to do means sleeping idle_wait (50 ms).
  const std::uint64_t it = broker.iterations();
  EXPECT_FALSE(WaitUntil([&] { return broker.iterations() > it + 30; },
                         milliseconds(500)));
  EXPECT_EQ(state(), State::kExhausted);
  EXPECT_TRUE(runner.running());  // did not exit
}

TEST_P(BrokerTest, IdleBrokerSleepsInsteadOfSpinning) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  Broker broker(Options(milliseconds(500)), store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_NO_FATAL_FAILURE(WaitFullAndAsleep());
  const std::uint64_t before = broker.iterations();
  // Full ring, stocked hand: over one second the loop may only wake on
  // its 500 ms heartbeat timeout.
  EXPECT_FALSE(WaitUntil([&] { return broker.iterations() > before + 6; },
                         milliseconds(1000)));
  // ...but it does wake for the heartbeat.
  EXPECT_GT(broker.iterations(), before);
}

TEST_P(BrokerTest, ConsumersBelowLowWaterWakeTheBrokerPromptly) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  // A 10 s idle wait: only a consumer's wake-up can explain a quick refill.
  Broker broker(Options(milliseconds(10000)), store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_NO_FATAL_FAILURE(WaitFullAndAsleep());
  const std::uint64_t refills = stats().refills.load();
  ASSERT_EQ(Pop(kCapacity / 2 + 1, kCodec7).size(), kCapacity / 2 + 1);
  shm::MaybeWakeProducer(*consumer_);
  EXPECT_TRUE(WaitUntil([&] { return RingFull(); }, milliseconds(1000)));
  EXPECT_EQ(stats().refills.load(), refills + 1);
  // Wake it once more so the thread can see the stop flag.
  stop_.store(true, std::memory_order_relaxed);
  Pop(kCapacity / 2 + 1, kCodec7);
  shm::MaybeWakeProducer(*consumer_);
}

// A consumer may pop between Step's "ring full, nothing to do" and the
// plan for the sleep: the broker must still sleep until a consumer wakes
// it, never a plain idle_wait (that stall emptied a 4,096-slot ring at
// 80k keys/s for up to 100 ms, issue 18 §2).
TEST_P(BrokerTest, APopJustBeforeTheSleepStillLetsConsumersWakeTheBroker) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  Broker broker(Options(milliseconds(10000)), store, *producer_);
  StepResult r = StepResult::kBusy;
  for (int i = 0; i < 100 && r == StepResult::kBusy; ++i) r = broker.Step();
  ASSERT_EQ(r, StepResult::kIdle);
  ASSERT_TRUE(RingFull());
  ASSERT_EQ(Pop(1, kCodec7).size(), 1U);
  const Broker::IdlePlan plan = broker.PlanIdle();
  EXPECT_TRUE(plan.until_low_water);
  EXPECT_EQ(plan.wait, milliseconds(10000));
}

// No worker attached (the test pops as an unregistered consumer): the
// hand and every key left in the ring go back to the store, so what was
// popped plus what was returned is exactly what was reserved.
TEST_P(BrokerTest, StopReturnsTheHandAndDrainsTheRingWhenNoWorkerIsAttached) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  Broker broker(Options(), store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_TRUE(WaitStocked(broker));
  const std::vector<std::uint64_t> popped = Pop(300, kCodec7);
  ASSERT_EQ(popped.size(), 300u);
  EXPECT_EQ(runner.Stop(), 0);
  EXPECT_EQ(state(), State::kStopped);
  EXPECT_EQ(ring().Size(), 0u);
  EXPECT_EQ(broker.hand(), 0u);
  EXPECT_EQ(store.return_calls(), 1);  // one transaction
  const std::vector<store::Range> back = store.returned();
  // Popped [0, 300); the ring and the hand held the rest, in one piece.
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, 300u);
  EXPECT_EQ(back[0].last, store.Next());
  EXPECT_EQ(stats().keys_wasted.load(), 0u);
}

// Issue 18: the reservation runs beside the loop, which keeps refilling
// the ring from its hand while the store call waits; a stop meanwhile
// waits for it and returns its range with the rest (zero waste).
TEST_P(BrokerTest, TheRingIsRefilledWhileAReservationWaitsAndAStopReturnsIt) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  BrokerOptions options = Options();
  options.range_size = 1000;
  const std::uint64_t target = kCapacity - kCapacity / 2 + 1000;
  Broker broker(options, store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_TRUE(WaitUntil([&] { return RingFull() && broker.hand() >= target; },
                        kDeadline));
  store.HoldReserves();
  // Below low water: the refill takes the hand below its target, so a
  // reservation starts and waits in the store.
  std::vector<std::uint64_t> popped = Pop(600, kCodec7);
  shm::MaybeWakeProducer(*consumer_);
  ASSERT_TRUE(WaitUntil([&] { return store.waiting() == 1; }, kDeadline));
  for (int round = 0; round < 3; ++round) {
    const std::vector<std::uint64_t> more = Pop(300, kCodec7);
    popped.insert(popped.end(), more.begin(), more.end());
    shm::MaybeWakeProducer(*consumer_);
    EXPECT_TRUE(WaitUntil([&] { return RingFull(); }, kDeadline)) << round;
  }
  EXPECT_EQ(store.waiting(), 1);
  EXPECT_EQ(popped.size(), 1500u);

  stop_.store(true, std::memory_order_relaxed);
  store.ReleaseReserves();
  EXPECT_EQ(runner.Stop(), 0);
  EXPECT_EQ(store.calls(), static_cast<int>(stats().ranges_reserved.load()));
  // Popped [0, 1500); the ring, the hand and the range that was in flight
  // went back, in one piece.
  const std::vector<store::Range> back = store.returned();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, 1500u);
  EXPECT_EQ(back[0].last, store.Next());
  EXPECT_EQ(stats().keys_wasted.load(), 0u);
  for (std::uint64_t i = 0; i < popped.size(); ++i) EXPECT_EQ(popped[i], i);
}

// Threads of this process now (/proc/self/task).
std::size_t ThreadCount() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

// Issue 18 §2: every reservation made beside the loop runs on one
// long-lived reserver thread (not a thread each), and numbers encoded
// ahead by encode helpers go back at a stop with the rest; the keys come
// out in number order, each once, with four threads encoding; a stop joins
// every thread the broker made.
TEST_P(BrokerTest, OneReserverThreadAndHelpersEncodeInOrderAndAStopReturnsAll) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  BrokerOptions options = Options();
  options.encode_threads = 4;
  const std::size_t threads_before = ThreadCount();
  std::vector<std::uint64_t> popped;
  {
    Broker broker(options, store, *producer_);
    Runner runner(broker, stop_);
    ASSERT_TRUE(WaitUntil(
        [&] {
          for (std::uint64_t n : Pop(200, kCodec7)) popped.push_back(n);
          shm::MaybeWakeProducer(*consumer_);
          return popped.size() >= 20000;
        },
        kDeadline));
    EXPECT_EQ(runner.Stop(), 0);
    // The loop reserved the first range itself (nothing in hand); every
    // later one ran on the same reserver thread.
    EXPECT_GE(store.calls(), 200);
    EXPECT_LE(store.reserve_tids().size(), 2u);
  }
  EXPECT_EQ(ThreadCount(), threads_before);
  for (std::uint64_t i = 0; i < popped.size(); ++i) {
    ASSERT_EQ(popped[i], i);
  }
  // The ring, the hand and the pipeline's chunks went back in one piece.
  const std::vector<store::Range> back = store.returned();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, popped.size());
  EXPECT_EQ(back[0].last, store.Next());
  EXPECT_EQ(stats().keys_wasted.load(), 0u);
}

// A live worker may still pop: the ring is left to it, only the hand goes
// back.
TEST_P(BrokerTest, StopWithALiveWorkerKeepsTheRingAndReturnsOnlyTheHand) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  const auto slot = shm::ClaimWorkerSlot(*consumer_, ::getpid(), ::getpid());
  ASSERT_TRUE(slot.has_value());
  Broker broker(Options(), store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_TRUE(WaitStocked(broker));
  EXPECT_EQ(runner.Stop(), 0);
  shm::ReleaseWorkerSlot(*consumer_, *slot, ::getpid());
  EXPECT_EQ(ring().Size(), kCapacity);
  const std::vector<store::Range> back = store.returned();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, kCapacity);  // the ring holds [0, kCapacity)
  EXPECT_EQ(back[0].last, store.Next());
  EXPECT_EQ(stats().keys_wasted.load(), 0u);
}

// The store recorded nothing (transient errors only): the keys drained
// from the ring go back into it, only the hand becomes a gap.
TEST_P(BrokerTest, StopWithTheStoreDownPutsTheRingBackAndCountsTheHand) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  BrokerOptions options = Options();
  options.return_budget = milliseconds(300);
  Broker broker(options, store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_TRUE(WaitStocked(broker));
  const std::uint64_t reserved = store.Next();
  store.FailReturns(
      store::StoreError("fake: cannot connect", /*transient=*/true));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(runner.Stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
  EXPECT_GT(store.return_calls(), 1);  // transient: retried
  EXPECT_EQ(state(), State::kStopped);
  EXPECT_EQ(ring().Size(), kCapacity);  // drained, then put back
  EXPECT_EQ(stats().keys_wasted.load(), reserved - kCapacity);
  EXPECT_TRUE(store.returned().empty());
  std::vector<std::uint64_t> numbers = Pop(kCapacity, kCodec7);
  std::sort(numbers.begin(), numbers.end());
  ASSERT_EQ(numbers.size(), kCapacity);
  for (std::uint64_t i = 0; i < kCapacity; ++i) ASSERT_EQ(numbers[i], i);
}

TEST_P(BrokerTest, ANonTransientReturnErrorIsNotRetried) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  Broker broker(Options(), store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_TRUE(WaitStocked(broker));
  store.FailReturns(
      store::StoreError("fake: outcome unknown", /*transient=*/false));
  EXPECT_EQ(runner.Stop(), 0);
  EXPECT_EQ(store.return_calls(), 1);
  EXPECT_EQ(stats().keys_wasted.load(), store.Next());
}

// The key space is used up; later another broker returns numbers: this one
// picks them up on its next recheck and pushes them.
TEST_P(BrokerTest, AnExhaustedBrokerHandsOutNumbersReturnedLater) {
  const std::uint64_t space = keys::KeySpace(2);
  FakeStore store(2, space);
  cfg_.key_length = 2;
  Open(store);
  BrokerOptions options = Options();
  options.exhausted_recheck = milliseconds(50);
  Broker broker(options, store, *producer_);
  Runner runner(broker, stop_);
  const keys::KeyCodec codec(2, keys::KeyOrder::kSequential, 0);
  std::size_t popped = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        popped += Pop(256, codec).size();
        shm::MaybeWakeProducer(*consumer_);
        return state() == State::kExhausted && broker.hand() == 0 &&
               ring().Size() == 0;
      },
      kDeadline));
  ASSERT_EQ(popped, space);
  store.Return({store::Range{100, 110}, store::Range{3000, 3002}});
  std::vector<std::uint64_t> again;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (std::uint64_t n : Pop(16, codec)) again.push_back(n);
        return again.size() >= 12;
      },
      kDeadline));
  const std::vector<std::uint64_t> expected = {100, 101, 102, 103, 104,  105,
                                               106, 107, 108, 109, 3000, 3001};
  EXPECT_EQ(again, expected);
  EXPECT_TRUE(
      WaitUntil([&] { return state() == State::kExhausted; }, kDeadline));
  EXPECT_TRUE(store.returned().empty());
}

TEST_P(BrokerTest, ReattachKeepsTheRingAndNeverRepeatsAKey) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  {
    Broker broker(Options(), store, *producer_);
    for (int i = 0; i < 100 && broker.Step() == StepResult::kBusy; ++i) {
    }
  }
  std::vector<std::uint64_t> got = Pop(300, kCodec7);
  producer_.reset();  // releases the producer lock, keeps the segment
  Open(store);
  EXPECT_EQ(ring().Size(), kCapacity - 300);  // the keys survived
  Broker broker(Options(), store, *producer_);
  for (int i = 0; i < 100 && broker.Step() == StepResult::kBusy; ++i) {
  }
  EXPECT_EQ(stats().keys_produced.load(), kCapacity + 300);
  for (std::uint64_t n : Pop(kCapacity, kCodec7)) got.push_back(n);
  const std::set<std::uint64_t> seen(got.begin(), got.end());
  EXPECT_EQ(got.size(), kCapacity + 300);
  EXPECT_EQ(seen.size(), got.size());
}

// The regression guard (issue 16): the store's counter goes back behind
// what this broker was granted — also across a broker restart on the same
// segment (the mark lives there). The broker skips to its mark, says so
// once, counts it and keeps serving; no number comes out twice.
TEST_P(BrokerTest, ACounterThatWentBackIsSkippedPastTheMarkEvenAfterARestart) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  std::vector<std::uint64_t> got;
  {
    Broker broker(Options(), store, *producer_);
    for (int i = 0; i < 100 && broker.Step() == StepResult::kBusy; ++i) {
    }
    got = Pop(kCapacity, kCodec7);
  }  // dropped without Finish: a kill -9, the hand is a gap
  const std::uint64_t mark = stats().granted_high.load();
  EXPECT_EQ(mark, store.Next());
  EXPECT_EQ(stats().range_size.load(), kRange);
  store.SetBack(kRange);  // a restored backup
  producer_.reset();
  Open(store);
  Broker broker(Options(), store, *producer_);
  for (int i = 0; i < 100 && broker.Step() == StepResult::kBusy; ++i) {
  }
  EXPECT_EQ(stats().store_regressions.load(), 1u);
  for (std::uint64_t n : Pop(kCapacity, kCodec7)) {
    EXPECT_GE(n, mark);
    got.push_back(n);
  }
  const std::set<std::uint64_t> seen(got.begin(), got.end());
  EXPECT_EQ(seen.size(), 2 * kCapacity);
  EXPECT_GT(stats().granted_high.load(), mark);
}

// At stop, a Return to a store whose counter went back records nothing:
// the hand was granted before, so another broker may hold it now. The hand
// becomes a gap, the ring's keys go back into the ring.
TEST_P(BrokerTest, StopOnAStoreThatWentBackReturnsNothing) {
  FakeStore store(7, keys::KeySpace(7));
  Open(store);
  Broker broker(Options(), store, *producer_);
  Runner runner(broker, stop_);
  ASSERT_TRUE(WaitStocked(broker));
  const std::uint64_t reserved = store.Next();
  store.SetBack(0);
  EXPECT_EQ(runner.Stop(), 0);
  EXPECT_TRUE(store.returned().empty());
  EXPECT_EQ(store.Next(), reserved);  // moved up to the mark
  EXPECT_EQ(stats().store_regressions.load(), 1u);
  EXPECT_EQ(ring().Size(), kCapacity);  // drained, then put back
  EXPECT_EQ(stats().keys_wasted.load(), reserved - kCapacity);
}

// The broker makes its segment from the store's format, so a disagreement
// is a programming error (FORGE_CHECK), not a state to run in.
TEST_P(BrokerTest, StoreThatDisagreesWithTheSegmentIsRefused) {
  FakeStore store7(7, keys::KeySpace(7));
  Open(store7);
  FakeStore store5(5, keys::KeySpace(5));
  EXPECT_DEATH(Broker(Options(), store5, *producer_), "they must agree");
}

// Issue 10 item 3: a broker on store Y driving a segment that store X
// filled (same format, same description) must not drain X's keys into Y
// at stop: Y never reserved them. The ring stays as it is.
TEST_P(BrokerTest, StopNeverReturnsRingKeysFilledFromAnotherStore) {
  FakeStore x(7, keys::KeySpace(7));
  x.SetStoreId("0123456789abcdef0123456789abcdef");
  Open(x);
  {
    Broker filler(Options(), x, *producer_);
    for (int i = 0; i < 100 && filler.Step() == StepResult::kBusy; ++i) {
    }
  }
  ASSERT_TRUE(RingFull());
  FakeStore y(7, keys::KeySpace(7));
  y.SetStoreId("fedcba9876543210fedcba9876543210");
  {
    Broker broker(Options(), y, *producer_);
    Runner runner(broker, stop_);
    EXPECT_EQ(runner.Stop(), 0);
  }
  EXPECT_EQ(ring().Size(), kCapacity);  // X's keys, left in place
  for (const store::Range& r : y.returned()) {
    for (std::uint64_t n = r.first; n < r.last; ++n) {
      ASSERT_TRUE(y.Committed(n)) << n << " was never reserved from Y";
    }
  }
  EXPECT_EQ(stats().keys_wasted.load(), 0u);
}

// Issue 14: 3-digit sequential keys; "800" reads "boo", "833" "bee",
// "734" "tea".
keys::KeyPolicy Digits() {
  std::string why;
  keys::KeyPolicy policy;
  policy.alphabet = *keys::Alphabet::Parse("digits", &why);
  return policy;
}
const keys::BlocklistSpec kWords{keys::BlocklistKind::kCustom,
                                 {"bee", "boo", "tea"}};
const std::set<std::string> kBlockedKeys = {"734", "800", "833"};

// Runs Step() until the key space is used up and pushed, then pops every
// key's text.
std::set<std::string> DrainAll(Broker& broker, shm::Ring& ring) {
  for (int i = 0; i < 1000 && broker.Step() == StepResult::kBusy; ++i) {
  }
  std::set<std::string> got;
  shm::Key key;
  while (ring.TryPop(&key)) got.emplace(key.text);
  return got;
}

TEST_P(BrokerTest, BlockedNumbersAreSkippedAtEncodeTimeAndCounted) {
  FakeStore store(3, 1000);
  store.SetPolicy(Digits(), kWords);
  Open(store);
  Broker broker(Options(), store, *producer_);
  for (int i = 0; i < 1000 && broker.Step() == StepResult::kBusy; ++i) {
  }
  EXPECT_EQ(ring().Size(), 997u);
  EXPECT_EQ(stats().keys_blocked.load(), 3u);
  EXPECT_EQ(stats().keys_produced.load(), 997u);
  const std::set<std::string> got = DrainAll(broker, ring());
  EXPECT_EQ(got.size(), 997u);
  for (const std::string& k : kBlockedKeys) EXPECT_EQ(got.count(k), 0u) << k;
  EXPECT_EQ(got.count("801"), 1u);
}

TEST_P(BrokerTest, ANewBlocklistTakesNewlyBlockedKeysOutOfTheRing) {
  FakeStore store(3, 1000);
  store.SetPolicy(Digits(), {});
  Open(store);
  Broker broker(Options(), store, *producer_);
  for (int i = 0; i < 1000 && broker.Step() == StepResult::kBusy; ++i) {
  }
  ASSERT_EQ(ring().Size(), 1000u);
  EXPECT_EQ(stats().keys_blocked.load(), 0u);

  broker.ReplaceBlocklist(kWords);
  EXPECT_EQ(ring().Size(), 997u);
  EXPECT_EQ(stats().keys_blocked.load(), 3u);
  const std::set<std::string> got = DrainAll(broker, ring());
  EXPECT_EQ(got.size(), 997u);
  for (const std::string& k : kBlockedKeys) EXPECT_EQ(got.count(k), 0u) << k;

  broker.ReplaceBlocklist(kWords);  // the same list: nothing happens
  EXPECT_EQ(stats().keys_blocked.load(), 3u);
}

INSTANTIATE_TEST_SUITE_P(EncodeThreads, BrokerTest, ::testing::Values(1U, 3U),
                         [](const ::testing::TestParamInfo<std::uint32_t>& p) {
                           return std::to_string(p.param) + "Threads";
                         });

}  // namespace
}  // namespace forge::broker
