// tests/shm/ring_test.cpp — single-process semantics of the SPMC ring.
#include "shm/ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "tests/shm/test_keys.h"

namespace forge::shm {
namespace {

using testing::MakeKey;
using testing::NumberOf;
using testing::Valid;

// A ring over ordinary heap memory: same code as in shared memory.
struct HeapRing {
  explicit HeapRing(std::uint64_t capacity)
      : slots(capacity), ring(&head, &tail, slots.data(), capacity) {}
  RingIndex head{};
  RingIndex tail{};
  std::vector<Slot> slots;
  Ring ring;
};

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

}  // namespace
}  // namespace forge::shm
