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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/process.h"
#include "shm/layout.h"
#include "shm/workers.h"
#include "tests/faults/fault_util.h"
#include "tests/integration/background_load.h"
#include "tests/support/http_client.h"
#include "tests/support/stack.h"

namespace forge::faults {
namespace {

using std::chrono::milliseconds;
using testing::Bin;
using testing::Env;
using testing::Get;
using testing::Process;
using testing::WaitUntil;

constexpr std::uint64_t kCapacity = 256;
constexpr int kWorkers = 2;
constexpr auto kDeadline = milliseconds(15000);

// Overwrites `size` bytes at `offset` of the segment file.
void Poke(const std::string& path, off_t offset, const void* data,
          std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, data, size, offset), static_cast<ssize_t>(size));
  ::close(fd);
}

// The pids of the workers that logged "attached segment".
std::vector<pid_t> AttachedWorkers(const std::string& frontend_stderr) {
  std::vector<pid_t> pids;
  for (const std::string& line :
       LinesWith(frontend_stderr, "attached segment")) {
    const auto open = line.find('[');
    const auto close = line.find(']', open);
    if (open == std::string::npos || close == std::string::npos) continue;
    pids.push_back(std::stoi(line.substr(open + 1, close - open - 1)));
  }
  return pids;
}

class ShmFaultTest : public ::testing::Test, public testing::Stack {
 protected:
  ShmFaultTest()
      : Stack({{"POOL_CAPACITY", std::to_string(kCapacity)},
               {"RANGE_SIZE", "64"},
               {"KEY_ORDER", "sequential"},
               {"WORKERS", std::to_string(kWorkers)},
               {"EMPTY_WAIT_MS", "50"}}) {}

  Env BaseEnv() const { return MakeEnv(); }
  std::string Path() const { return shm::Segment::ObjectPath(shm()); }

  // Every worker of `frontend` attached (their pids in *workers) and keys
  // served.
  void WaitServing(const Process& frontend, std::vector<pid_t>* workers) {
    ASSERT_TRUE(WaitUntil(
        [&] { return AttachedWorkers(frontend.Stderr()).size() == kWorkers; },
        kDeadline))
        << frontend.Stderr();
    *workers = AttachedWorkers(frontend.Stderr());
    ASSERT_TRUE(WaitUntil([&] { return Get(port(), "/get-key").status == 200; },
                          kDeadline));
  }

  // A real segment, left behind by a broker that stopped cleanly.
  void MakeSegment() {
    Process broker = Start("forge-broker");
    RingConsumer c(shm());
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
                     kDeadline, dir().path());
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
      const auto r = Get(port(), "/get-key");
      EXPECT_EQ(r.status, 503) << r.body << r.error;
      EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << r.body;
    }
    EXPECT_EQ(Get(port(), "/healthz").status, 503);
    // Requests and the 150 ms maintenance retried: still one line each.
    EXPECT_EQ(said(), static_cast<std::size_t>(kWorkers)) << frontend.Stderr();
    EXPECT_TRUE(frontend.Running());
    frontend.Signal(SIGTERM);
    EXPECT_EQ(frontend.Wait(kDeadline), 0) << frontend.Stderr();
  }

  // All three refuse, and the segment file is exactly as it was.
  void ExpectEveryProgramRefuses(const std::string& needle) {
    const std::string before = testing::ReadFile(Path());
    ASSERT_NO_FATAL_FAILURE(ExpectCtlRefuses(needle));
    ASSERT_NO_FATAL_FAILURE(ExpectBrokerRefuses(needle));
    ASSERT_NO_FATAL_FAILURE(ExpectFrontendRefuses(needle));
    EXPECT_TRUE(testing::ReadFile(Path()) == before)
        << "the segment was modified";
  }
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

// Issue 14: a segment of layout version 2 (left by a previous build; its
// worker slots sit where version 4 has them). Readers refuse it; the
// broker refuses it in one line while a worker of it lives, and replaces
// it once none does.
TEST_F(ShmFaultTest, Version2SegmentIsReplacedByTheBrokerOnlyWithoutWorkers) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  const std::uint32_t version = shm::kOldestReplaceableVersion;
  Poke(Path(), offsetof(shm::Header, layout_version), &version, sizeof version);
  const std::int32_t live = ::getpid();  // a worker of the old build
  const off_t pid_at = offsetof(shm::SegmentPrefix, workers) +
                       3 * sizeof(shm::WorkerSlot) +
                       offsetof(shm::WorkerSlot, pid);
  Poke(Path(), pid_at, &live, sizeof live);
  ASSERT_NO_FATAL_FAILURE(
      ExpectCtlRefuses("layout version 2, this build reads version 4"));
  {
    Process broker = Start("forge-broker");
    EXPECT_EQ(broker.Wait(kDeadline), 2) << broker.Stderr();
    ExpectOneErrorLine(broker.Stderr(),
                       {"layout version 2", "pid " + std::to_string(live),
                        "stop the old frontends", Path()});
  }
  const std::int32_t gone = 0;
  Poke(Path(), pid_at, &gone, sizeof gone);
  Process broker = Start("forge-broker");
  Process frontend = Start("forge-frontend");
  ASSERT_TRUE(WaitUntil([&] { return Get(port(), "/get-key").status == 200; },
                        kDeadline))
      << broker.Stderr() << frontend.Stderr();
  EXPECT_EQ(LinesWith(broker.Stderr(), "had layout version 2").size(), 1u)
      << broker.Stderr();
}

