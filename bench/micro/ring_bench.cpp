// bench/micro/ring_bench.cpp — single-thread cost of ring operations.
//
// Pops and pushes run on a heap ring (same code as in shared memory);
// BM_SegmentPopWithWakeCheck runs on a real /dev/shm segment and adds the
// consumer's MaybeWakeProducer(), i.e. what a frontend pays per /get-key.
// Refills and drains happen with timing paused, once per lap.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "shm/notify.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "tests/shm/heap_ring.h"

namespace forge::shm {
namespace {

constexpr std::uint64_t kCapacity = 1 << 16;

using testing::HeapRing;

std::vector<Key> SampleKeys(std::size_t n) {
  std::vector<Key> keys(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::memset(keys[i].text, 0, sizeof(keys[i].text));
    std::memcpy(keys[i].text, "aZ3kQ9x", 7);
    keys[i].text[7] = static_cast<char>('0' + i % 10);
  }
  return keys;
}

void Refill(benchmark::State& state, Ring& ring, const std::vector<Key>& keys) {
  state.PauseTiming();
  while (ring.Push(keys.data(), keys.size() / ring.Stride()) > 0) {
  }
  state.ResumeTiming();
}

void Drain(benchmark::State& state, Ring& ring) {
  state.PauseTiming();
  std::vector<Key> sink(ring.Capacity() * ring.Stride());
  static_cast<void>(ring.TryPopBatch(sink.data(), ring.Capacity()));
  state.ResumeTiming();
}

void BM_RingPop(benchmark::State& state) {
  HeapRing r(kCapacity);
  const std::vector<Key> keys = SampleKeys(1024);
  Key out;
  for (auto _ : state) {
    if (!r.ring.TryPop(&out)) {
      Refill(state, r.ring, keys);
      static_cast<void>(r.ring.TryPop(&out));
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingPop);

void BM_RingPopBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  HeapRing r(kCapacity);
  const std::vector<Key> keys = SampleKeys(1024);
  std::vector<Key> out(n);
  for (auto _ : state) {
    std::size_t got = r.ring.TryPopBatch(out.data(), n);
    if (got < n) {
      Refill(state, r.ring, keys);
      got += r.ring.TryPopBatch(out.data() + got, n - got);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RingPopBatch)->Arg(64);

void BM_RingPush(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  HeapRing r(kCapacity);
  const std::vector<Key> keys = SampleKeys(n);
  for (auto _ : state) {
    std::size_t put = r.ring.Push(keys.data(), n);
    if (put < n) {
      Drain(state, r.ring);
      put += r.ring.Push(keys.data() + put, n - put);
    }
    benchmark::DoNotOptimize(put);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RingPush)->Arg(1)->Arg(64);

// Issue 14: batches of 64 keys of `stride` slots each (keys of up to 15,
// 31, 63, 79 characters): the copy grows with the key, the claims do not.
void BM_RingPopBatchStride(benchmark::State& state) {
  const auto stride = static_cast<std::uint32_t>(state.range(0));
  constexpr std::size_t kBatch = 64;
  HeapRing r(kCapacity / stride, stride);
  const std::vector<Key> keys = SampleKeys(1024 * stride);
  std::vector<Key> out(kBatch * stride);
  for (auto _ : state) {
    std::size_t got = r.ring.TryPopBatch(out.data(), kBatch);
    if (got < kBatch) {
      Refill(state, r.ring, keys);
      got += r.ring.TryPopBatch(out.data() + got * stride, kBatch - got);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_RingPopBatchStride)->Arg(1)->Arg(2)->Arg(4)->Arg(8);

// A segment under a name unique to this process, removed afterwards.
class ScratchSegment {
 public:
  explicit ScratchSegment(std::uint64_t low_water)
      : name_("bench-" + std::to_string(::getpid())),
        seg_(Segment::OpenProducer(name_, Spec())) {
    seg_.broker().low_water.store(low_water);
  }
  ~ScratchSegment() {
    ::shm_unlink(Segment::ObjectName(name_).c_str());
    ::unlink(Segment::LockPath(name_).c_str());
  }
  Segment& get() { return seg_; }

 private:
  static SegmentSpec Spec() {
    SegmentSpec s;
    s.capacity = kCapacity;
    return s;
  }
  std::string name_;
  Segment seg_;
};

// Arg 0: the fill stays above low water (fast path, no fence); arg 1: the
// fill is always below it (a fence per pop; the producer is awake).
void BM_SegmentPopWithWakeCheck(benchmark::State& state) {
  ScratchSegment scratch(state.range(0) == 0 ? 1 : kCapacity);
  Segment& seg = scratch.get();
  const std::vector<Key> keys = SampleKeys(1024);
  Key out;
  for (auto _ : state) {
    if (!seg.ring().TryPop(&out)) {
      Refill(state, seg.ring(), keys);
      static_cast<void>(seg.ring().TryPop(&out));
    }
    MaybeWakeProducer(seg);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SegmentPopWithWakeCheck)->Arg(0)->Arg(1);

}  // namespace
}  // namespace forge::shm
