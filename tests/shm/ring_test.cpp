// tests/shm/ring_test.cpp — single-process semantics of the SPMC ring.
#include "shm/ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "tests/shm/heap_ring.h"
#include "tests/shm/test_keys.h"

namespace forge::shm {
namespace {

using testing::MakeKey;
using testing::NumberOf;
using testing::Valid;

using testing::HeapRing;

std::size_t PushRange(Ring& ring, std::uint64_t first, std::size_t n) {
  std::vector<Key> keys;
  for (std::size_t i = 0; i < n; ++i) keys.push_back(MakeKey(first + i));
  return ring.Push(keys.data(), keys.size());
}

TEST(RingTest, EmptyRingPopsNothing) {
  HeapRing r(8);
  Key k;
  EXPECT_EQ(r.ring.Size(), 0u);
  EXPECT_FALSE(r.ring.TryPop(&k));
  Key keys[4];
  EXPECT_EQ(r.ring.TryPopBatch(keys, 4), 0u);
  EXPECT_EQ(r.head.value.load(), 0u);
}

TEST(RingTest, PopsInFifoOrder) {
  HeapRing r(16);
  ASSERT_EQ(PushRange(r.ring, 100, 10), 10u);
  EXPECT_EQ(r.ring.Size(), 10u);
  for (std::uint64_t i = 0; i < 10; ++i) {
    Key k;
    ASSERT_TRUE(r.ring.TryPop(&k));
    EXPECT_TRUE(Valid(k));
    EXPECT_EQ(NumberOf(k), 100 + i);
  }
  Key k;
  EXPECT_FALSE(r.ring.TryPop(&k));
}

// Issue 12: a reader's view of the published keys through a const Ring,
// without claiming any (forge-ctl check scans the ring this way).
TEST(RingTest, PeekCopiesThePublishedKeysWithoutClaiming) {
  HeapRing r(8);
  ASSERT_EQ(PushRange(r.ring, 40, 6), 6u);
  Key k;
  ASSERT_TRUE(r.ring.TryPop(&k));
  ASSERT_TRUE(r.ring.TryPop(&k));
  const Ring& reader = r.ring;
  std::vector<Key> keys(1);           // replaced, not appended to
  EXPECT_EQ(reader.Peek(&keys), 2u);  // ring index of keys[0]
  ASSERT_EQ(keys.size(), 4u);
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(NumberOf(keys[i]), 42 + i);
  EXPECT_EQ(r.head.value.load(), 2u) << "nothing claimed";
  EXPECT_EQ(r.ring.Size(), 4u);
  EXPECT_EQ(reader.Capacity(), 8u);
  ASSERT_TRUE(r.ring.TryPop(&k));
  EXPECT_EQ(NumberOf(k), 42u) << "the peeked keys are still there";
  HeapRing empty(8);
  EXPECT_EQ(static_cast<const Ring&>(empty.ring).Peek(&keys), 0u);
  EXPECT_TRUE(keys.empty());
}

TEST(RingTest, FullRingRefusesPushUntilAPop) {
  HeapRing r(8);
  EXPECT_EQ(PushRange(r.ring, 0, 10), 8u);  // only capacity fits
  EXPECT_EQ(r.ring.Size(), 8u);
  EXPECT_EQ(PushRange(r.ring, 8, 1), 0u);
  Key k;
  ASSERT_TRUE(r.ring.TryPop(&k));
  EXPECT_EQ(NumberOf(k), 0u);
  EXPECT_EQ(PushRange(r.ring, 8, 3), 1u);  // exactly the freed slot
  // The oldest unclaimed key was not overwritten.
  ASSERT_TRUE(r.ring.TryPop(&k));
  EXPECT_EQ(NumberOf(k), 1u);
}

TEST(RingTest, BatchPopReturnsWhatIsThere) {
  HeapRing r(64);
  ASSERT_EQ(PushRange(r.ring, 7, 5), 5u);
  Key keys[64];
  ASSERT_EQ(r.ring.TryPopBatch(keys, 64), 5u);
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(NumberOf(keys[i]), 7 + i);
  EXPECT_EQ(r.ring.TryPopBatch(keys, 64), 0u);
}

TEST(RingTest, BatchPopStopsAtMax) {
  HeapRing r(64);
  ASSERT_EQ(PushRange(r.ring, 0, 10), 10u);
  Key keys[3];
  ASSERT_EQ(r.ring.TryPopBatch(keys, 3), 3u);
  EXPECT_EQ(NumberOf(keys[2]), 2u);
  EXPECT_EQ(r.ring.Size(), 7u);
}

// Many laps around a small ring with varying push and pop sizes: the
// sequence comes out whole and in order, indices grow past capacity.
TEST(RingTest, WrapsAroundOverManyLaps) {
  for (std::uint64_t cap : {1u, 2u, 4u, 8u}) {
    HeapRing r(cap);
    std::uint64_t produced = 0, consumed = 0;
    for (int step = 0; step < 5000; ++step) {
      produced += PushRange(r.ring, produced, 1 + step % 5);
      Key keys[8];
      const std::size_t want = 1 + (step * 7) % 8;
      const std::size_t got = r.ring.TryPopBatch(keys, want);
      for (std::size_t i = 0; i < got; ++i) {
        ASSERT_EQ(NumberOf(keys[i]), consumed + i) << "capacity " << cap;
      }
      consumed += got;
      ASSERT_LE(produced - consumed, cap);
    }
    EXPECT_GT(consumed, 1000 * cap) << "capacity " << cap;
    EXPECT_EQ(r.tail.value.load(), produced);
    EXPECT_EQ(r.head.value.load(), consumed);
  }
}

TEST(RingTest, CapacityOneHoldsOneKey) {
  HeapRing r(1);
  EXPECT_EQ(PushRange(r.ring, 5, 2), 1u);
  EXPECT_EQ(PushRange(r.ring, 6, 1), 0u);
  Key keys[2];
  ASSERT_EQ(r.ring.TryPopBatch(keys, 2), 1u);
  EXPECT_EQ(NumberOf(keys[0]), 5u);
  EXPECT_EQ(PushRange(r.ring, 6, 1), 1u);
  ASSERT_TRUE(r.ring.TryPop(keys));
  EXPECT_EQ(NumberOf(keys[0]), 6u);
}

TEST(RingTest, CapacityTwoHoldsTwoKeys) {
  HeapRing r(2);
  EXPECT_EQ(PushRange(r.ring, 0, 3), 2u);
  Key k;
  ASSERT_TRUE(r.ring.TryPop(&k));
  EXPECT_EQ(NumberOf(k), 0u);
  EXPECT_EQ(PushRange(r.ring, 2, 2), 1u);
  Key keys[4];
  ASSERT_EQ(r.ring.TryPopBatch(keys, 4), 2u);
  EXPECT_EQ(NumberOf(keys[0]), 1u);
  EXPECT_EQ(NumberOf(keys[1]), 2u);
}

// Threads in one process (ThreadSanitizer sees these): every number is
// claimed exactly once while one thread pushes and three pop.
TEST(RingTest, ThreadsClaimEachKeyOnce) {
  constexpr std::uint64_t kKeys = 200'000;
  HeapRing r(256);
  std::vector<std::atomic<int>> seen(kKeys);
  std::atomic<bool> torn{false};
  std::thread producer([&] {
    std::uint64_t next = 0;
    while (next < kKeys) {
      next +=
          PushRange(r.ring, next, std::min<std::uint64_t>(32, kKeys - next));
    }
  });
  std::vector<std::thread> consumers;
  std::atomic<std::uint64_t> claimed{0};
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&, c] {
      Key keys[16];
      while (claimed.load() < kKeys) {
        const std::size_t got = r.ring.TryPopBatch(keys, 1 + c * 7);
        if (got == 0) std::this_thread::yield();  // empty: let others run
        for (std::size_t i = 0; i < got; ++i) {
          if (!Valid(keys[i]) || NumberOf(keys[i]) >= kKeys)
            torn = true;
          else
            seen[NumberOf(keys[i])].fetch_add(1);
        }
        claimed.fetch_add(got);
      }
    });
  }
  producer.join();
  for (auto& t : consumers) t.join();
  EXPECT_FALSE(torn.load());
  std::uint64_t wrong = 0;
  for (auto& s : seen) wrong += s.load() != 1;
  EXPECT_EQ(wrong, 0u);
}

