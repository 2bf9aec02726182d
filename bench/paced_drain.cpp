// bench/paced_drain.cpp — forge_paced_drain: takes keys straight from one
// or more segments' rings at a steady rate, and samples each broker's own
// counters once a second (bench/reservations.sh, issue 18 §3).
//
//   forge_paced_drain --shm NAME [--shm NAME ...] --rate KEYS_PER_S
//                     [--seconds S] [--wait S]
//
// Contract
//   * One libforge-client client per segment (the consumer every client
//     uses; it registers as kind "client"). --rate is the total: each
//     segment is drained at rate / N keys/s, paced every millisecond
//     against the clock (what is due since the start, not a fixed batch),
//     so a late tick catches up. A backlog of more than 100 ms (the ring
//     ran dry, the broker is late) is dropped and counted as missed rather
//     than taken in a burst later.
//   * The clock starts when the tool does; a segment that does not exist
//     yet is waited for up to --wait seconds (the script starts the
//     brokers just before), its keys counted as missed meanwhile.
//   * Once a second (absolute deadlines, so the rows do not drift) it
//     prints one row:
//       t=SECOND keys=TAKEN missed=MISSED dry=DRY late_ms=LATE
//       reserved=R1,R2,.. size=S1,S2,..
//     (one line). TAKEN and MISSED over that second, summed over the
//     segments; DRY the ticks at which a segment's ring had no key for
//     what was due (the broker did not keep up: its fault); LATE the
//     most a tick of that second woke after its time (the tool was not
//     scheduled: the machine's fault; the row of a second that passed
//     while it slept is printed at once, with the keys of no time); Ri the
//     reservations segment i's broker made in that second
//     (BrokerStats::ranges_reserved, read with stats::TryReadSnapshot as
//     forge-ctl stats reads it; counted from 0: the segments are fresh);
//     Si its latest reservation's size (BrokerStats::range_size).
//   * Exit 0 after --seconds; 1 (one line on stderr) when a segment never
//     appeared or a pop failed for another reason than an empty ring or no
//     broker alive (yet); 2 on a bad option.
#include <forge/client.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/clock.h"
#include "bench/tool_main.h"
#include "stats/stats.h"

namespace forge::bench {
namespace {

constexpr std::int64_t kTickNs = 1'000'000;  // pacing period
constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::size_t kMaxBatch = 4096;  // keys per forge_client_get_keys

struct Options {
  std::vector<std::string> shm_names;
  double rate = 100000;
  int seconds = 20;
  double wait = 10;
};

std::int64_t MonotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kSecondNs + ts.tv_nsec;
}

void SleepUntil(std::int64_t ns) {
  const timespec ts{static_cast<time_t>(ns / kSecondNs), ns % kSecondNs};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
}

// One segment: its client (opened once the segment exists), what is due,
// and the counters of the current one-second row.
class Drain {
 public:
  Drain(std::string name, double rate) : name_(std::move(name)), rate_(rate) {}
  ~Drain() { forge_client_close(client_); }
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  // Takes what is due `elapsed_ns` after the start, at most 100 ms of it.
  void Pace(std::int64_t elapsed_ns) {
    const auto due = static_cast<std::uint64_t>(
        rate_ * static_cast<double>(elapsed_ns) / kSecondNs);
    const auto backlog_cap = static_cast<std::uint64_t>(rate_ / 10);
    if (due > done_ + backlog_cap) {  // too far behind: drop, do not burst
      missed_ += due - backlog_cap - done_;
      done_ = due - backlog_cap;
    }
    if (due <= done_) return;
    if (!Open()) {  // no segment yet: no key either
      ++dry_;
      return;
    }
    while (done_ < due) {
      const std::size_t got =
          Take(std::min<std::uint64_t>(due - done_, kMaxBatch));
      done_ += got;
      taken_ += got;
      if (got == 0) {  // the ring is empty for now
        ++dry_;
        return;
      }
    }
  }

  // The counters of the row that ends now: keys taken and missed since the
  // last row, reservations since the last row and the latest range size.
  struct Row {
    std::uint64_t taken = 0;
    std::uint64_t missed = 0;
    std::uint64_t dry = 0;
    std::uint64_t reserved = 0;
    std::uint64_t size = 0;
  };
  Row EndRow() {
    Row row{taken_, missed_, dry_, 0, 0};
    std::string problem;
    if (const auto snap =
            stats::TryReadSnapshot(name_, base::UnixNowNs(), &problem)) {
      row.reserved =
          snap->ranges_reserved - std::min(reserved_, snap->ranges_reserved);
      reserved_ = snap->ranges_reserved;
      row.size = snap->range_size;
    }
    taken_ = missed_ = dry_ = 0;
    return row;
  }

  // Throws when the segment is still missing: called after --wait.
  void RequireOpen() {
    if (!Open()) {
      throw std::runtime_error("segment \"" + name_ +
                               "\" did not appear: " + forge_last_error());
    }
  }

