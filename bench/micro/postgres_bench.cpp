// bench/micro/postgres_bench.cpp — throughput and latency of the PostgreSQL
// store: durable range reservations from 1 and from several processes at
// once, each with its own connection (as separate brokers would be).
//
//   postgres_bench URL [SECONDS=5] [COUNT=1000] [PROCS...=1 4]
//
// Prints, per process count: reservations, reservations/s, p50, p99 and the
// worst reservation latency. The store at URL is created (KEY_LENGTH=10,
// sequential) if needed; its counter only moves forward. Needs a running
// server, so it is not part of the CMake build or of CI.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "store/postgres_store.h"

namespace forge::store {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string url;
  double seconds = 5;
  std::uint64_t count = 1000;
  std::vector<int> procs = {1, 4};
};

StoreFormat BenchFormat() {
  StoreFormat format;
  format.key_length = 10;  // room for every run
  format.order = keys::KeyOrder::kSequential;
  return format;
}

// One process's loop: reservation latencies in microseconds, streamed to
// `fd` as they are taken.
void RunChild(const Args& args, int gate, int fd) {
  auto store = OpenPostgresStore(args.url, BenchFormat());
  char c;
  while (::read(gate, &c, 1) > 0) {
  }  // EOF: every process starts now
  const auto end = Clock::now() + std::chrono::duration<double>(args.seconds);
  std::vector<std::uint32_t> micros;
  while (Clock::now() < end) {
    const auto t0 = Clock::now();
    store->Reserve(args.count);
    micros.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0)
            .count()));
  }
  const auto bytes = static_cast<ssize_t>(micros.size() * sizeof(micros[0]));
  if (::write(fd, micros.data(), static_cast<std::size_t>(bytes)) != bytes) {
    throw std::runtime_error("short write to the parent");
  }
}

// Everything one child wrote, until it closed its end.
std::vector<std::uint32_t> ReadAll(int fd) {
  std::string bytes;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  std::vector<std::uint32_t> out(bytes.size() / sizeof(std::uint32_t));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(std::uint32_t));
  return out;
}

void Measure(const Args& args, int procs) {
  int gate[2];
  if (::pipe(gate) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  std::vector<int> results;  // one pipe per child: no interleaved writes
  for (int i = 0; i < procs; ++i) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      ::close(out[0]);
      try {
        RunChild(args, gate[0], out[1]);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "postgres_bench: %s\n", e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(out[1]);
    pids.push_back(pid);
    results.push_back(out[0]);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // EOF on the gate releases every child
  std::vector<std::uint32_t> micros;
  for (int fd : results) {
    const std::vector<std::uint32_t> got = ReadAll(fd);
    micros.insert(micros.end(), got.begin(), got.end());
    ::close(fd);
  }
  bool ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!ok || micros.empty()) throw std::runtime_error("a child failed");
  std::sort(micros.begin(), micros.end());
  const auto n = static_cast<double>(micros.size());
  const auto at = [&](double q) {
    return micros[static_cast<std::size_t>(q * (n - 1))] / 1000.0;
  };
  std::printf(
      "procs=%d count=%llu reservations=%zu reservations/s=%.0f "
      "numbers/s=%.0f p50=%.2fms p99=%.2fms max=%.2fms\n",
      procs, static_cast<unsigned long long>(args.count), micros.size(),
      n / args.seconds, n * static_cast<double>(args.count) / args.seconds,
      at(0.50), at(0.99), micros.back() / 1000.0);
}

Args Parse(int argc, char** argv) {
  if (argc < 2) {
    throw std::runtime_error(
        "usage: postgres_bench URL [SECONDS=5] [COUNT=1000] [PROCS...=1 4]");
  }
  Args args;
  args.url = argv[1];
  if (argc > 2) args.seconds = std::atof(argv[2]);
  if (argc > 3) args.count = std::strtoull(argv[3], nullptr, 10);
  if (argc > 4) args.procs.clear();
  for (int i = 4; i < argc; ++i) args.procs.push_back(std::atoi(argv[i]));
  if (args.seconds <= 0 || args.count == 0 || args.procs.empty()) {
    throw std::runtime_error("SECONDS, COUNT and PROCS must be positive");
  }
  return args;
}

}  // namespace
}  // namespace forge::store

int main(int argc, char** argv) {
  try {
    const forge::broker::Args args = forge::broker::Parse(argc, argv);
    // Created here, closed before any fork.
    forge::store::OpenPostgresStore(args.url, forge::broker::BenchFormat());
    for (int procs : args.procs) forge::broker::Measure(args, procs);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postgres_bench: %s\n", e.what());
    return 1;
  }
}
