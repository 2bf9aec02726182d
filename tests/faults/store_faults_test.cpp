// Store faults against the real forge-broker on a SQLite file (issue 4,
// item 3): a lock held past the busy timeout, a directory that cannot be
// written, a full disk, garbage in the file (at start and while running)
// and a file from a newer schema. Each must end in one clear log line, a
// retry where retrying helps, exit 2 where it cannot, and no key served
// that the store had not durably reserved (every served number is below
// the counter and not in the returned list; none repeats).
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/faults/disk_space.h"
#include "tests/faults/fault_util.h"
#include "tests/support/stack.h"

namespace forge::faults {
namespace {

using std::chrono::milliseconds;
using testing::Env;
using testing::Process;
using testing::WaitUntil;
using State = shm::BrokerState;

constexpr std::uint64_t kCapacity = 256;
constexpr auto kDeadline = milliseconds(15000);

// What a test-side reader finds in a store.
struct StoreView {
  std::uint64_t next = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> returned;
};

StoreView ReadStore(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  StoreView v;
  v.next = static_cast<std::uint64_t>(
      db.execAndGet("SELECT next FROM counter WHERE id = 1").getInt64());
  SQLite::Statement q(db, "SELECT first, last FROM returned ORDER BY first");
  while (q.executeStep()) {
    v.returned.emplace_back(q.getColumn(0).getInt64(),
                            q.getColumn(1).getInt64());
  }
  return v;
}

// Durable before visible: every served number was reserved (below the
// counter) and is not waiting in the returned list to be handed out again.
void ExpectDurablyReserved(const std::vector<std::string>& keys,
                           const StoreView& store) {
  std::size_t bad = 0;
  for (const std::string& key : keys) {
    const auto n = SequentialNumber(key);
    bool ok = n.has_value() && *n < store.next;
    for (const auto& [first, last] : store.returned) {
      ok = ok && !(*n >= first && *n < last);
    }
    if (!ok && ++bad <= 3) {
      ADD_FAILURE() << "served key " << key << " is not durably reserved "
                    << "(counter " << store.next << ")";
    }
  }
  EXPECT_EQ(bad, 0u);
}

class StoreFaultTest : public ::testing::Test, public testing::Stack {
 protected:
  StoreFaultTest()
      : Stack({{"POOL_CAPACITY", std::to_string(kCapacity)},
               {"RANGE_SIZE", "64"},
               {"KEY_ORDER", "sequential"}}) {}

  Env BrokerEnv(const std::string& db) const {
    return MakeEnv({{"DB_URL", "sqlite:" + db}});
  }
  Process StartBroker(const std::string& db) const {
    return Stack::StartBroker({{"DB_URL", "sqlite:" + db}});
  }
  std::string Db() const { return dir() / "forge.db"; }

  // The broker is up, its ring full and its hand stocked: it sleeps.
  static bool WaitIdle(RingConsumer& c, const Process& broker) {
    return c.WaitBrokerIdle(broker.pid(), kDeadline);
  }

  // Creates a store with a clean broker run, then stops it.
  void CreateStore() {
    Process broker = StartBroker(Db());
    RingConsumer c(shm());
    ASSERT_TRUE(WaitIdle(c, broker)) << broker.Stderr();
    broker.Signal(SIGTERM);
    ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  }

  // The pid the segment names as its (latest) broker.
  std::int32_t SegmentBrokerPid() {
    RingConsumer c(shm());
    EXPECT_TRUE(c.Attach());
    return c.segment().broker().pid.load();
  }

