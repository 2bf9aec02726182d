// The broker's supply (issue 18 §2): keys per second one Broker encodes and
// pushes into its ring, refilling it from empty to full again and again
// (each iteration: the ring drained, untimed, then Step until full), with
// a real SQLite store and RANGE_SIZE auto (reservations are rare and off
// the refill path). Timing the refill alone measures the broker, not a
// consumer racing it for the ring's cache lines. bench/http.sh reports it next
// to the HTTP drain rate: `forge_supply_bench --benchmark_format=json`,
// items_per_second. Args: ring capacity, RANGE_SIZE (0: auto), ENCODE_THREADS
// (0: auto, AutoEncodeThreads). RANGE_SIZE 100 is the refill-bound case: a
// store round trip per 100 keys, off the refill path. Wall time (UseRealTime):
// the figure is a rate.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/micro/bench_dir.h"
#include "broker/broker.h"
#include "shm/segment.h"
#include "store/range_store.h"

namespace forge::broker {
namespace {

// A segment under a name unique to this process, removed afterwards.
struct ScratchName {
  std::string name = "bench-supply-" + std::to_string(::getpid());
  ~ScratchName() {
    ::shm_unlink(shm::Segment::ObjectName(name).c_str());
    ::unlink(shm::Segment::LockPath(name).c_str());
  }
};

// Pops every key of the ring (a frontend worker's claim, batch by batch).
void DrainAll(shm::Ring& ring) {
  std::vector<shm::Key> buf(shm::kMaxClaimSlots);
  const std::size_t max = buf.size() / ring.Stride();
  while (ring.TryPopBatch(buf.data(), max) > 0) {
  }
}

void BM_BrokerSupply(benchmark::State& state) {
  const bench::BenchDir dir;
  const ScratchName scratch;
  store::StoreFormat wanted;
  wanted.key_length = 7;
  wanted.order = keys::KeyOrder::kScrambled;
  const auto store = store::OpenStore("sqlite:" + dir.db(), wanted);
  const auto capacity = static_cast<std::uint64_t>(state.range(0));
  shm::Segment seg = shm::Segment::OpenProducer(
      scratch.name, SegmentSpecFor(capacity, *store));
  shm::Segment consumer = shm::Segment::Attach(scratch.name);
  BrokerOptions options;
  options.range_size = static_cast<std::uint64_t>(state.range(1));
  options.encode_threads = state.range(2) == 0
                               ? AutoEncodeThreads()
                               : static_cast<std::uint32_t>(state.range(2));
  Broker broker(options, *store, seg);
  broker.Begin(nullptr);
  const shm::BrokerStats& stats = seg.broker();
  shm::Ring& ring = seg.ring();
  std::uint64_t pushed = 0;
  for (auto _ : state) {
    // Untimed: empty the ring, as consumers would have meanwhile.
    state.PauseTiming();
    DrainAll(consumer.ring());
    state.ResumeTiming();
    // relaxed (both): a statistic this thread's broker alone writes.
    const std::uint64_t before =
        stats.keys_produced.load(std::memory_order_relaxed);
    while (ring.Size() < ring.Capacity()) {
      if (broker.Step() == StepResult::kFatal) {
        state.SkipWithError("the broker failed");
        break;
      }
    }
    pushed += stats.keys_produced.load(std::memory_order_relaxed) - before;
  }
  broker.Finish();
  state.SetItemsProcessed(static_cast<std::int64_t>(pushed));
  state.counters["range_size"] = benchmark::Counter(
      static_cast<double>(stats.range_size.load(std::memory_order_relaxed)));
  state.counters["encode_threads"] =
      benchmark::Counter(static_cast<double>(options.encode_threads));
}
constexpr std::int64_t kAuto = 0;
BENCHMARK(BM_BrokerSupply)
    ->Args({4096, config::Config::kAutoRangeSize, kAuto})
    ->Args({65536, config::Config::kAutoRangeSize, 1})
    ->Args({65536, config::Config::kAutoRangeSize, 2})
    ->Args({65536, config::Config::kAutoRangeSize, 4})
    ->Args({65536, config::Config::kAutoRangeSize, kAuto})
    ->Args({4096, 100, kAuto})
    ->UseRealTime();

}  // namespace
}  // namespace forge::broker
