// bench/store_load.cpp — forge_store_load: how many range reservations per
// second one store (SQLite file or PostgreSQL) sustains for N brokers, and
// how long each takes.
//
//   forge_store_load --db-url URL [--procs 4] [--seconds 5] [--range-size R]
//
// Contract
//   * Forks --procs processes; each opens its own store (as a broker would;
//     nothing open crosses the fork), waits at a common gate, then calls
//     Reserve(R) in a loop for --seconds and streams one record per
//     reservation (range and latency) to the parent through its own pipe.
//   * The parent checks that the reserved ranges tile exactly the numbers
//     the store's counter moved over during the run (no overlap, no hole)
//     and prints one line of key=value pairs: reservations, reservations/s,
//     numbers/s, latency p50/p90/p99/max in ms.
//   * The store is created when missing (KEY_LENGTH 10, sequential: room
//     for any number of runs); it must not be shared with live brokers
//     during a run, or the tiling check fails. Its counter only moves
//     forward: numbers reserved here are never issued as keys.
//   * Exit 0 on success, 1 when a child failed or the check failed, 2 on a
//     bad option; every failure is one line on stderr.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/tool_main.h"
#include "store/range_store.h"

namespace forge::bench {
namespace {

using store::Range;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string db_url;
  int procs = 1;
  double seconds = 5;
  std::uint64_t range_size = 1000;
};

// One reservation, as a child reports it.
struct Record {
  std::uint64_t first;
  std::uint64_t last;
  std::uint64_t micros;
};

store::StoreFormat BenchFormat() {
  store::StoreFormat format;
  format.key_length = 10;
  format.order = keys::KeyOrder::kSequential;
  return format;
}

// The child's whole life: reserve until the time is up, then report.
void RunChild(const Options& opt, int gate, int out) {
  auto store = store::OpenStore(opt.db_url, BenchFormat());
  char c;
  while (::read(gate, &c, 1) > 0) {
  }  // EOF: the parent released every child at once
  std::vector<Record> records;
  const auto end = Clock::now() + std::chrono::duration<double>(opt.seconds);
  while (Clock::now() < end) {
    const auto t0 = Clock::now();
    const Range r = store->Reserve(opt.range_size);
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        Clock::now() - t0);
    if (r.empty()) throw std::runtime_error("the key space is used up");
    records.push_back(
        {r.first, r.last, static_cast<std::uint64_t>(took.count())});
  }
  const char* p = reinterpret_cast<const char*>(records.data());
  std::size_t left = records.size() * sizeof(Record);
  while (left > 0) {
    const ssize_t n = ::write(out, p, left);
    if (n <= 0) throw std::runtime_error("cannot report to the parent");
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Everything a child wrote to `fd` until it closed its end.
std::vector<Record> ReadRecords(int fd) {
  std::string bytes;
  char buf[1 << 16];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  std::vector<Record> records(bytes.size() / sizeof(Record));
  std::memcpy(records.data(), bytes.data(), records.size() * sizeof(Record));
  return records;
}

struct Child {
  pid_t pid;
  int out;  // read end of its pipe
};

Child ForkChild(const Options& opt, const int gate[2]) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(gate[1]);
    ::close(out[0]);
    try {
      RunChild(opt, gate[0], out[1]);
      ::_exit(0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "forge_store_load: child %d: %s\n", ::getpid(),
                   e.what());
      ::_exit(1);
    }
  }
  ::close(out[1]);
  return {pid, out[0]};
}

// Runs every child to the end; all records, or throws if one failed.
std::vector<Record> RunChildren(const Options& opt) {
  int gate[2];
  if (::pipe(gate) != 0) throw std::runtime_error("pipe failed");
  std::vector<Child> children;
  for (int i = 0; i < opt.procs; ++i) children.push_back(ForkChild(opt, gate));
  ::close(gate[0]);
  ::close(gate[1]);  // EOF on the gate: every child starts now
  std::vector<Record> all;
  bool ok = true;
  for (const Child& child : children) {
    const std::vector<Record> got = ReadRecords(child.out);
    all.insert(all.end(), got.begin(), got.end());
    ::close(child.out);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!ok) throw std::runtime_error("a child failed (see its line above)");
  return all;
}

// Throws unless the ranges tile [begin, end) exactly.
void CheckTiling(std::vector<Record> records, std::uint64_t begin,
                 std::uint64_t end) {
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return a.first < b.first; });
  std::uint64_t at = begin;
  for (const Record& r : records) {
    if (r.first != at) {
      throw std::runtime_error(
          "reserved ranges do not tile the counter's advance: expected a "
          "range at " +
          std::to_string(at) + ", got one at " + std::to_string(r.first) +
          (r.first < at ? " (overlap)" : " (hole)"));
    }
    at = r.last;
  }
  if (at != end) {
    throw std::runtime_error("the counter moved to " + std::to_string(end) +
                             " but the ranges end at " + std::to_string(at));
  }
}

void Report(const Options& opt, const std::string& store,
            std::vector<Record> records) {
  std::vector<std::uint64_t> micros;
  std::uint64_t numbers = 0;
  for (const Record& r : records) {
    micros.push_back(r.micros);
    numbers += r.last - r.first;
  }
  std::sort(micros.begin(), micros.end());
  const auto ms = [&](double q) {
    const auto i =
        static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1));
    return static_cast<double>(micros[i]) / 1000.0;
  };
  const double n = static_cast<double>(micros.size());
  std::printf(
      "store=%s procs=%d range_size=%llu seconds=%.1f reservations=%zu "
      "reservations_per_s=%.0f numbers_per_s=%.0f p50_ms=%.3f p90_ms=%.3f "
      "p99_ms=%.3f max_ms=%.3f tiling=ok\n",
      store.c_str(), opt.procs, static_cast<unsigned long long>(opt.range_size),
      opt.seconds, micros.size(), n / opt.seconds,
      static_cast<double>(numbers) / opt.seconds, ms(0.50), ms(0.90), ms(0.99),
      ms(1.0));
}

int Run(const Options& opt) {
  std::uint64_t before = 0;
  std::string store;
  {  // created if needed, and closed again before any fork
    auto s = store::OpenStore(opt.db_url, BenchFormat());
    before = s->Next();
    store = s->Describe();
  }
  std::vector<Record> records = RunChildren(opt);
  if (records.empty()) throw std::runtime_error("no reservation completed");
  const std::uint64_t after =
      store::OpenStore(opt.db_url, BenchFormat())->Next();
  CheckTiling(records, before, after);
  Report(opt, store, std::move(records));
  return 0;
}

}  // namespace
}  // namespace forge::bench

int main(int argc, char** argv) {
  forge::bench::Options opt;
  CLI::App app{"Range reservations per second from N processes on one store",
               "forge_store_load"};
  app.add_option("--db-url", opt.db_url, "sqlite:PATH or postgresql://...")
      ->required();
  app.add_option("--procs", opt.procs, "processes reserving at once (1..256)")
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", opt.seconds, "how long each reserves (0.1..3600)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--range-size", opt.range_size,
                 "numbers per reservation (1..1000000000)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000000000}));
  return forge::bench::ToolMain(app, argc, argv,
                                [&] { return forge::bench::Run(opt); });
}