// ---- What happens between a claim's copy and its CAS (I2, I3, I5) -------

// Runs the test's `between` (when set) in every window between a claim's
// copy and its CAS.
struct WindowHook {
  std::function<void(std::uint64_t head, std::size_t n)>* between;
  void BetweenCopyAndClaim(std::uint64_t head, std::size_t n) {
    if (*between) (*between)(head, n);
  }
};

// A ring with a hooked consumer; `ring` (no hook) over the same memory is
// the producer and the competing consumers.
struct WindowRing : HeapRing {
  explicit WindowRing(std::uint64_t capacity)
      : HeapRing(capacity),
        hooked(&head, &tail, slots.data(), capacity, 1, WindowHook{&between}) {}
  std::function<void(std::uint64_t, std::size_t)> between;
  BasicRing<WindowHook> hooked;
};

// Before I5 a failed CAS threw the whole copy away: one competing pop per
// copy window kept a batch copying until the ring was empty (and with a
// producer refilling, forever). Now each window costs the batch only the
// key the competitor took, and the claim succeeds on the next CAS.
TEST(RingWindowTest, ACompetingPopInEveryCopyWindowCostsOnlyThatKey) {
  constexpr std::uint64_t kKeys = 4096;
  WindowRing r(kKeys);
  ASSERT_EQ(PushRange(r.ring, 0, kKeys), kKeys);
  std::vector<std::uint64_t> competitor;
  std::size_t windows = 0;
  r.between = [&](std::uint64_t, std::size_t n) {
    ++windows;
    EXPECT_LE(n, kMaxClaimSlots) << "one claim copies at most this much";
    Key k;
    if (r.ring.TryPop(&k)) competitor.push_back(NumberOf(k));
  };
  std::vector<Key> out(kKeys);
  const std::size_t got = r.hooked.TryPopBatch(out.data(), kKeys);

  const std::size_t claims = kKeys / kMaxClaimSlots;  // 16 copies, no more
  EXPECT_EQ(windows, claims) << "each claim copied once";
  EXPECT_EQ(competitor.size(), claims);
  EXPECT_EQ(got, kKeys - claims) << "the batch lost only the keys taken";
  // Together they hold every key once, and the batch's are in ring order.
  std::vector<int> seen(kKeys);
  for (std::uint64_t n : competitor) ++seen[n];
  for (std::size_t i = 0; i < got; ++i) {
    ASSERT_TRUE(Valid(out[i]));
    ++seen[NumberOf(out[i])];
    if (i > 0) {
      EXPECT_LT(NumberOf(out[i - 1]), NumberOf(out[i]));
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1),
            static_cast<std::ptrdiff_t>(kKeys));
  EXPECT_EQ(r.ring.Size(), 0u);
}

