// tests/shm/ring_stride_test.cpp — the ring with multi-slot keys (issue 14):
// every count of the API is in keys, buffers hold stride Keys per key, and
// concurrent consumers get every key exactly once, whole (no slot of one
// key mixed with another's).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "shm/ring.h"
#include "tests/shm/heap_ring.h"
#include "tests/shm/test_keys.h"

namespace forge::shm {
namespace {

using testing::HeapRing;
using testing::MakeKey;
using testing::NumberOf;
using testing::Valid;

class RingStrideTest : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  std::uint32_t stride() const { return GetParam(); }

  // n keys numbered first.., each `stride` slots that all carry the number
  // (slot j: first + i, tagged with j in the top byte).
  std::vector<Key> Keys(std::uint64_t first, std::size_t n) const {
    std::vector<Key> keys(n * stride());
    for (std::size_t i = 0; i < n; ++i) {
      for (std::uint32_t j = 0; j < stride(); ++j) {
        keys[i * stride() + j] = MakeKey(Tag(first + i, j));
      }
    }
    return keys;
  }

  static std::uint64_t Tag(std::uint64_t n, std::uint32_t j) {
    return n | (std::uint64_t{j} << 56);
  }

  // The number of key i of `buffer`, or ~0 when its slots disagree (a key
  // torn or mixed with another).
  std::uint64_t NumberAt(const Key* buffer, std::size_t i) const {
    const std::uint64_t n = NumberOf(buffer[i * stride()]);
    for (std::uint32_t j = 0; j < stride(); ++j) {
      const Key& k = buffer[i * stride() + j];
      if (!Valid(k) || NumberOf(k) != Tag(n, j)) return ~std::uint64_t{0};
    }
    return n;
  }
};

TEST_P(RingStrideTest, CountsAreKeysAndBuffersHoldStrideSlotsPerKey) {
  HeapRing r(16, stride());  // 16 keys, 16 * stride slots
  EXPECT_EQ(r.ring.Capacity(), 16u);
  EXPECT_EQ(r.ring.Stride(), stride());
  const std::vector<Key> keys = Keys(100, 20);
  EXPECT_EQ(r.ring.Push(keys.data(), 20), 16u) << "16 keys fit, not slots";
  EXPECT_EQ(r.ring.Size(), 16u);

  std::vector<Key> peeked;
  EXPECT_EQ(static_cast<const Ring&>(r.ring).Peek(&peeked), 0u);
  ASSERT_EQ(peeked.size(), 16u * stride());
  for (std::size_t i = 0; i < 16; ++i)
    EXPECT_EQ(NumberAt(peeked.data(), i), 100 + i);

  std::vector<Key> one(stride());
  ASSERT_TRUE(r.ring.TryPop(one.data()));
  EXPECT_EQ(NumberAt(one.data(), 0), 100u);

  std::vector<Key> out(15 * stride());
  EXPECT_EQ(r.ring.TryClaim(out.data(), 4), 4u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(NumberAt(out.data(), i), 101 + i);
  EXPECT_EQ(r.ring.Size(), 11u);
  EXPECT_EQ(r.ring.TryPopBatch(out.data(), 15), 11u);
  for (std::size_t i = 0; i < 11; ++i)
    EXPECT_EQ(NumberAt(out.data(), i), 105 + i);
  EXPECT_EQ(r.ring.Size(), 0u);
  // Wraps around: the slots of key 16 are those of key 0.
  EXPECT_EQ(r.ring.Push(keys.data() + 16 * stride(), 4), 4u);
  EXPECT_EQ(r.ring.TryPopBatch(out.data(), 15), 4u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(NumberAt(out.data(), i), 116 + i);
}

TEST_P(RingStrideTest, OneClaimCoversAtMostMaxClaimSlots) {
  const std::size_t keys_per_claim = kMaxClaimSlots / stride();
  HeapRing r(1024, stride());
  const std::vector<Key> keys = Keys(0, 1024);
  ASSERT_EQ(r.ring.Push(keys.data(), 1024), 1024u);
  std::vector<Key> out(1024 * stride());
  EXPECT_EQ(r.ring.TryClaim(out.data(), 1024), keys_per_claim);
  EXPECT_EQ(r.ring.TryPopBatch(out.data(), 1024), 1024 - keys_per_claim)
      << "a batch is a series of claims";
  for (std::size_t i = 0; i < 1024 - keys_per_claim; ++i) {
    ASSERT_EQ(NumberAt(out.data(), i), keys_per_claim + i);
  }
}

// One producer pushes 200000 keys through a small ring while three
// consumers pop singles and batches: every key arrives exactly once, whole.
TEST_P(RingStrideTest, ConcurrentConsumersGetEveryKeyExactlyOnce) {
  constexpr std::uint64_t kKeys = 200'000;
  HeapRing r(256, stride());
  std::atomic<bool> done{false};
  std::thread producer([&] {
    std::vector<Key> batch;
    for (std::uint64_t next = 0; next < kKeys;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(64, kKeys - next));
      batch = Keys(next, n);
      next += r.ring.Push(batch.data(), n);
      if (r.ring.Size() == r.ring.Capacity()) std::this_thread::yield();
    }
    done.store(true);
  });
  std::vector<std::vector<std::uint64_t>> got(3);
  std::vector<std::thread> consumers;
  for (std::size_t c = 0; c < got.size(); ++c) {
    consumers.emplace_back([&, c] {
      std::vector<Key> out(100 * stride());
      for (;;) {
        const bool finished = done.load();
        const std::size_t n = c == 0 ? (r.ring.TryPop(out.data()) ? 1 : 0)
                                     : r.ring.TryPopBatch(out.data(), 100);
        for (std::size_t i = 0; i < n; ++i) {
          got[c].push_back(NumberAt(out.data(), i));
        }
        if (n == 0 && finished) break;
        if (n == 0) std::this_thread::yield();
      }
    });
  }
  producer.join();
  for (std::thread& t : consumers) t.join();
  std::vector<std::uint64_t> all;
  for (const auto& g : got) {
    // One consumer's claims come in ring order.
    EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));
    all.insert(all.end(), g.begin(), g.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), kKeys) << "every key once (no torn key: ~0 sorts last)";
  for (std::uint64_t i = 0; i < kKeys; ++i) ASSERT_EQ(all[i], i);
}

INSTANTIATE_TEST_SUITE_P(Strides, RingStrideTest,
                         ::testing::Values(1u, 2u, 4u, 8u),
                         [](const auto& param_info) {
                           return "stride" + std::to_string(param_info.param);
                         });

TEST(KeyTextAtTest, ReadsKeyIOfAnyStrideUpToItsNul) {
  // Two 23-character keys (stride 2) and one 7-character key (stride 1).
  std::vector<Key> wide(4);
  const std::string a = "inv_000000000000000017X";
  const std::string b = "inv_123456789012345678Y";
  std::copy(a.begin(), a.end(), reinterpret_cast<char*>(&wide[0]));
  std::copy(b.begin(), b.end(), reinterpret_cast<char*>(&wide[2]));
  EXPECT_EQ(KeyTextAt(wide.data(), 0, 23), a);
  EXPECT_EQ(KeyTextAt(wide.data(), 1, 23), b);
  Key narrow[2] = {};
  std::copy_n("abc", 3, narrow[1].text);
  EXPECT_EQ(KeyTextAt(narrow, 1, 7), "abc") << "stops at the NUL";
}

}  // namespace
}  // namespace forge::shm
