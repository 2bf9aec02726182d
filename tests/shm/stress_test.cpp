// tests/shm/stress_test.cpp — one producer and several consumer processes
// on a real segment: every number is delivered exactly once, also while
// consumers are SIGKILLed at random moments.
//
// Scale: FORGE_TEST_SCALE (a factor, default 1; 0.2 under sanitizers)
// multiplies the key counts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "shm/notify.h"
#include "shm/segment.h"
#include "shm/workers.h"
#include "tests/shm/child.h"
#include "tests/shm/test_keys.h"
#include "tests/support/process.h"

namespace forge::shm::testing {
namespace {

using forge::testing::ShmName;
using forge::testing::TempDir;
using namespace std::chrono;  // durations and clocks throughout

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kDefaultScale = 0.2;
#else
constexpr double kDefaultScale = 1.0;
#endif

std::uint64_t Scaled(std::uint64_t n) {
  const char* env = std::getenv("FORGE_TEST_SCALE");
  const double scale = env ? std::atof(env) : kDefaultScale;
  return std::max<std::uint64_t>(
      1000, static_cast<std::uint64_t>(static_cast<double>(n) * scale));
}

Segment OpenRing(const std::string& name, std::uint64_t capacity) {
  SegmentSpec s;
  s.capacity = capacity;
  Segment seg = Segment::OpenProducer(name, s);
  seg.broker().low_water.store(capacity / 2);
  return seg;
}

// Pushes what fits of [*next, end) in batches of up to 256 and wakes
// sleeping consumers; returns whether anything was pushed.
bool PushSome(Segment& seg, std::uint64_t* next, std::uint64_t end) {
  Key batch[256];
  const std::size_t n = std::min<std::uint64_t>(256, end - *next);
  for (std::size_t i = 0; i < n; ++i) batch[i] = MakeKey(*next + i);
  const std::size_t pushed = seg.ring().Push(batch, n);
  *next += pushed;
  if (pushed > 0) WakeConsumers(seg);
  return pushed == n;
}

// Child: pushes numbers [first, end), sleeping on low water when full,
// then marks the segment exhausted (the consumers' signal to finish).
int Produce(Segment& seg, std::uint64_t first, std::uint64_t end) {
  std::uint64_t next = first;
  while (next < end) {
    if (!PushSome(seg, &next, end)) WaitForLowWater(seg, milliseconds(100));
  }
  // relaxed: published by the release store of state below.
  seg.broker().keys_produced.store(end, std::memory_order_relaxed);
  // release: the consumer that reads kExhausted sees the final tail.
  seg.broker().state.store(static_cast<std::uint32_t>(BrokerState::kExhausted),
                           std::memory_order_release);
  WakeConsumers(seg);
  return 0;
}

bool Exhausted(const Segment& seg) {
  // acquire: pairs with the producer's release store in Produce().
  return seg.broker().state.load(std::memory_order_acquire) ==
         static_cast<std::uint32_t>(BrokerState::kExhausted);
}

bool WriteAll(int fd, const void* data, std::size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
  return true;
}

// How a consumer pops: half single pops, half batches of 1..64, or
// single pops only (the /get-key pattern).
enum class PopMix { kMixed, kSingle };

// Child: pops (see PopMix) until the producer is done and the ring is
// empty; appends every number it got to `path`.
// `unbuffered` writes after every pop, so a SIGKILL loses at most the
// claim in flight.
int Consume(const std::string& name, const std::string& path,
            std::uint64_t seed, bool unbuffered, PopMix mix = PopMix::kMixed) {
  Segment seg = Segment::Attach(name);
  const auto slot = ClaimWorkerSlot(seg, ::getpid(), ::getppid());
  if (!slot) return 5;
  WorkerSlot& stats = seg.worker(*slot);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return 6;
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> out;
  Key keys[64];
  for (;;) {
    const std::size_t want =
        mix == PopMix::kSingle || rng() % 2 ? 1 : 1 + rng() % 64;
    const std::size_t got = want == 1 ? (seg.ring().TryPop(keys) ? 1 : 0)
                                      : seg.ring().TryPopBatch(keys, want);
    if (got == 0) {
      if (Exhausted(seg) && seg.ring().Size() == 0) break;
      WaitForKeys(seg, steady_clock::now() + milliseconds(50));
      continue;
    }
    MaybeWakeProducer(seg);
    for (std::size_t i = 0; i < got; ++i) {
      if (!Valid(keys[i])) return 4;  // torn copy handed out
      out.push_back(NumberOf(keys[i]));
    }
    // relaxed: counters the parent reads after this process exited.
    stats.served.fetch_add(got, std::memory_order_relaxed);
    stats.requests.fetch_add(1, std::memory_order_relaxed);  // pop calls
    if (unbuffered || out.size() >= 8192) {
      if (!WriteAll(fd, out.data(), out.size() * 8)) return 7;
      out.clear();
    }
  }
  if (!WriteAll(fd, out.data(), out.size() * 8)) return 7;
  ReleaseWorkerSlot(seg, *slot, ::getpid());
  return ::close(fd) == 0 ? 0 : 8;
}

struct Tally {
  std::uint64_t delivered = 0;   // distinct numbers seen
  std::uint64_t duplicates = 0;  // extra copies
  std::uint64_t missing = 0;     // never seen
  std::uint64_t foreign = 0;     // out of range
};

// Reads every consumer file (a trailing partial record, from a write cut
// by SIGKILL, is ignored) and counts each number.
Tally Count(const std::vector<std::string>& files, std::uint64_t produced) {
  std::vector<std::uint8_t> seen(produced, 0);
  Tally t;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::uint64_t n;
    while (in.read(reinterpret_cast<char*>(&n), sizeof(n))) {
      if (n >= produced) {
        ++t.foreign;
      } else if (seen[n]++ > 0) {
        ++t.duplicates;
      }
    }
  }
  for (std::uint8_t s : seen) (s > 0 ? t.delivered : t.missing) += 1;
  return t;
}

// How many numbers a consumer has written to its file so far. (Its slot's
// served counter would not do: counters carry over to the next owner.)
std::uint64_t Written(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0
             ? static_cast<std::uint64_t>(st.st_size) / 8
             : 0;
}

// The ring still works after the run: new keys go in and come out whole.
void ExpectRingUsable(Segment& seg) {
  const std::uint64_t head = seg.ring().Size();
  EXPECT_EQ(head, 0u) << "keys left behind";
  std::vector<Key> keys;
  for (std::uint64_t i = 0; i < 100; ++i) keys.push_back(MakeKey(~i));
  ASSERT_EQ(seg.ring().Push(keys.data(), keys.size()), 100u);
  Key out[128];
  ASSERT_EQ(seg.ring().TryPopBatch(out, 128), 100u);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(NumberOf(out[i]), ~i);
}

class StressTest : public ::testing::Test {
 protected:
  std::string File(int i) const { return dir_ / ("c" + std::to_string(i)); }