  // Runs a broker that must refuse to start: exit 2, one ERROR line.
  std::string ExpectRefused(const std::string& db,
                            const std::vector<std::string>& needles) {
    Process broker = StartBroker(db);
    EXPECT_EQ(broker.Wait(kDeadline), 2) << broker.Stderr();
    return ExpectOneErrorLine(broker.Stderr(), needles);
  }
};

TEST_F(StoreFaultTest, LockHeldPastTheBusyTimeoutIsRetriedWhileServing) {
  Process broker = StartBroker(Db());
  RingConsumer c(shm());
  ASSERT_TRUE(WaitIdle(c, broker)) << broker.Stderr();
  SQLite::Database locker(Db(), SQLite::OPEN_READWRITE);
  locker.exec("BEGIN EXCLUSIVE");
  // Below low water: the broker refills from its hand, then needs a range.
  ASSERT_TRUE(c.Pop(kCapacity / 2 + 1));
  // The reservation outlives the busy timeout (STORE_TIMEOUT_MS, 2 s): a
  // transient store error.
  ASSERT_TRUE(WaitUntil(
      [&] { return StateOf(c.segment()) == State::kStoreError; }, kDeadline))
      << broker.Stderr();
  EXPECT_GE(c.segment().broker().store_errors.load(), 1u);
  // Still serving what it had: the ring was refilled from the hand.
  EXPECT_GE(c.PopNow(kCapacity), kCapacity / 2);
  locker.exec("ROLLBACK");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return StateOf(c.segment()) == State::kRunning &&
               broker.Stderr().find("store recovered") != std::string::npos;
      },
      kDeadline))
      << broker.Stderr();
  ASSERT_TRUE(c.Pop(4 * kCapacity)) << broker.Stderr();
  EXPECT_TRUE(c.unique());
  // One line for the one failed attempt, saying what went wrong.
  const auto lines = LinesWith(broker.Stderr(), "store error");
  ASSERT_EQ(lines.size(), 1u) << broker.Stderr();
  EXPECT_NE(lines[0].find("lock"), std::string::npos) << lines[0];
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  ExpectDurablyReserved(c.keys(), ReadStore(Db()));
}

TEST_F(StoreFaultTest, PathThroughAFileExits2BeforeTouchingTheSegment) {
  ExpectRefused("/dev/null/forge.db",
                {"/dev/null/forge.db", "Not a directory"});
  EXPECT_FALSE(std::filesystem::exists(shm::Segment::ObjectPath(shm())));
}

TEST_F(StoreFaultTest, ImmutableDirectoryExits2WithOneLine) {
  const std::string sub = dir() / "locked";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  Immutable flag(sub);
  if (!flag.ok()) {
    GTEST_SKIP() << "cannot set the immutable flag here (" << flag.error()
                 << "); the /dev/null case covers an unwritable path";
  }
  // Root ignores mode bits, not the immutable flag: no file can be made.
  ExpectRefused(sub + "/forge.db", {"cannot create file", "not permitted"});
}

TEST_F(StoreFaultTest, ExistingStoreInAnImmutableDirectoryExits2) {
  ASSERT_NO_FATAL_FAILURE(CreateStore());
  Immutable flag(dir().path());
  if (!flag.ok()) GTEST_SKIP() << "no immutable flag: " << flag.error();
  // SQLite cannot create the -wal file next to the store.
  ExpectRefused(Db(), {"forge.db", "writable"});
}

TEST_F(StoreFaultTest, ReadOnlyStoreFileExits2BeforeServing) {
  ASSERT_NO_FATAL_FAILURE(CreateStore());
  const std::int32_t old_pid = SegmentBrokerPid();
  Immutable flag(Db());
  if (!flag.ok()) GTEST_SKIP() << "no immutable flag: " << flag.error();
  // SQLite would quietly open it read-only; the broker must say so at
  // once, before it takes over the segment.
  ExpectRefused(Db(), {"forge.db", "read-only"});
  EXPECT_EQ(SegmentBrokerPid(), old_pid) << "it took over the segment";
}

