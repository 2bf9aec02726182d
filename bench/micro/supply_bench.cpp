// The broker's supply (issue 18 §2): keys per second one Broker encodes and
// pushes into its ring while a consumer thread drains it as fast as it
// can, with a real SQLite store and RANGE_SIZE auto (reservations are rare
// and off the refill path). bench/http.sh reports it next to the HTTP
// drain rate: `forge_supply_bench --benchmark_format=json`, items_per_second.
// Args: ring capacity, RANGE_SIZE (0: auto), ENCODE_THREADS (0: auto,
// AutoEncodeThreads). RANGE_SIZE 100 is the refill-bound case: a store
// round trip per 100 keys, off the refill path.
// Wall time (UseRealTime): the figure is a rate.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "bench/micro/bench_dir.h"
#include "broker/broker.h"
#include "shm/notify.h"
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

// Pops batches until told to stop, waking the producer below low water as
// a frontend worker does.
class Drainer {
 public:
  explicit Drainer(shm::Segment& seg)
      : seg_(seg), thread_([this] { Loop(); }) {}
  ~Drainer() {
    // relaxed: a stop flag with no data.
    done_.store(true, std::memory_order_relaxed);
    thread_.join();
  }

 private:
  void Loop() {
    shm::Ring& ring = seg_.ring();
    std::vector<shm::Key> buf(shm::kMaxClaimSlots);
    const std::size_t max = buf.size() / ring.Stride();
    // relaxed: see the destructor.
    while (!done_.load(std::memory_order_relaxed)) {
      if (ring.TryPopBatch(buf.data(), max) > 0) shm::MaybeWakeProducer(seg_);
    }
  }
  shm::Segment& seg_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

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
  std::uint64_t pushed = 0;
  {
    const Drainer drainer(consumer);
    // relaxed (both): a statistic this thread's broker alone writes.
    const std::uint64_t before =
        stats.keys_produced.load(std::memory_order_relaxed);
    for (auto _ : state) {
      if (broker.Step() == StepResult::kFatal) {
        state.SkipWithError("the broker failed");
        break;
      }
    }
    pushed = stats.keys_produced.load(std::memory_order_relaxed) - before;
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