// The worst case: others claim everything a claim copied, every time, and
// the producer refills at once, so the ring is never empty. No claim can
// succeed; before, the batch copied forever. Now it asks keep_going()
// before each new copy and stops when told (TakeKeys: its deadline).
TEST(RingWindowTest, ClaimWhoseEveryCopyIsTakenStopsWhenTold) {
  constexpr std::uint64_t kCapacity = 1024;
  WindowRing r(kCapacity);
  std::uint64_t next = PushRange(r.ring, 0, kCapacity);
  std::size_t windows = 0;
  r.between = [&](std::uint64_t, std::size_t n) {
    ++windows;
    std::vector<Key> others(n);
    ASSERT_EQ(r.ring.TryPopBatch(others.data(), n), n);
    next += PushRange(r.ring, next, kCapacity);
  };
  std::vector<Key> out(4 * kCapacity);
  int asked = 0;
  const std::size_t got =
      r.hooked.TryPopBatch(out.data(), out.size(), [&] { return ++asked < 5; });
  EXPECT_EQ(got, 0u);
  EXPECT_EQ(asked, 5);
  EXPECT_EQ(windows, 5u) << "one copy, then one per keep_going() == true";
  EXPECT_EQ(r.ring.Size(), kCapacity) << "nothing lost: others hold the rest";
}