  ShmName name_;
  TempDir dir_;
};

// 1 producer and 4 consumer processes; every number exactly once.
void RunFourConsumers(const std::string& name, const TempDir& dir,
                      std::uint64_t keys, PopMix mix) {
  constexpr int kConsumers = 4;
  Segment seg = OpenRing(name, 4096);
  const auto start = steady_clock::now();
  std::vector<Child> consumers;
  std::vector<std::string> files;
  for (int i = 0; i < kConsumers; ++i) {
    files.push_back(dir / ("c" + std::to_string(i)));
    consumers.emplace_back(
        [&, i] { return Consume(name, files[i], 1000 + i, false, mix); });
  }
  Child producer([&] { return Produce(seg, 0, keys); });
  EXPECT_EQ(producer.Wait(seconds(120)), 0);
  for (Child& c : consumers) EXPECT_EQ(c.Wait(seconds(60)), 0);
  const double secs =
      std::chrono::duration<double>(steady_clock::now() - start).count();
  std::uint64_t pops = 0;  // successful pop calls (one CAS each)
  for (std::uint32_t i = 0; i < kMaxWorkers; ++i) {
    pops += seg.worker(i).requests.load();
  }
  std::printf(
      "[ stress   ] %s pops, %llu keys, 1 producer + %d consumers: %.2f s, "
      "%.1f M keys/s in %.1f M pops/s\n",
      mix == PopMix::kSingle ? "single" : "mixed",
      static_cast<unsigned long long>(keys), kConsumers, secs,
      static_cast<double>(keys) / secs / 1e6,
      static_cast<double>(pops) / secs / 1e6);

  const Tally t = Count(files, keys);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.foreign, 0u);
  EXPECT_EQ(t.missing, 0u);
  EXPECT_EQ(t.delivered, keys);
  ExpectRingUsable(seg);
}

