// Shared-memory faults against the real programs (issue 4, item 5): a
// segment with a foreign magic, another layout version, a wrong size,
// loose permissions or another owner; a broker still alive on the name; a
// stale segment whose broker was SIGKILLed. What each program must do is
// the contract of shm/segment.h:
//   * forge-broker refuses (exit 2, one ERROR line) a segment it must not
//     interpret or may not trust (magic, version, owner, mode), replaces
//     one no consumer can be using (wrong size, other capacity with no
//     live worker), and re-attaches a compatible one keeping its keys;
//   * forge-ctl stats refuses every unusable segment (exit 1, one line);
//   * forge-frontend workers refuse to attach (one log line each, not one
//     per retry), answer 503, and keep running; the refused file is never
//     modified by anyone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "shm/layout.h"
#include "shm/workers.h"
#include "tests/faults/fault_util.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace forge::faults {
namespace {

using std::chrono::milliseconds;
using testing::Bin;
using testing::Env;
using testing::Get;
using testing::Process;
using testing::ShmName;
using testing::TempDir;
using testing::WaitUntil;

constexpr std::uint64_t kCapacity = 256;
constexpr int kWorkers = 2;
constexpr auto kDeadline = milliseconds(15000);

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Overwrites `size` bytes at `offset` of the segment file.
void Poke(const std::string& path, off_t offset, const void* data,
          std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, data, size, offset), static_cast<ssize_t>(size));
  ::close(fd);
}

class ShmFaultTest : public ::testing::Test {
 protected:
  Env BaseEnv() const {
    return {{"SHM_NAME", shm_.str()},
            {"DB_URL", "sqlite:" + (dir_ / "forge.db")},
            {"POOL_CAPACITY", std::to_string(kCapacity)},
            {"RANGE_SIZE", "64"},
            {"KEY_ORDER", "sequential"},
            {"HOST", "127.0.0.1"},
            {"PORT", std::to_string(port_)},
            {"WORKERS", std::to_string(kWorkers)},
            {"EMPTY_WAIT_MS", "50"}};
  }
  Process Start(const std::string& program, const Env& extra = {}) {
    Env env = BaseEnv();
    for (const auto& [k, v] : extra) env[k] = v;
    return Process::Start({Bin(program)}, env, dir_.path());
  }
  std::string Path() const { return shm::Segment::ObjectPath(shm_.str()); }

  // A real segment, left behind by a broker that stopped cleanly.
  void MakeSegment() {
    Process broker = Start("forge-broker");
    RingConsumer c(shm_.str());
    ASSERT_TRUE(c.Attach()) << broker.Stderr();
    ASSERT_TRUE(WaitUntil(
        [&] { return c.segment().ring().Size() == kCapacity; }, kDeadline));
    broker.Signal(SIGTERM);
    ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  }

  // forge-ctl stats: exit 1 and exactly one line naming the problem.
  void ExpectCtlRefuses(const std::string& needle) {
    const testing::RunResult r =
        testing::Run({Bin("forge-ctl"), "stats", "--interval", "0"}, BaseEnv(),
                     kDeadline, dir_.path());
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    const auto lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(Path()), std::string::npos) << lines[0];
  }

  // forge-broker: exit 2 and one ERROR line naming the problem.
  void ExpectBrokerRefuses(const std::string& needle) {
    Process broker = Start("forge-broker");
    EXPECT_EQ(broker.Wait(kDeadline), 2) << broker.Stderr();
    ExpectOneErrorLine(broker.Stderr(), {needle, Path()});
  }

  // forge-frontend: every worker says once why it cannot attach, requests
  // get 503, and the frontend keeps running.
  void ExpectFrontendRefuses(const std::string& needle) {
    Process frontend = Start("forge-frontend");
    const auto said = [&] {
      return LinesWith(frontend.Stderr(), needle).size();
    };
    ASSERT_TRUE(WaitUntil([&] { return said() == kWorkers; }, kDeadline))
        << frontend.Stderr();
    for (int i = 0; i < 10; ++i) {
      const auto r = Get(port_, "/get-key");
      EXPECT_EQ(r.status, 503) << r.body << r.error;
      EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << r.body;
    }
    EXPECT_EQ(Get(port_, "/healthz").status, 503);
    // Requests and the 150 ms maintenance retried: still one line each.
    EXPECT_EQ(said(), static_cast<std::size_t>(kWorkers)) << frontend.Stderr();
    EXPECT_TRUE(frontend.Running());
    frontend.Signal(SIGTERM);
    EXPECT_EQ(frontend.Wait(kDeadline), 0) << frontend.Stderr();
  }

  // All three refuse, and the segment file is exactly as it was.
  void ExpectEveryProgramRefuses(const std::string& needle) {
    const std::string before = FileBytes(Path());
    ASSERT_NO_FATAL_FAILURE(ExpectCtlRefuses(needle));
    ASSERT_NO_FATAL_FAILURE(ExpectBrokerRefuses(needle));
    ASSERT_NO_FATAL_FAILURE(ExpectFrontendRefuses(needle));
    EXPECT_TRUE(FileBytes(Path()) == before) << "the segment was modified";
  }

  TempDir dir_;
  ShmName shm_;
  int port_ = testing::FreePort();
};

TEST_F(ShmFaultTest, ForeignMagicIsRefusedByEveryProgram) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  const std::uint64_t magic = 0x0123456789abcdefULL;
  Poke(Path(), offsetof(shm::Header, magic), &magic, sizeof magic);
  ExpectEveryProgramRefuses("is not a mini-forge segment");
}

TEST_F(ShmFaultTest, OtherLayoutVersionIsRefusedByEveryProgram) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  const std::uint32_t version = shm::kLayoutVersion + 98;
  Poke(Path(), offsetof(shm::Header, layout_version), &version, sizeof version);
  ExpectEveryProgramRefuses("layout version " + std::to_string(version));
}

