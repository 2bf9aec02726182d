// forge-ctl's building blocks that need no store: text helpers, the
// read-only ring scan and the producer-lock probe.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ctl/ring_scan.h"
#include "keys/key_codec.h"
#include "shm/producer_lock.h"
#include "shm/segment.h"
#include "stats/text.h"
#include "tests/support/process.h"

namespace forge::ctl {
namespace {

using forge::testing::ShmName;

// A segment of 8 slots for keys of `key_length` characters.
shm::SegmentSpec SmallSpec(std::uint32_t key_length) {
  shm::SegmentSpec spec;
  spec.capacity = 8;
  spec.key_length = key_length;
  spec.key_space = keys::KeySpace(static_cast<int>(key_length));
  return spec;
}

TEST(FillBar, FilledPartAndPercentAreRoundedDown) {
  EXPECT_EQ(stats::FillBar(0.52, 20), "[##########..........]  52.0%");
  EXPECT_EQ(stats::FillBar(0.0, 10), "[..........]   0.0%");
  EXPECT_EQ(stats::FillBar(1.0, 10), "[##########] 100.0%");
  // Nearly full is not shown as full.
  EXPECT_EQ(stats::FillBar(0.9999, 10), "[#########.]  99.9%");
  EXPECT_EQ(stats::FillBar(1.5, 4), "[####] 100.0%");  // clamped
}

TEST(HumanDuration, PicksAReadableUnit) {
  EXPECT_EQ(stats::HumanDuration(42), "42 s");
  EXPECT_EQ(stats::HumanDuration(90), "1.5 min");
  EXPECT_EQ(stats::HumanDuration(7200), "2.0 h");
  EXPECT_EQ(stats::HumanDuration(3 * 86400), "3.0 days");
  EXPECT_EQ(stats::HumanDuration(2 * 365.25 * 86400), "2.0 years");
  EXPECT_EQ(stats::HumanDuration(1e12), "31688 years");
}

TEST(UtcDates, AreUtc) {
  EXPECT_EQ(stats::UtcIso(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(stats::UtcDate(1700000000), "2023-11-14 22:13 UTC");
}

TEST(JsonQuote, EscapesWhatJsonRequires) {
  EXPECT_EQ(stats::JsonQuote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
}

class RingScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shm::SegmentSpec spec = SmallSpec(3);
    spec.store = "sqlite:/x.db";
    producer_.emplace(shm::Segment::OpenProducer(shm_.str(), spec));
  }

  void Push(const std::vector<std::string>& texts) {
    std::vector<shm::Key> keys(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      texts[i].copy(keys[i].text, texts[i].size());
    }
    ASSERT_EQ(producer_->ring().Push(keys.data(), keys.size()), keys.size());
  }

  RingKeys Scan() {
    const shm::ReadOnlySegment ro = shm::ReadOnlySegment::Attach(shm_.str());
    return ScanRing(ro);
  }

  ShmName shm_;
  std::optional<shm::Segment> producer_;
};

TEST_F(RingScanTest, EmptyRing) {
  const RingKeys r = Scan();
  EXPECT_TRUE(r.keys.empty());
  EXPECT_EQ(r.head, 0u);
}

TEST_F(RingScanTest, SeesUnclaimedKeysInOrderWithoutClaimingThem) {
  Push({"aaa", "bbb", "ccc", "ddd", "eee", "fff"});
  shm::Key k[4];
  ASSERT_EQ(producer_->ring().TryPopBatch(k, 4), 4u);
  Push({"ggg", "hhh", "iii", "jjj", "kkk", "lll"});  // wraps around slot 7
  const RingKeys r = Scan();
  EXPECT_EQ(r.head, 4u);
  EXPECT_EQ(r.keys, (std::vector<std::string>{"eee", "fff", "ggg", "hhh", "iii",
                                              "jjj", "kkk", "lll"}));
  EXPECT_EQ(producer_->ring().Size(), 8u) << "the scan claimed nothing";
}

TEST(LockProbe, NoFileIsReportedAndNotCreated) {
  ShmName shm;
  const std::string path = shm::Segment::LockPath(shm.str());
  EXPECT_EQ(shm::ProbeProducerLock(path).state, shm::LockProbe::State::kNoFile);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(LockProbe, HeldWhileAProducerLivesAndFreeAfter) {
  ShmName shm;
  const shm::SegmentSpec spec = SmallSpec(7);
  const std::string path = shm::Segment::LockPath(shm.str());
  {
    const shm::Segment producer = shm::Segment::OpenProducer(shm.str(), spec);
    const shm::LockProbe p = shm::ProbeProducerLock(path);
    EXPECT_EQ(p.state, shm::LockProbe::State::kHeld);
    EXPECT_EQ(p.holder_pid, ::getpid());
    // The probe let go: a second probe sees the same, not its own lock.
    EXPECT_EQ(shm::ProbeProducerLock(path).state, shm::LockProbe::State::kHeld);
  }
  EXPECT_EQ(shm::ProbeProducerLock(path).state, shm::LockProbe::State::kFree);
  // A free probe leaves the lock free for the next broker.
  const shm::Segment again = shm::Segment::OpenProducer(shm.str(), spec);
  EXPECT_EQ(shm::ProbeProducerLock(path).state, shm::LockProbe::State::kHeld);
}

// Issue 10 item 4: a probe takes no lock, so a broker starting while
// forge-ctl probes never finds the lock busy. 1,000 producer starts race a
// thread that probes without pause; every start must get the lock.
TEST(LockProbe, NeverMakesAStartingProducerFail) {
  ShmName shm;
  const shm::SegmentSpec spec = SmallSpec(7);
  const std::string path = shm::Segment::LockPath(shm.str());
  { const shm::Segment first = shm::Segment::OpenProducer(shm.str(), spec); }
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> probes{0};
  std::thread prober([&] {
    // relaxed: a stop flag and a counter; no data is passed through them.
    while (!stop.load(std::memory_order_relaxed)) {
      shm::ProbeProducerLock(path);
      probes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  int refused = 0;
  std::string first_refusal;
  for (int i = 0; i < 1000; ++i) {
    // Start only once the prober has run since the last start.
    const std::uint64_t seen = probes.load();
    while (probes.load() == seen) std::this_thread::yield();
    try {
      const shm::Segment producer = shm::Segment::OpenProducer(shm.str(), spec);
    } catch (const shm::ProducerLocked& e) {
      if (refused++ == 0) first_refusal = e.what();
    }
  }
  stop.store(true);
  prober.join();
  EXPECT_EQ(refused, 0) << "first: " << first_refusal;
  EXPECT_GE(probes.load(), 1000u);
}

// The pid in the lock file is only the holder's while the lock is held: a
// file naming a live process (this one) with nobody holding the lock is
// free. A pid file would say "held by" here.
TEST(LockProbe, FileNamingALivePidWithoutTheLockIsFree) {
  ShmName shm;
  const std::string path = shm::Segment::LockPath(shm.str());
  {
    std::ofstream f(path);
    f << ::getpid() << "\n";
  }
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(shm::ProbeProducerLock(path).state, shm::LockProbe::State::kFree);
}

}  // namespace
}  // namespace forge::ctl
