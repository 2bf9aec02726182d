// shm/notify.cpp — see notify.h.
//
// Both directions use the same lost-wake-up-free protocol (a "Dekker"
// handshake plus a futex sequence word):
//   sleeper: seq = wake.load; announce (flag/count); fence; re-check the
//            condition; FUTEX_WAIT(wake, seq) only if still unmet.
//   waker:   change the condition (push / pop); fence; if someone announced:
//            wake.fetch_add(1); FUTEX_WAKE.
// The two seq_cst fences guarantee that either the sleeper's re-check sees
// the waker's change, or the waker sees the announcement. In the second
// case the bump of `wake` makes FUTEX_WAIT return at once if the sleeper has
// not entered it yet (the kernel compares the word with seq atomically).
#include "shm/notify.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>

namespace forge::shm {
namespace {

using Clock = std::chrono::steady_clock;

// The futex syscall needs the word's address; std::atomic<uint32_t> is a
// 4-byte lock-free wrapper of it (static_asserts in layout.h).
std::uint32_t* Word(std::atomic<std::uint32_t>& word) {
  return reinterpret_cast<std::uint32_t*>(&word);
}

// Sleeps while word == expected, at most `timeout`. Shared (not PRIVATE)
// futex: the word lives in memory mapped by several processes. Returns on
// wake, time-out or a changed word alike (callers re-check); returns false
// only when a signal interrupted the wait.
bool FutexWait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
               Clock::duration timeout) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  if (ns <= 0) return true;
  const timespec rel{static_cast<time_t>(ns / 1'000'000'000),
                     static_cast<long>(ns % 1'000'000'000)};
  return ::syscall(SYS_futex, Word(word), FUTEX_WAIT, expected, &rel, nullptr,
                   0) == 0 ||
         errno != EINTR;
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449  // Linux 5.16, the same number on every arch
#endif

// struct futex_waitv of <linux/futex.h> (Linux 5.16), spelled out so the
// build does not depend on the kernel headers' age.
struct WaitV {
  std::uint64_t val;
  std::uint64_t uaddr;
  std::uint32_t flags;
  std::uint32_t reserved;
};
constexpr std::uint32_t kFutex2SizeU32 = 0x02;  // shared: no PRIVATE flag
static_assert(sizeof(WaitV) == 24);

// Slice of a sleep that cannot watch every word (see notify.h).
constexpr Clock::duration kPollSlice = std::chrono::milliseconds(10);

// Sleeps while every words[i] == expected[i], at most `timeout`; like
// FutexWait otherwise. One word is a plain FUTEX_WAIT.
bool FutexWaitAny(std::span<std::atomic<std::uint32_t>* const> words,
                  std::span<const std::uint32_t> expected,
                  Clock::duration timeout) {
  if (words.size() == 1) return FutexWait(*words[0], expected[0], timeout);
  if (timeout <= Clock::duration::zero()) return true;
  WaitV waiters[kMaxWaitSegments];
  const std::size_t n = words.size();  // at most kMaxWaitSegments
  for (std::size_t i = 0; i < n; ++i) {
    waiters[i] =
        WaitV{expected[i], reinterpret_cast<std::uintptr_t>(Word(*words[i])),
              kFutex2SizeU32, 0};
  }
  timespec until{};
  ::clock_gettime(CLOCK_MONOTONIC, &until);
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  const long long total = until.tv_nsec + ns % 1'000'000'000;
  until.tv_sec +=
      static_cast<time_t>(ns / 1'000'000'000 + total / 1'000'000'000);
  until.tv_nsec = static_cast<long>(total % 1'000'000'000);
  if (::syscall(SYS_futex_waitv, waiters, static_cast<unsigned>(n), 0u, &until,
                CLOCK_MONOTONIC) == 0) {
    return true;
  }
  if (errno == ENOSYS) {
    return FutexWait(*words[0], expected[0], std::min(timeout, kPollSlice));
  }
  return errno != EINTR;
}

void FutexWake(std::atomic<std::uint32_t>& word, int count) {
  ::syscall(SYS_futex, Word(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// The broker's low-water mark, clamped so that 0 means "when empty" and a
// mark above capacity means "when not full".
std::uint64_t LowWater(const Segment& seg) {
  // relaxed: a tuning value the broker sets at start; a stale value only
  // moves the moment of a wake-up, it cannot lose one.
  const std::uint64_t low =
      seg.broker().low_water.load(std::memory_order_relaxed);
  return std::clamp<std::uint64_t>(low, 1, seg.ring().Capacity());
}

}  // namespace

bool WaitForKeys(Segment& seg, Clock::time_point deadline) {
  Ring& ring = seg.ring();
  if (ring.Size() > 0) return true;
  // An empty ring is below any low-water mark: make sure the producer is
  // up even if the consumer that emptied it died before waking it.
  MaybeWakeProducer(seg);
  BrokerStats& b = seg.broker();
  for (;;) {
    // acquire: pairs with WakeConsumers' release bump; if we read the old
    // sequence, the push before that bump is ordered before our fence.
    const std::uint32_t seq = b.consumer_wake.load(std::memory_order_acquire);
    // relaxed: the fence below orders the announcement before the re-check.
    b.consumers_waiting.fetch_add(1, std::memory_order_relaxed);
    // seq_cst: pairs with the fence in WakeConsumers (see file comment).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const auto now = Clock::now();
    if (ring.Size() == 0 && now < deadline) {
      FutexWait(b.consumer_wake, seq, deadline - now);
    }
    // relaxed: the count is only a hint; a stale high value costs the
    // producer one spare FUTEX_WAKE, never a lost wake-up.
    b.consumers_waiting.fetch_sub(1, std::memory_order_relaxed);
    if (ring.Size() > 0) return true;
    if (Clock::now() >= deadline) return false;
  }
}

void MaybeWakeProducer(Segment& seg) {
  // Fast path: Size() is two loads (plain moves on x86), no syscall.
  if (seg.ring().Size() >= LowWater(seg)) return;
  BrokerStats& b = seg.broker();
  // seq_cst: orders our pop (head CAS) before the load of the flag; pairs
  // with the fence in WaitForLowWater (see file comment).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // relaxed: ordered by the fence above.
  if (b.producer_sleeping.load(std::memory_order_relaxed) == 0) return;
  // relaxed: the exchange only elects one waker per sleep (fewer syscalls);
  // the release bump below carries the ordering.
  if (b.producer_sleeping.exchange(0, std::memory_order_relaxed) == 0) return;
  // release: pairs with the acquire load of the sequence in WaitForLowWater.
  b.producer_wake.fetch_add(1, std::memory_order_release);
  FutexWake(b.producer_wake, 1);
}

void WakeConsumers(Segment& seg) {
  BrokerStats& b = seg.broker();
  // seq_cst: orders our push (tail store) before the load of the count;
  // pairs with the fence in WaitForKeys (see file comment).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // relaxed: ordered by the fence above.
  if (b.consumers_waiting.load(std::memory_order_relaxed) == 0) return;
  // release: pairs with the acquire load of the sequence in WaitForKeys.
  b.consumer_wake.fetch_add(1, std::memory_order_release);
  FutexWake(b.consumer_wake, INT_MAX);
}

void WaitForLowWater(Segment& seg, std::chrono::milliseconds max_sleep) {
  Segment* const one[] = {&seg};
  WaitForLowWater(std::span<Segment* const>(one), max_sleep);
}

void WaitForLowWater(std::span<Segment* const> segs,
                     std::chrono::milliseconds max_sleep) {
  const auto deadline = Clock::now() + max_sleep;
  const auto any_below = [&] {
    return std::any_of(segs.begin(), segs.end(), [](const Segment* seg) {
      return seg->ring().Size() < LowWater(*seg);
    });
  };
  const std::size_t n = std::min(segs.size(), kMaxWaitSegments);
  std::atomic<std::uint32_t>* words[kMaxWaitSegments];
  std::uint32_t seqs[kMaxWaitSegments];
  while (!segs.empty() && !any_below()) {
    for (std::size_t i = 0; i < n; ++i) {
      BrokerStats& b = segs[i]->broker();
      words[i] = &b.producer_wake;
      // acquire: pairs with MaybeWakeProducer's release bump (as above).
      seqs[i] = b.producer_wake.load(std::memory_order_acquire);
      // relaxed: the fence below orders the flag before the re-check.
      b.producer_sleeping.store(1, std::memory_order_relaxed);
    }
    // seq_cst: pairs with the fence in MaybeWakeProducer.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const auto now = Clock::now();
    bool interrupted = false;
    if (!any_below() && now < deadline) {
      // Segments past kMaxWaitSegments are not watched: poll them.
      const Clock::duration sleep =
          segs.size() > n
              ? std::min<Clock::duration>(deadline - now, kPollSlice)
              : deadline - now;
      interrupted =
          !FutexWaitAny(std::span(words, n), std::span(seqs, n), sleep);
    }
    for (std::size_t i = 0; i < n; ++i) {
      // relaxed: only consumers read it, as a hint guarded by the protocol.
      segs[i]->broker().producer_sleeping.store(0, std::memory_order_relaxed);
    }
    // A signal (SIGTERM) ends the sleep so the broker can stop promptly.
    if (interrupted || Clock::now() >= deadline) return;
  }
}

}  // namespace forge::shm
