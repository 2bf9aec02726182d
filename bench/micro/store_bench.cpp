// Micro-benchmarks for store/sqlite_store: durable range reservations
// (WAL, synchronous=FULL) from one process and from several at once.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/micro/bench_dir.h"
#include "store/sqlite_store.h"

namespace forge::store {
namespace {

using bench::BenchDir;

StoreFormat BenchFormat() {
  StoreFormat format;
  format.key_length = 10;  // room for every run of the benchmark
  return format;
}

void BM_SqliteReserve(benchmark::State& state) {
  const BenchDir dir;
  SqliteStore store(dir.db(), BenchFormat());
  const auto count = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.Reserve(count));
  }
  state.SetItemsProcessed(state.iterations());  // items = reservations
}
BENCHMARK(BM_SqliteReserve)->Arg(1)->Arg(1000)->UseRealTime();

// Forks `procs` children that each open the store, report ready, wait for
// the gate, make `per_child` reservations and exit. Returns the seconds
// from opening the gate to the last exit, or throws if a child failed.
double TimeChildren(const std::string& db, int procs, int per_child,
                    std::uint64_t count) {
  int ready[2], gate[2];
  if (::pipe(ready) != 0 || ::pipe(gate) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < procs; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        SqliteStore store(db, BenchFormat());
        char c = 'r';
        ::close(gate[1]);
        if (::write(ready[1], &c, 1) != 1 || ::read(gate[0], &c, 1) < 0) {
          ::_exit(2);
        }
        for (int k = 0; k < per_child; ++k) store.Reserve(count);
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  ::close(ready[1]);
  for (int i = 0; i < procs; ++i) {
    char c;
    if (::read(ready[0], &c, 1) != 1) break;  // a child died before ready
  }
  const auto start = std::chrono::steady_clock::now();
  ::close(gate[1]);  // EOF on the gate releases every child
  bool ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const std::chrono::duration<double> took =
      std::chrono::steady_clock::now() - start;
  ::close(ready[0]);
  ::close(gate[0]);
  if (!ok) throw std::runtime_error("a benchmark child failed");
  return took.count();
}

void BM_SqliteReserveProcesses(benchmark::State& state) {
  const BenchDir dir;
  { SqliteStore create(dir.db(), BenchFormat()); }  // closed before fork
  const int procs = static_cast<int>(state.range(0));
  const int per_child = 500;
  for (auto _ : state) {
    try {
      state.SetIterationTime(TimeChildren(dir.db(), procs, per_child, 1000));
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * procs * per_child);
}
BENCHMARK(BM_SqliteReserveProcesses)
    ->Arg(1)
    ->Arg(4)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace forge::store