TEST_F(StressTest, FourConsumersGetEveryKeyExactlyOnce) {
  RunFourConsumers(name_.str(), dir_, Scaled(10'000'000), PopMix::kMixed);
}

TEST_F(StressTest, FourSinglePopConsumersGetEveryKeyExactlyOnce) {
  RunFourConsumers(name_.str(), dir_, Scaled(2'000'000), PopMix::kSingle);
}

// Consumers are killed one after another at random progress points while
// another consumer runs. During that phase this process is the producer,
// so a small ring bounds how far consumers get between two checks; then a
// producer child and two drainers finish the job.
TEST_F(StressTest, KilledConsumersLoseOnlyTheirClaimInFlight) {
  const std::uint64_t kKeys =
      std::max<std::uint64_t>(Scaled(2'000'000), 200'000);
  constexpr int kKills = 24;
  constexpr std::uint64_t kMaxBatch = 64;
  Segment seg = OpenRing(name_.str(), 512);
  std::mt19937_64 rng(42);
  std::vector<std::string> files;
  std::deque<Child> victims;
  auto spawn_victim = [&] {
    const int i = static_cast<int>(files.size());
    files.push_back(File(i));
    victims.emplace_back(
        [&, i] { return Consume(name_.str(), files[i], 7 * i, true); });
  };
  auto new_target = [&] { return 1 + rng() % (kKeys / (4 * kKills)); };
  spawn_victim();
  spawn_victim();
  std::uint64_t next = 0, target = new_target();
  int kills = 0;
  while (kills < kKills && next < kKeys) {
    const bool all_fit = PushSome(seg, &next, kKeys);
    // Kill the older victim once it has written its random target, while
    // the younger one keeps popping.
    if (Written(files[files.size() - 2]) >= target) {
      victims.front().Kill();
      victims.pop_front();
      ++kills;
      target = new_target();
      spawn_victim();
    }
    if (!all_fit) WaitForLowWater(seg, milliseconds(2));
  }
  Child producer([&] { return Produce(seg, next, kKeys); });
  std::vector<Child> drainers;
  for (int i = 0; i < 2; ++i) {
    files.push_back(File(100 + i));
    const std::string f = files.back();
    drainers.emplace_back(
        [&, f, i] { return Consume(name_.str(), f, 99 + i, false); });
  }
  EXPECT_EQ(producer.Wait(seconds(120)), 0);
  for (Child& c : drainers) EXPECT_EQ(c.Wait(seconds(60)), 0);
  for (Child& c : victims) EXPECT_EQ(c.Wait(seconds(60)), 0);

  const Tally t = Count(files, kKeys);
  std::printf(
      "[ stress   ] %d consumers killed: %llu of %llu keys missing "
      "(bound %llu)\n",
      kills, static_cast<unsigned long long>(t.missing),
      static_cast<unsigned long long>(kKeys),
      static_cast<unsigned long long>(kMaxBatch * kills));
  EXPECT_EQ(kills, kKills);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.foreign, 0u);
  EXPECT_EQ(t.delivered + t.missing, kKeys);
  EXPECT_LE(t.missing, kMaxBatch * kills);
  ExpectRingUsable(seg);
}

}  // namespace
}  // namespace forge::shm::testing