// A consumer stalled between copy and CAS while others drain the ring and
// the producer laps it, overwriting every slot it copied: its CAS fails
// and it never hands out the overwritten copies (they are others' keys).
TEST(RingWindowTest, StalledClaimFailsWhenTheProducerLapsIt) {
  WindowRing r(8);
  ASSERT_EQ(PushRange(r.ring, 0, 8), 8u);
  std::vector<std::uint64_t> heads;
  r.between = [&](std::uint64_t head, std::size_t) {
    heads.push_back(head);
    if (heads.size() > 1) return;
    Key others[8];
    ASSERT_EQ(r.ring.TryPopBatch(others, 8), 8u);  // keys 0..7, elsewhere
    ASSERT_EQ(PushRange(r.ring, 8, 8), 8u);        // a whole lap: 8..15
  };
  Key out[8];
  ASSERT_EQ(r.hooked.TryPopBatch(out, 8), 8u);
  EXPECT_EQ(heads, (std::vector<std::uint64_t>{0, 8}))
      << "the stalled claim failed and copied again from the new head";
  for (std::uint64_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(Valid(out[i]));
    EXPECT_EQ(NumberOf(out[i]), 8 + i);
  }
}

// Partly lapped: others took 3 keys and the producer overwrote those 3
// slots. The claim keeps the 5 copies above the new head (still unclaimed
// and unchanged, I3) and never the 3 overwritten ones.
TEST(RingWindowTest, StalledClaimKeepsOnlyCopiesAboveTheNewHead) {
  WindowRing r(8);
  ASSERT_EQ(PushRange(r.ring, 0, 8), 8u);
  std::size_t windows = 0;
  r.between = [&](std::uint64_t, std::size_t) {
    if (++windows > 1) return;
    Key others[3];
    ASSERT_EQ(r.ring.TryPopBatch(others, 3), 3u);  // keys 0, 1, 2
    ASSERT_EQ(PushRange(r.ring, 8, 3), 3u);        // into their slots
  };
  Key out[8];
  ASSERT_EQ(r.hooked.TryClaim(out, 8), 5u) << "one CAS, no second copy";
  EXPECT_EQ(windows, 1u);
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(NumberOf(out[i]), 3 + i);
  ASSERT_EQ(r.hooked.TryPopBatch(out, 8), 3u);
  for (std::uint64_t i = 0; i < 3; ++i) EXPECT_EQ(NumberOf(out[i]), 8 + i);
}

TEST(RingWindowTest, OneClaimTakesAtMostKMaxClaimSlots) {
  WindowRing r(1024);
  ASSERT_EQ(PushRange(r.ring, 0, 1000), 1000u);
  std::vector<Key> out(1000);
  EXPECT_EQ(r.ring.TryClaim(out.data(), 1000), kMaxClaimSlots);
  // A batch is a series of claims; keep_going stops it between them.
  int asked = 0;
  EXPECT_EQ(r.ring.TryPopBatch(out.data(), 1000, [&] { return ++asked < 2; }),
            2 * kMaxClaimSlots);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(r.ring.TryPopBatch(out.data(), 1000), 1000 - 3 * kMaxClaimSlots);
}

// A truncated segment's mapping becomes zero pages (shm/bus_guard.h): head
// and tail read 0 from then on, lower than a copy already made. The claim
// must then take nothing, not "claim" [0, end) and shift its copies by a
// wrapped offset (a write far past `out`).
TEST(RingWindowTest, HeadThatReadsLowerAfterTheCopyClaimsNothing) {
  constexpr std::uint64_t kCapacity = 1024;
  WindowRing r(kCapacity);
  // Move head well past 0 first, as on a long-running segment.
  std::vector<Key> scratch(kCapacity);
  ASSERT_EQ(PushRange(r.ring, 0, kCapacity), kCapacity);
  ASSERT_EQ(r.ring.TryPopBatch(scratch.data(), kCapacity), kCapacity);
  ASSERT_EQ(PushRange(r.ring, kCapacity, 8), 8u);
  r.between = [&](std::uint64_t, std::size_t) {
    r.head.value.store(0);  // what the zero pages show
    r.tail.value.store(0);
  };
  Key out[8];
  EXPECT_EQ(r.hooked.TryPopBatch(out, 8), 0u);
  EXPECT_EQ(r.head.value.load(), 0u) << "no CAS moved the zeroed head";
}

}  // namespace
}  // namespace forge::shm