 private:
  // Opens the client once the segment exists; false until then.
  bool Open() {
    if (client_ != nullptr) return true;
    if (forge_client_open(name_.c_str(), &client_) != FORGE_OK) return false;
    std::size_t length = 0;
    if (forge_client_key_length(client_, nullptr, &length) != FORGE_OK) {
      throw std::runtime_error(name_ + ": " + forge_last_error());
    }
    buf_.resize(kMaxBatch * (length + 1) + 1);
    return true;
  }

  // Up to `n` keys from the ring without waiting; 0 when it is empty.
  [[nodiscard]] std::size_t Take(std::size_t n) {
    std::size_t got = 0;
    const int rc = forge_client_get_keys(client_, nullptr, n, buf_.data(),
                                         buf_.size(), &got, 0);
    if (rc == FORGE_OK) return got;
    // Empty, or no broker alive yet (it has just created the segment, or
    // is restarting): the keys due are missed, not an error.
    if (rc == FORGE_EEMPTY || rc == FORGE_ENOBROKER) return 0;
    throw std::runtime_error(name_ + ": " + forge_strerror(rc) + ": " +
                             forge_last_error());
  }

  std::string name_;
  double rate_;
  forge_client* client_ = nullptr;
  std::vector<char> buf_;
  std::uint64_t done_ = 0;  // keys taken or missed since the start
  std::uint64_t taken_ = 0;
  std::uint64_t missed_ = 0;
  std::uint64_t dry_ = 0;       // ticks the ring had no key for what was due
  std::uint64_t reserved_ = 0;  // ranges_reserved at the last row
};

std::string Joined(const std::vector<std::uint64_t>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out += (i ? "," : "") + std::to_string(v[i]);
  }
  return out;
}

void PrintRow(int second, std::int64_t late_ns,
              const std::vector<Drain*>& drains) {
  std::uint64_t taken = 0;
  std::uint64_t missed = 0;
  std::uint64_t dry = 0;
  std::vector<std::uint64_t> reserved;
  std::vector<std::uint64_t> sizes;
  for (Drain* d : drains) {
    const Drain::Row row = d->EndRow();
    taken += row.taken;
    missed += row.missed;
    dry += row.dry;
    reserved.push_back(row.reserved);
    sizes.push_back(row.size);
  }
  std::printf(
      "t=%d keys=%llu missed=%llu dry=%llu late_ms=%lld reserved=%s size=%s\n",
      second, static_cast<unsigned long long>(taken),
      static_cast<unsigned long long>(missed),
      static_cast<unsigned long long>(dry),
      static_cast<long long>(late_ns / 1'000'000), Joined(reserved).c_str(),
      Joined(sizes).c_str());
  std::fflush(stdout);
}

int Run(const Options& opt) {
  std::vector<std::unique_ptr<Drain>> owned;
  std::vector<Drain*> drains;
  const double each = opt.rate / static_cast<double>(opt.shm_names.size());
  for (const std::string& name : opt.shm_names) {
    owned.push_back(std::make_unique<Drain>(name, each));
    drains.push_back(owned.back().get());
  }
  const std::int64_t start = MonotonicNs();
  const auto wait_ns = static_cast<std::int64_t>(opt.wait * kSecondNs);
  bool checked = false;
  for (int second = 1; second <= opt.seconds; ++second) {
    const std::int64_t row_end = start + second * kSecondNs;
    std::int64_t late_ns = 0;
    for (std::int64_t tick = row_end - kSecondNs + kTickNs; tick <= row_end;
         tick += kTickNs) {
      SleepUntil(tick);
      const std::int64_t now = MonotonicNs();
      late_ns = std::max(late_ns, now - tick);
      for (Drain* d : drains) d->Pace(now - start);
      if (!checked && MonotonicNs() - start >= wait_ns) {
        for (Drain* d : drains) d->RequireOpen();
        checked = true;
      }
    }
    PrintRow(second, late_ns, drains);
  }
  if (!checked) {
    for (Drain* d : drains) d->RequireOpen();
  }
  return 0;
}

}  // namespace
}  // namespace forge::bench

int main(int argc, char** argv) {
  forge::bench::Options opt;
  CLI::App app{
      "Keys taken from segments at a steady rate; the brokers' "
      "reservations per second",
      "forge_paced_drain"};
  app.add_option("--shm", opt.shm_names, "SHM_NAME of a segment (repeatable)")
      ->required();
  app.add_option("--rate", opt.rate, "keys per second over all segments")
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--seconds", opt.seconds, "rows to print, one a second")
      ->check(CLI::Range(1, 3600));
  app.add_option("--wait", opt.wait, "seconds a segment may take to appear")
      ->check(CLI::Range(0.0, 600.0));
  return forge::bench::ToolMain(app, argc, argv,
                                [&] { return forge::bench::Run(opt); });
}
