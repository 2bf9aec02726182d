// The broker's encode pipeline (issue 18 §2) on a heap ring: keys come out
// in number order, each once, whichever thread encoded them; blocked ones
// are dropped and counted; Unwind gives back every number not pushed,
// those already encoded into a chunk's buffer included. And the JobThread
// the helpers and the reserver run on.
#include "broker/encode_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "tests/shm/heap_ring.h"

namespace forge::broker {
namespace {

using std::chrono::seconds;

const keys::KeyCodec kCodec7(7, keys::KeyOrder::kSequential, 0);

struct Helpers {
  explicit Helpers(int n) {
    for (int i = 0; i < n; ++i) {
      own.push_back(std::make_unique<JobThread>());
      threads.push_back(own.back().get());
    }
  }
  // Every posted chunk has been claimed and encoded (or skipped).
  void WaitIdle() {
    for (JobThread* t : threads) ASSERT_TRUE(t->WaitIdle(seconds(10)));
  }
  std::vector<std::unique_ptr<JobThread>> own;
  std::vector<JobThread*> threads;
};

// Pops every key of the ring, decoded with `codec`.
std::vector<std::uint64_t> PopAll(shm::Ring& ring,
                                  const keys::KeyCodec& codec) {
  std::vector<std::uint64_t> out;
  shm::Key key{};
  while (ring.TryPop(&key)) {
    const auto n = codec.Decode(key.text);
    EXPECT_TRUE(n.has_value()) << key.text;
    if (n) out.push_back(*n);
  }
  return out;
}

TEST(EncodePipelineTest, ManyHelpersPushEveryNumberOnceInNumberOrder) {
  Helpers helpers(4);
  const keys::Blocklist none;
  EncodePipeline pipeline(kCodec7, none, 1, 64, helpers.threads);
  shm::testing::HeapRing heap(512);
  const std::vector<store::Range> added = {
      {1000, 6000}, {6000, 6001}, {9000, 15000}, {20000, 20333}};
  std::vector<std::uint64_t> expected;
  for (const store::Range& r : added) {
    pipeline.Add(r);
    for (std::uint64_t n = r.first; n < r.last; ++n) expected.push_back(n);
  }
  EXPECT_EQ(pipeline.size(), expected.size());
  std::vector<std::uint64_t> got;
  std::uint64_t pushed = 0;
  while (pipeline.size() > 0) {
    const EncodePipeline::Pushed p = pipeline.PushInto(heap.ring);
    EXPECT_EQ(p.blocked, 0u);
    EXPECT_EQ(p.consumed, p.keys);
    pushed += p.keys;
    for (std::uint64_t n : PopAll(heap.ring, kCodec7)) got.push_back(n);
  }
  EXPECT_EQ(pushed, expected.size());
  EXPECT_EQ(got, expected);
}

// Issue 14's words in 3-digit keys: "734" tea, "800" boo, "833" bee.
TEST(EncodePipelineTest, BlockedKeysAreDroppedWhicheverThreadEncodes) {
  std::string why;
  const keys::KeyPolicy digits{*keys::Alphabet::Parse("digits", &why),
                               keys::CheckKind::kNone, ""};
  const keys::KeyCodec codec(3, keys::KeyOrder::kSequential, 0, digits);
  const keys::Blocklist words = keys::Blocklist::Of(
      {keys::BlocklistKind::kCustom, {"bee", "boo", "tea"}});
  Helpers helpers(3);
  EncodePipeline pipeline(codec, words, 1, 16, helpers.threads);
  shm::testing::HeapRing heap(64);
  pipeline.Add(store::Range{0, 1000});
  std::vector<std::uint64_t> got;
  EncodePipeline::Pushed total;
  while (pipeline.size() > 0) {
    const EncodePipeline::Pushed p = pipeline.PushInto(heap.ring);
    total.keys += p.keys;
    total.blocked += p.blocked;
    total.consumed += p.consumed;
    for (std::uint64_t n : PopAll(heap.ring, codec)) got.push_back(n);
  }
  EXPECT_EQ(total.blocked, 3u);
  EXPECT_EQ(total.keys, 997u);
  EXPECT_EQ(total.consumed, 1000u);
  ASSERT_EQ(got.size(), 997u);
  std::vector<std::uint64_t> expected;
  for (std::uint64_t n = 0; n < 1000; ++n) {
    if (n != 734 && n != 800 && n != 833) expected.push_back(n);
  }
  EXPECT_EQ(got, expected);
}

// A stop: what the ring did not take goes back, numbers already encoded
// into helpers' buffers included, in one piece; nothing is pushed after.
TEST(EncodePipelineTest, UnwindReturnsEveryNumberNotPushedEncodedOrNot) {
  Helpers helpers(2);
  const keys::Blocklist none;
  EncodePipeline pipeline(kCodec7, none, 1, 100, helpers.threads);
  shm::testing::HeapRing heap(256);
  pipeline.Add(store::Range{5000, 6000});
  pipeline.Add(store::Range{7000, 7050});
  helpers.WaitIdle();  // every chunk encoded: the keys sit in buffers
  const EncodePipeline::Pushed p = pipeline.PushInto(heap.ring);
  EXPECT_EQ(p.keys, 256u);  // the ring is full, mid-chunk
  EXPECT_EQ(pipeline.size(), 1050u - 256u);
  const std::vector<store::Range> left = pipeline.Unwind();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].first, 5256u);
  EXPECT_EQ(left[0].last, 6000u);
  EXPECT_EQ(left[1].first, 7000u);
  EXPECT_EQ(left[1].last, 7050u);
  EXPECT_EQ(pipeline.size(), 0u);
  const std::vector<std::uint64_t> got = PopAll(heap.ring, kCodec7);
  ASSERT_EQ(got.size(), 256u);
  EXPECT_EQ(got.front(), 5000u);
  EXPECT_EQ(got.back(), 5255u);
  EXPECT_EQ(pipeline.PushInto(heap.ring).keys, 0u);
  EXPECT_EQ(heap.ring.Size(), 0u);
}