TEST_F(StoreFaultTest, FullDiskIsRetriedAndNothingUnreservedIsServed) {
  DiskSpace disk(dir() / "small");
  ASSERT_TRUE(disk.ready()) << disk.error();
  const std::string db = disk.path() + "/forge.db";
  Process broker = disk.StartBroker(BrokerEnv(db), dir().path());
  RingConsumer c(shm());
  ASSERT_TRUE(WaitIdle(c, broker)) << broker.Stderr();
  // Idle: nothing is being reserved, so this is all the store gave out.
  const std::uint64_t reserved = c.segment().broker().store_next.load();
  ASSERT_TRUE(disk.Fill(broker.pid())) << disk.error();
  ASSERT_TRUE(WaitUntil(
      [&] {
        c.PopNow(8);
        return StateOf(c.segment()) == State::kStoreError;
      },
      kDeadline))
      << "mode " << disk.mode() << ": " << broker.Stderr();
  c.PopNow(kCapacity * 4);  // what is left of the ring and the hand
  for (const std::string& key : c.keys()) {
    ASSERT_LT(SequentialNumber(key).value_or(~0ull), reserved) << key;
  }
  // Attempt after attempt fails (back-off 50, 100, 200 ms, ...), with one
  // line for them all (not one per retry), saying the disk is the problem.
  ASSERT_TRUE(WaitUntil(
      [&] { return c.segment().broker().store_errors.load() >= 4; }, kDeadline))
      << broker.Stderr();
  const auto lines = LinesWith(broker.Stderr(), "store error");
  ASSERT_EQ(lines.size(), 1u) << broker.Stderr();
  EXPECT_NE(lines[0].find("disk"), std::string::npos) << lines[0];
  disk.Free(broker.pid());
  ASSERT_TRUE(WaitUntil(
      [&] {
        c.PopNow(8);
        return StateOf(c.segment()) == State::kRunning;
      },
      kDeadline))
      << broker.Stderr();
  ASSERT_TRUE(c.Pop(2 * kCapacity)) << broker.Stderr();
  EXPECT_TRUE(c.unique());
  EXPECT_EQ(LinesWith(broker.Stderr(), "store recovered").size(), 1u)
      << broker.Stderr();
  EXPECT_EQ(LinesWith(broker.Stderr(), "store error").size(), 1u);
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kDeadline), 0) << broker.Stderr();
  ExpectDurablyReserved(c.keys(), ReadStore(db));
}

TEST_F(StoreFaultTest, GarbageFileAtStartExits2WithOneLine) {
  std::ofstream(Db(), std::ios::binary) << std::string(8192, '\x5a');
  ExpectRefused(Db(), {"forge.db", "not a usable SQLite database"});
  EXPECT_FALSE(std::filesystem::exists(shm::Segment::ObjectPath(shm())));
}

// Overwrites every byte of `path` with random ones (same size).
void Scribble(const std::string& path, std::mt19937_64& rng) {
  const auto size = std::filesystem::file_size(path);
  std::string junk(size, '\0');
  for (char& ch : junk) ch = static_cast<char>(rng());
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

TEST_F(StoreFaultTest, GarbageWrittenWhileRunningStopsTheBrokerWithoutRepeats) {
  Process broker = StartBroker(Db());
  RingConsumer c(shm());
  ASSERT_TRUE(WaitIdle(c, broker)) << broker.Stderr();
  const std::uint64_t reserved = c.segment().broker().store_next.load();
  ASSERT_TRUE(c.Pop(kCapacity));  // served before the damage
  // The broker refilled and idles again; then its files are overwritten
  // (database, WAL and the WAL index it has mapped).
  ASSERT_TRUE(WaitIdle(c, broker));
  const std::uint64_t before = c.segment().broker().store_next.load();
  ASSERT_GE(before, reserved);
  std::mt19937_64 rng(4);
  for (const char* suffix : {"", "-wal", "-shm"}) Scribble(Db() + suffix, rng);
  // Keep consuming: the next reservation finds the damage and is fatal.
  ASSERT_TRUE(WaitUntil(
      [&] {
        c.PopNow(8);
        return !broker.Running();
      },
      kDeadline));
  EXPECT_EQ(broker.Wait(kDeadline), 2);
  ExpectOneErrorLine(broker.Stderr(), {"not a usable SQLite database"});
  c.PopNow(kCapacity);  // the ring outlives its broker
  EXPECT_TRUE(c.unique());
  for (const std::string& key : c.keys()) {
    ASSERT_LT(SequentialNumber(key).value_or(~0ull), before) << key;
  }
  // A new broker refuses the damaged file in one line.
  ExpectRefused(Db(), {"forge.db"});
}

TEST_F(StoreFaultTest, NewerSchemaVersionExits2NamingIt) {
  ASSERT_NO_FATAL_FAILURE(CreateStore());
  const std::int32_t old_pid = SegmentBrokerPid();
  {
    SQLite::Database db(Db(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
    db.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  }
  ExpectRefused(Db(), {"schema version 99", "newer"});
  EXPECT_EQ(SegmentBrokerPid(), old_pid) << "it took over the segment";
}

TEST_F(StoreFaultTest, SchemaVersionOnlyInMetaExits2NamingIt) {
  ASSERT_NO_FATAL_FAILURE(CreateStore());
  {
    SQLite::Database db(Db(), SQLite::OPEN_READWRITE);
    db.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  }
  ExpectRefused(Db(), {"schema_version", "99"});
}

}  // namespace
}  // namespace forge::faults