// A damaged KeyFormat block (issue 14) is refused by every reader with one
// line naming the segment.
TEST_F(ShmFaultTest, DamagedKeyFormatBlockIsRefusedByTheReaders) {
  ASSERT_NO_FATAL_FAILURE(MakeSegment());
  const std::uint32_t digits = 0;
  Poke(Path(),
       offsetof(shm::SegmentPrefix, format) + offsetof(shm::KeyFormat, digits),
       &digits, sizeof digits);
  const std::string before = testing::ReadFile(Path());
  ASSERT_NO_FATAL_FAILURE(ExpectCtlRefuses("damaged key format block"));
  ASSERT_NO_FATAL_FAILURE(ExpectFrontendRefuses("damaged key format block"));
  EXPECT_TRUE(testing::ReadFile(Path()) == before)
      << "the segment was modified";
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
  EXPECT_EQ(Get(port(), "/get-key").status, 503);
  Process broker = Start("forge-broker");
  ASSERT_TRUE(WaitUntil([&] { return Get(port(), "/get-key").status == 200; },
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
  RingConsumer c(shm());
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
  RingConsumer c(shm());
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

// ---- Issue 11 items 4 and 5: a segment damaged while in use, and special
// files at the segment's name. No process dies of a signal, each says why
// in one line, and no key is served twice.

// forge-ctl `args`: exit 1 and exactly one line (stdout and stderr
// together) containing `needle`, within the deadline (nothing blocks).
void ExpectCtlOneLine(const std::vector<std::string>& args, const Env& env,
                      const std::string& dir, const std::string& needle) {
  std::vector<std::string> argv = {Bin("forge-ctl")};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto start = std::chrono::steady_clock::now();
  const testing::RunResult r = testing::Run(argv, env, kDeadline, dir);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000))
      << args[0];
  EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.out << r.err;
  const auto lines = Lines(r.out + r.err);
  ASSERT_EQ(lines.size(), 1u) << args[0] << ": " << r.out << r.err;
  EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
}

TEST_F(ShmFaultTest, TruncatedUnderLoadKillsNoProcessAndEveryoneSaysWhy) {
  Process broker = Start("forge-broker");
  Process frontend = Start("forge-frontend");
  std::vector<pid_t> workers;
  ASSERT_NO_FATAL_FAILURE(WaitServing(frontend, &workers));
  const std::string expected = "truncated to 100 bytes (expected " +
                               std::to_string(shm::SegmentSize(kCapacity)) +
                               ")";
  testing::ChaosLoadResult result;
  {
    testing::ChaosLoadOptions o;
    o.port = port();
    o.connections = 8;
    o.target = [](std::size_t, std::size_t n) {
      return n % 2 == 0 ? std::string("/get-key")
                        : std::string("/get-keys?count=5");
    };
    o.hang_after = milliseconds(5000);
    testing::BackgroundLoad load(o);
    ASSERT_TRUE(
        WaitUntil([&] { return load.progress().ok.load() >= 300; }, kDeadline));
    ASSERT_EQ(::truncate(Path().c_str(), 100), 0);
    // The broker: exit 2 (not a signal) and one ERROR line saying why.
    EXPECT_EQ(broker.Wait(kDeadline), 2) << broker.Stderr();
    ExpectOneErrorLine(broker.Stderr(), {expected, Path()});
    const std::size_t before = load.progress().unavailable.load();
    ASSERT_TRUE(WaitUntil(
        [&] { return load.progress().unavailable.load() >= before + 200; },
        kDeadline));
    result = load.Finish();
  }
  EXPECT_EQ(result.lost.size(), 0u) << result.Summary();
  EXPECT_EQ(result.hangs, 0u) << result.Summary();
  EXPECT_EQ(result.Status(200) + result.Status(503), result.completed)
      << result.Summary();
  std::set<std::string> unique(result.keys.begin(), result.keys.end());
  EXPECT_EQ(unique.size(), result.keys.size()) << "a key was served twice";
  ASSERT_FALSE(result.bodies_503.empty());
  bool named = false;
  for (const std::string& body : result.bodies_503) {
    named = named || body.find(expected) != std::string::npos;
  }
  EXPECT_TRUE(named) << result.bodies_503.front();
  const auto r = Get(port(), "/get-key");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find(expected), std::string::npos) << r.body;
  EXPECT_NE(Get(port(), "/healthz").body.find(expected), std::string::npos);
  // The workers are the same processes: none died (of SIGBUS or else).
  for (const pid_t pid : workers) EXPECT_TRUE(base::ProcessAlive(pid)) << pid;
  EXPECT_EQ(AttachedWorkers(frontend.Stderr()).size(), workers.size());
  EXPECT_TRUE(LinesWith(frontend.Stderr(), "killed by signal").empty())
      << frontend.Stderr();
  // forge-ctl on the truncated file: exit 1, one line.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"stats", "--interval", "0"}, {"stats", "--json"}, {"check"}}) {
    ExpectCtlOneLine(args, BaseEnv(), dir().path(), "100 bytes");
  }
  EXPECT_TRUE(frontend.Running());
  frontend.Signal(SIGTERM);
  EXPECT_EQ(frontend.Wait(kDeadline), 0) << frontend.Stderr();
}