TEST_F(ShmFaultTest, LooseModeIsRefusedByEveryProgram) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  ASSERT_EQ(::chmod(Path().c_str(), 0644), 0);
  ExpectEveryProgramRefuses("has mode 0644");
}

TEST_F(ShmFaultTest, AnotherOwnerIsRefusedByEveryProgram) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  if (::geteuid() != 0) GTEST_SKIP() << "only root can give a file away";
  const uid_t nobody = 65534;
  ASSERT_EQ(::chown(Path().c_str(), nobody, nobody), 0);
  ExpectEveryProgramRefuses("owned by uid 65534");
}

// A wrong size is refused by the readers; the broker replaces such a
// segment (nothing can be attached to it), and the frontend then serves.
TEST_F(ShmFaultTest, WrongSizeIsRefusedByReadersAndReplacedByTheBroker) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  ASSERT_EQ(::truncate(Path().c_str(), shm::SegmentSize(kCapacity) + 4096), 0);
  ASSERT_NO_FATAL_FAILURE(ExpectCtlRefuses("bytes"));
  Process frontend = Start("forge-frontend");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return LinesWith(frontend.Stderr(), "cannot attach").size() == kWorkers;
      },
      kDeadline))
      << frontend.Stderr();
  EXPECT_EQ(Get(port_, "/get-key").status, 503);
  Process broker = Start("forge-broker");
  ASSERT_TRUE(WaitUntil([&] { return Get(port_, "/get-key").status == 200; },
                        kDeadline))
      << broker.Stderr() << frontend.Stderr();
  EXPECT_EQ(LinesWith(broker.Stderr(), "replaced").size(), 1u)
      << broker.Stderr();
  EXPECT_EQ(std::filesystem::file_size(Path()), shm::SegmentSize(kCapacity));
}

// Another capacity: replaced when no worker is attached, refused (naming
// the worker) while one is.
TEST_F(ShmFaultTest, OtherCapacityIsReplacedOnlyWhenNoWorkerIsAttached) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  const Env bigger = {{"POOL_CAPACITY", std::to_string(2 * kCapacity)}};
  {
    Process frontend = Start("forge-frontend");
    ASSERT_TRUE(WaitUntil(
        [&] {
          return LinesWith(frontend.Stderr(), "attached segment").size() ==
                 kWorkers;
        },
        kDeadline))
        << frontend.Stderr();
    Process broker = Start("forge-broker", bigger);
    EXPECT_EQ(broker.Wait(kDeadline), 2) << broker.Stderr();
    ExpectOneErrorLine(broker.Stderr(), {"worker pid", "capacity"});
    frontend.Signal(SIGTERM);
    ASSERT_EQ(frontend.Wait(kDeadline), 0);
  }
  Process broker = Start("forge-broker", bigger);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return LinesWith(broker.Stderr(), "replaced an unusable segment")
                   .size() == 1;
      },
      kDeadline))
      << broker.Stderr();
  EXPECT_EQ(std::filesystem::file_size(Path()),
            shm::SegmentSize(2 * kCapacity));
}

TEST_F(ShmFaultTest, SecondBrokerIsRefusedNamingTheFirst) {
  Process first = Start("forge-broker");
  RingConsumer c(shm_.str());
  ASSERT_TRUE(c.Attach());
  ASSERT_TRUE(
      WaitUntil([&] { return c.segment().broker().pid.load() == first.pid(); },
                kDeadline));
  ExpectBrokerRefuses(std::to_string(first.pid()));
  EXPECT_TRUE(first.Running());
  EXPECT_EQ(c.segment().broker().pid.load(), first.pid());
}

// kill -9 leaves the segment and its ring; the next broker re-attaches
// it, keeps those keys (they are served first) and adds only new ones.
TEST_F(ShmFaultTest, StaleSegmentOfAKilledBrokerIsReattachedKeepingItsKeys) {
  Process first = Start("forge-broker");
  RingConsumer c(shm_.str());
  ASSERT_TRUE(c.Attach());
  ASSERT_TRUE(c.Pop(kCapacity + 100)) << first.Stderr();
  ASSERT_TRUE(WaitUntil([&] { return c.segment().ring().Size() == kCapacity; },
                        kDeadline));
  first.Kill();
  ASSERT_EQ(c.PopNow(10), 10u);  // consumers go on while it is dead
  const std::size_t kept = kCapacity - 10;
  ASSERT_EQ(c.segment().ring().Size(), kept);
  // Everything the dead broker reserved lies below this counter.
  const std::uint64_t old_next = c.segment().broker().store_next.load();
  const std::size_t served_before = c.keys().size();

  Process second = Start("forge-broker");
  ASSERT_TRUE(
      WaitUntil([&] { return c.segment().broker().pid.load() == second.pid(); },
                kDeadline))
      << second.Stderr();
  ASSERT_TRUE(c.Pop(kept + 200)) << second.Stderr();
  EXPECT_TRUE(c.unique());
  EXPECT_NE(second.Stderr().find("(" + std::to_string(kept) + " keys kept)"),
            std::string::npos)
      << second.Stderr();
  // The kept keys come first, then numbers the dead broker never reserved.
  for (std::size_t i = served_before; i < c.keys().size(); ++i) {
    const std::uint64_t n = SequentialNumber(c.keys()[i]).value_or(~0ull);
    if (i < served_before + kept) {
      ASSERT_LT(n, old_next) << "key " << i << " is not a kept one";
    } else {
      ASSERT_GE(n, old_next) << "key " << i << " reuses a reserved number";
    }
  }
}

}  // namespace
}  // namespace forge::faults