// A number outside the key space (a damaged store) throws on the producer's
// thread, even when a helper encoded it.
TEST(EncodePipelineTest, ANumberOutsideTheSpaceThrowsFromPushInto) {
  Helpers helpers(1);
  const keys::Blocklist none;
  const keys::KeyCodec codec2(2, keys::KeyOrder::kSequential, 0);
  EncodePipeline pipeline(codec2, none, 1, 8, helpers.threads);
  shm::testing::HeapRing heap(64);
  pipeline.Add(store::Range{keys::KeySpace(2) - 4, keys::KeySpace(2) + 4});
  helpers.WaitIdle();
  EXPECT_THROW(
      {
        for (int i = 0; i < 4; ++i) (void)pipeline.PushInto(heap.ring);
      },
      Error);
}

// The fallback (issue 18 §2): the chunk the ring needs next is being
// encoded by a helper that does not finish within the grace (0 here, so
// every time the producer finds it unfinished). The producer encodes the
// same numbers itself: each key is pushed once, in order, the helper's copy
// is never pushed, and Unwind after it gives back exactly what the ring
// did not take. Two chunks a round: while the producer encodes the first
// (a few ms), the helper begins the second. A round where the helper was
// not scheduled by then has no fallback, so rounds repeat until one has.
TEST(EncodePipelineTest, ASlowHelpersChunkIsEncodedAgainAndPushedOnce) {
  Helpers helpers(1);
  const keys::Blocklist none;
  constexpr std::uint64_t kChunk = 3 << 16;  // the ring takes 1.33 chunks
  constexpr std::uint64_t kRing = 1 << 18;
  EncodePipeline pipeline(kCodec7, none, 1, kChunk, helpers.threads,
                          std::chrono::nanoseconds(0));
  shm::testing::HeapRing heap(kRing);
  std::uint64_t next = 0;
  for (int round = 0; round < 50 && pipeline.reencoded() == 0; ++round) {
    pipeline.Add(store::Range{next, next + 2 * kChunk});
    EXPECT_EQ(pipeline.PushInto(heap.ring).keys, kRing);
    const std::vector<store::Range> left = pipeline.Unwind();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].first, next + kRing);
    EXPECT_EQ(left[0].last, next + 2 * kChunk);
    const std::vector<std::uint64_t> got = PopAll(heap.ring, kCodec7);
    ASSERT_EQ(got.size(), kRing);
    for (std::uint64_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], next + i) << "round " << round;
    }
    next += 2 * kChunk;
  }
  EXPECT_GT(pipeline.reencoded(), 0u) << "no round had a slow helper";
}

// The reserver's lifetime: one thread for every job; destroying it with a
// job in flight lets the job end (as a store call ends on the stop flag)
// and joins the thread; WaitIdle reports a running job as not done.
TEST(JobThreadTest, OneThreadRunsEveryJobAndTheDestructorJoinsAJobInFlight) {
  std::atomic<bool> leaving{false};
  std::atomic<int> ran{0};
  std::vector<std::thread::id> ids(3);
  {
    JobThread reserver;
    for (int i = 0; i < 2; ++i) {
      reserver.Post([&, i] {
        ids[static_cast<std::size_t>(i)] = std::this_thread::get_id();
        ++ran;
      });
      ASSERT_TRUE(reserver.WaitIdle(seconds(10)));
    }
    reserver.Post([&] {
      ids[2] = std::this_thread::get_id();
      // Runs until the test thread is leaving the scope (the destructor).
      leaving.wait(false);
      ++ran;
    });
    EXPECT_FALSE(reserver.WaitIdle(std::chrono::milliseconds(20)));
    leaving.store(true);
    leaving.notify_one();
  }  // waits for the job in flight, then joins
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[1], ids[2]);
  EXPECT_NE(ids[0], std::this_thread::get_id());
}

}  // namespace
}  // namespace forge::broker