// Deleted while running: the mapping stays valid, but the broker exits 2
// saying so and the workers detach (503 with the reason), then attach the
// segment a new broker creates, in the same processes.
TEST_F(ShmFaultTest, DeletedSegmentIsSaidAndANewOneIsFollowed) {
  Process broker = Start("forge-broker");
  Process frontend = Start("forge-frontend");
  std::vector<pid_t> workers;
  ASSERT_NO_FATAL_FAILURE(WaitServing(frontend, &workers));
  ASSERT_EQ(::unlink(Path().c_str()), 0);
  EXPECT_EQ(broker.Wait(kDeadline), 2) << broker.Stderr();
  ExpectOneErrorLine(broker.Stderr(), {"was deleted", Path()});
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto r = Get(port(), "/get-key");
        return r.status == 503 &&
               r.body.find("was deleted") != std::string::npos;
      },
      kDeadline));
  Process second = Start("forge-broker");
  ASSERT_TRUE(WaitUntil([&] { return Get(port(), "/get-key").status == 200; },
                        kDeadline))
      << second.Stderr() << frontend.Stderr();
  for (const pid_t pid : workers) EXPECT_TRUE(base::ProcessAlive(pid)) << pid;
  frontend.Signal(SIGTERM);
  EXPECT_EQ(frontend.Wait(kDeadline), 0) << frontend.Stderr();
}

// A FIFO, a directory or a socket at the name: forge-ctl (stats, stats
// --json, check) answers at once with one line and exit 1 (a FIFO used to
// block it forever), the broker exits 2 with one ERROR line and leaves the
// file alone, the workers answer 503 with the reason and keep running.
TEST_F(ShmFaultTest, SpecialFileAtTheNameIsRefusedAtOnceByEveryProgram) {
  struct Kind {
    std::string name;
    std::function<void(const std::string&)> make;
    mode_t type;
  };
  const std::vector<Kind> kinds = {
      {"a FIFO",
       [](const std::string& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0); },
       S_IFIFO},
      {"a directory",
       [](const std::string& p) { ASSERT_EQ(::mkdir(p.c_str(), 0700), 0); },
       S_IFDIR},
      {"a socket",
       [](const std::string& p) {
         const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
         sockaddr_un addr{};
         addr.sun_family = AF_UNIX;
         ASSERT_LT(p.size(), sizeof(addr.sun_path));
         std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
         ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
                   0);
         ::close(fd);
       },
       S_IFSOCK},
  };
  for (const Kind& kind : kinds) {
    SCOPED_TRACE(kind.name);
    ASSERT_NO_FATAL_FAILURE(kind.make(Path()));
    const std::string needle = "is " + kind.name + ", not a regular file";
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"stats", "--interval", "0"}, {"stats", "--json"}, {"check"}}) {
      ExpectCtlOneLine(args, BaseEnv(), dir().path(), needle);
    }
    ASSERT_NO_FATAL_FAILURE(ExpectBrokerRefuses(needle));
    {
      Process frontend = Start("forge-frontend");
      ASSERT_TRUE(WaitUntil(
          [&] {
            const auto r = Get(port(), "/get-key");
            return r.status == 503 && r.body.find(needle) != std::string::npos;
          },
          kDeadline))
          << frontend.Stderr();
      EXPECT_TRUE(frontend.Running());
      frontend.Signal(SIGTERM);
      EXPECT_EQ(frontend.Wait(kDeadline), 0) << frontend.Stderr();
    }
    struct stat st {};
    ASSERT_EQ(::lstat(Path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & S_IFMT, kind.type) << "it was replaced";
    ASSERT_EQ(::remove(Path().c_str()), 0);
  }
}

}  // namespace
}  // namespace forge::faults
