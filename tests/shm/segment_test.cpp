// tests/shm/segment_test.cpp — create, attach, validate, producer lock.
#include "shm/segment.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "shm/workers.h"
#include "tests/shm/child.h"
#include "tests/shm/raw_file.h"
#include "tests/shm/segment_error_of.h"
#include "tests/shm/test_keys.h"
#include "tests/support/process.h"

namespace forge::shm {
namespace {

using forge::testing::ShmName;
using forge::testing::WriteFile;
using testing::Child;
using ::testing::HasSubstr;
using testing::MakeKey;
using testing::NumberOf;
using testing::RawFile;

SegmentSpec Spec(std::uint64_t capacity) {
  SegmentSpec s;
  s.capacity = capacity;
  s.key_length = 7;
  s.key_order = 1;
  s.key_space = 3521614606208ULL;
  s.store = "sqlite:/tmp/forge.db";
  return s;
}

using testing::ErrorOf;

void PushNumbers(Segment& seg, std::uint64_t first, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Key k = MakeKey(first + i);
    ASSERT_EQ(seg.ring().Push(&k, 1), 1u);
  }
}

class SegmentTest : public ::testing::Test {
 protected:
  std::string path() const { return Segment::ObjectPath(name_.str()); }
  const std::string& name() const { return name_.str(); }
  // Creates the segment, then lets go of it (and of the producer lock).
  void CreateAndClose(std::uint64_t capacity = 64) {
    Segment seg = Segment::OpenProducer(name(), Spec(capacity));
  }

  ShmName name_;
};

TEST_F(SegmentTest, NamesMapToDevShm) {
  EXPECT_EQ(Segment::ObjectName("a.b-c_1"), "/mini-forge.a.b-c_1");
  EXPECT_EQ(Segment::ObjectPath("x"), "/dev/shm/mini-forge.x");
  EXPECT_EQ(Segment::LockPath("x"), "/dev/shm/mini-forge.x.lock");
}

TEST_F(SegmentTest, BadNamesAreRefused) {
  const std::string bad_names[] = {"",       "a/b",    "a b",
                                   "x.lock", "../etc", std::string(201, 'a')};
  for (const std::string& bad : bad_names) {
    EXPECT_THAT(ErrorOf([&] { Segment::ObjectName(bad); }),
                HasSubstr("is not allowed"))
        << bad;
  }
  EXPECT_NO_THROW(Segment::ObjectName(std::string(200, 'a')));
  // One line, even for a name with a newline in it.
  EXPECT_EQ(ErrorOf([] { Segment::ObjectName("a\nb"); }).find('\n'),
            std::string::npos);
}

TEST_F(SegmentTest, BadSpecIsRefused) {
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), Spec(1000)); }),
              HasSubstr("power of two"));
  SegmentSpec s = Spec(64);
  s.key_length = 16;
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), s); }),
              HasSubstr("base62 keys are 1 to 10 characters long"));
}

TEST_F(SegmentTest, CreateThenAttachSharesTheRing) {
  Segment producer = Segment::OpenProducer(name(), Spec(64));
  EXPECT_TRUE(producer.is_producer());
  EXPECT_THAT(producer.open_note(), HasSubstr("created"));
  Segment consumer = Segment::Attach(name());
  EXPECT_FALSE(consumer.is_producer());
  const Header& h = consumer.header();
  EXPECT_EQ(h.magic.load(), kMagic);
  EXPECT_EQ(h.layout_version, kLayoutVersion);
  EXPECT_EQ(h.capacity, 64u);
  EXPECT_EQ(h.key_length, 7u);
  EXPECT_EQ(h.key_order, 1u);
  EXPECT_EQ(h.total_size, SegmentSize(64));
  EXPECT_STREQ(h.store, "sqlite:/tmp/forge.db");
  PushNumbers(producer, 42, 1);
  Key k;
  ASSERT_TRUE(consumer.ring().TryPop(&k));
  EXPECT_EQ(NumberOf(k), 42u);
}

TEST_F(SegmentTest, FilesAreOwnerOnlyAndLockHoldsPid) {
  Segment producer = Segment::OpenProducer(name(), Spec(64));
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(Segment::LockPath(name()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream lock(Segment::LockPath(name()));
  pid_t pid = 0;
  lock >> pid;
  EXPECT_EQ(pid, ::getpid());
}

TEST_F(SegmentTest, MissingSegmentThrowsSegmentMissing) {
  try {
    ReadOnlySegment::Attach(name());
    FAIL() << "attached a segment that does not exist";
  } catch (const SegmentMissing& e) {
    EXPECT_THAT(e.what(), HasSubstr(path()));
  }
}

TEST_F(SegmentTest, WrongMagicIsRefusedAndKept) {
  CreateAndClose();
  RawFile(path()).prefix().header.magic.store(0x1234);
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("not a mini-forge segment"));
  // The producer does not delete what it cannot interpret either.
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), Spec(64)); }),
              HasSubstr("not a mini-forge segment"));
  EXPECT_EQ(RawFile(path()).prefix().header.magic.load(), 0x1234u);
}

TEST_F(SegmentTest, WrongVersionIsRefused) {
  CreateAndClose();
  RawFile(path()).prefix().header.layout_version = kLayoutVersion + 1;
  EXPECT_THAT(ErrorOf([&] { Segment::Attach(name()); }),
              HasSubstr("layout version 5, this build reads version 4"));
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), Spec(64)); }),
              HasSubstr("layout version 5"));
}

TEST_F(SegmentTest, WrongHeaderSizeIsRefused) {
  CreateAndClose();
  RawFile(path()).prefix().header.slot_size = 32;
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("slot size 32"));
}

TEST_F(SegmentTest, GrownFileIsRefused) {
  CreateAndClose();
  ASSERT_EQ(::truncate(path().c_str(), SegmentSize(64) + 4096), 0);
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("truncated or resized"));
}

TEST_F(SegmentTest, WrongTotalSizeInHeaderIsRefused) {
  CreateAndClose();
  RawFile(path()).prefix().header.total_size += 16;
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("its header says"));
}

// A truncated file is refused by reading its size, never by touching the
// missing pages (which would be SIGBUS).
TEST_F(SegmentTest, TruncatedFileIsRefusedWithoutSigbus) {
  CreateAndClose(1024);
  ASSERT_EQ(::truncate(path().c_str(), kSlotsOffset + 16), 0);
  EXPECT_THAT(ErrorOf([&] { Segment::Attach(name()); }),
              HasSubstr("truncated"));
  ASSERT_EQ(::truncate(path().c_str(), 100), 0);
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("only 100 bytes"));
  ASSERT_EQ(::truncate(path().c_str(), 0), 0);
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("only 0 bytes"));
}

TEST_F(SegmentTest, ProducerReplacesTruncatedSegment) {
  CreateAndClose(1024);
  ASSERT_EQ(::truncate(path().c_str(), 100), 0);
  Segment seg = Segment::OpenProducer(name(), Spec(1024));
  EXPECT_THAT(seg.open_note(), HasSubstr("replaced"));
  EXPECT_NO_THROW(ReadOnlySegment::Attach(name()));
}

TEST_F(SegmentTest, HalfCreatedSegmentIsRefusedThenReplaced) {
  CreateAndClose();
  RawFile(path()).prefix().header.magic.store(0);
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("not initialised"));
  Segment seg = Segment::OpenProducer(name(), Spec(64));
  EXPECT_THAT(seg.open_note(), HasSubstr("died while creating"));
  EXPECT_EQ(seg.header().magic.load(), kMagic);
}

TEST_F(SegmentTest, CorruptIndicesAreRefused) {
  CreateAndClose(64);
  RawFile(path()).prefix().tail.value.store(65);  // head 0: more than cap
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("head 0 and tail 65"));
}

TEST_F(SegmentTest, LoosePermissionsAreRefused) {
  CreateAndClose();
  ASSERT_EQ(::chmod(path().c_str(), 0644), 0);
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("chmod 600"));
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), Spec(64)); }),
              HasSubstr("mode 0644"));
}

TEST_F(SegmentTest, SymlinkedLockFileIsRefused) {
  ASSERT_EQ(::symlink("/tmp/elsewhere", Segment::LockPath(name()).c_str()), 0);
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), Spec(64)); }),
              HasSubstr("symbolic link"));
}

// A child that runs `take` (true: it now holds what it took), tells the
// parent through a pipe, runs `then` and waits for SIGKILL. Returns once
// the child holds it (a failure fails the test).
Child StartHolder(const std::function<bool()>& take,
                  const std::function<void()>& then) {
  int ready[2];
  EXPECT_EQ(::pipe(ready), 0);
  Child holder([&] {
    if (!take()) return 1;
    const char c = 'r';
    if (::write(ready[1], &c, 1) != 1) return 2;
    then();
    for (;;) ::pause();  // until SIGKILL
  });
  ::close(ready[1]);
  char c = 0;
  EXPECT_EQ(::read(ready[0], &c, 1), 1) << "the child took nothing";
  ::close(ready[0]);
  return holder;
}

// flock belongs to the open file description: a second OpenProducer in the
// same process conflicts just like one in another process.
TEST_F(SegmentTest, SecondProducerInSameProcessIsLockedOut) {
  Segment first = Segment::OpenProducer(name(), Spec(64));
  try {
    Segment::OpenProducer(name(), Spec(64));
    FAIL() << "two producers on one segment";
  } catch (const ProducerLocked& e) {
    EXPECT_EQ(e.holder_pid(), ::getpid());
    EXPECT_THAT(e.what(), HasSubstr("already served by broker pid " +
                                    std::to_string(::getpid())));
    EXPECT_THAT(e.what(), HasSubstr(Segment::LockPath(name())));
    EXPECT_THAT(e.what(), HasSubstr("SHM_NAME"));
  }
}

// Another process holds the lock: refused with its pid; once the holder is
// SIGKILLed the kernel drops the lock and a new producer gets in.
TEST_F(SegmentTest, LockNamesHolderAndDiesWithIt) {
  Child holder = StartHolder(
      [&] {
        new Segment(Segment::OpenProducer(name(), Spec(64)));  // held on
        return true;
      },
      [] {});
  try {
    Segment::OpenProducer(name(), Spec(64));
    FAIL() << "second producer got in while the first lives";
  } catch (const ProducerLocked& e) {
    EXPECT_EQ(e.holder_pid(), holder.pid());
    EXPECT_THAT(e.what(), HasSubstr("pid " + std::to_string(holder.pid())));
  }
  holder.Kill();
  Segment seg = Segment::OpenProducer(name(), Spec(64));
  EXPECT_TRUE(seg.is_producer());
  EXPECT_THAT(seg.open_note(), HasSubstr("re-attached"));
}

// The window between a holder's flock and the pid it writes: a peer that
// looks then finds the pid of an earlier holder, now dead, and must not
// name it. Here the holder takes the flock by hand and writes its pid
// 20 ms later; the peer reads on until the file names a live process.
TEST_F(SegmentTest, LockNamesTheLiveHolderNotAnEarlierDeadOne) {
  Child earlier([] { return 0; });
  ASSERT_EQ(earlier.Wait(std::chrono::seconds(10)), 0);  // reaped: dead pid
  WriteFile(Segment::LockPath(name()), std::to_string(earlier.pid()) + "\n");
  int fd = -1;
  Child holder = StartHolder(
      [&] {
        fd = ::open(Segment::LockPath(name()).c_str(), O_RDWR);
        return fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      },
      [&] {
        const timespec pause{0, 20'000'000};  // the peer looks meanwhile
        ::nanosleep(&pause, nullptr);
        const std::string pid = std::to_string(::getpid()) + "\n";
        (void)!::pwrite(fd, pid.data(), pid.size(), 0);
      });
  try {
    Segment::OpenProducer(name(), Spec(64));
    FAIL() << "second producer got in while the first lives";
  } catch (const ProducerLocked& e) {
    EXPECT_EQ(e.holder_pid(), holder.pid()) << e.what();
  }
  holder.Kill();
}

bool MappedReadOnly(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.ends_with(path)) {
      std::istringstream fields(line);
      std::string range, perms;
      fields >> range >> perms;
      return perms.starts_with("r-");
    }
  }
  return false;
}

TEST_F(SegmentTest, ReadOnlyAttachCannotWrite) {
  Segment producer = Segment::OpenProducer(name(), Spec(64));
  PushNumbers(producer, 1, 3);
  const ReadOnlySegment ro = ReadOnlySegment::Attach(name());
  // Only const access: a store through it does not compile.
  static_assert(
      std::is_const_v<std::remove_reference_t<decltype(ro.broker())>>);
  static_assert(std::is_const_v<std::remove_reference_t<decltype(ro.ring())>>);
  EXPECT_EQ(ro.ring().Size(), 3u);  // loads work
  EXPECT_TRUE(MappedReadOnly(path()));
  Child writer([&] {
    ::signal(SIGSEGV, SIG_DFL);  // die of it even under a sanitizer
    // Casting the const away still cannot write: the mapping is PROT_READ.
    const_cast<BrokerStats&>(ro.broker()).refills.store(7);
    return 0;
  });
  EXPECT_EQ(writer.Wait(std::chrono::seconds(10)), 128 + SIGSEGV);
  EXPECT_EQ(producer.broker().refills.load(), 0u);
}

TEST_F(SegmentTest, ReattachKeepsRingContents) {
  {
    Segment first = Segment::OpenProducer(name(), Spec(64));
    PushNumbers(first, 10, 5);
  }
  Segment again = Segment::OpenProducer(name(), Spec(64));
  EXPECT_THAT(again.open_note(), HasSubstr("re-attached"));
  EXPECT_THAT(again.open_note(), HasSubstr("5 keys kept"));
  Key keys[8];
  ASSERT_EQ(again.ring().TryPopBatch(keys, 8), 5u);
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(NumberOf(keys[i]), 10 + i);
}

TEST_F(SegmentTest, IncompatibleSegmentWithoutWorkersIsReplaced) {
  {
    Segment first = Segment::OpenProducer(name(), Spec(64));
    PushNumbers(first, 0, 3);
  }
  Segment seg = Segment::OpenProducer(name(), Spec(128));
  EXPECT_THAT(seg.open_note(), HasSubstr("replaced"));
  EXPECT_THAT(seg.open_note(), HasSubstr("3 keys it held are gaps"));
  EXPECT_EQ(seg.header().capacity, 128u);
  EXPECT_EQ(seg.ring().Size(), 0u);
}

TEST_F(SegmentTest, IncompatibleSegmentWithLiveWorkerIsRefused) {
  {
    Segment first = Segment::OpenProducer(name(), Spec(64));
    ASSERT_TRUE(ClaimWorkerSlot(first, ::getpid(), ::getpid()).has_value());
  }
  const std::string err =
      ErrorOf([&] { Segment::OpenProducer(name(), Spec(128)); });
  EXPECT_THAT(err, HasSubstr("capacity 64"));
  EXPECT_THAT(err, HasSubstr("wants capacity 128"));
  EXPECT_THAT(err, HasSubstr("worker pid " + std::to_string(::getpid())));
  EXPECT_EQ(ReadOnlySegment::Attach(name()).header().capacity, 64u);
}

// Issue 11 item 4: a segment truncated under its mappers. Every mapper
// (here a producer and a reader in one process) goes on without SIGBUS:
// the mapping turns into zero pages, faulted() says so at once, and
// Damage() names the size.
TEST_F(SegmentTest, TruncatedWhileMappedTurnsIntoZerosNotSigbus) {
  Segment producer = Segment::OpenProducer(name(), Spec(1024));
  PushNumbers(producer, 1, 10);
  Segment reader = Segment::Attach(name());
  EXPECT_EQ(reader.Damage(), "");
  EXPECT_FALSE(reader.faulted());
  ASSERT_EQ(::truncate(path().c_str(), 100), 0);
  const std::string expected = "truncated to 100 bytes (expected " +
                               std::to_string(SegmentSize(1024)) + ")";
  // Checked on a timer in the programs: the size is wrong before any fault.
  EXPECT_THAT(reader.Damage(), HasSubstr(expected));
  Key out[4];
  EXPECT_EQ(reader.ring().TryPopBatch(out, 4), 0u) << "zero pages: empty";
  EXPECT_TRUE(reader.faulted());
  EXPECT_THAT(reader.Damage(), HasSubstr(expected));
  // The producer's own mapping of the same file faults separately.
  const Key k = MakeKey(99);
  EXPECT_EQ(producer.ring().Push(&k, 1), 1u);  // into its private pages
  EXPECT_TRUE(producer.faulted());
  EXPECT_THAT(producer.Damage(), HasSubstr(expected));
}

TEST_F(SegmentTest, ReadOnlyMapperOfATruncatedFileSurvivesToo) {
  Segment producer = Segment::OpenProducer(name(), Spec(64));
  const ReadOnlySegment ro = ReadOnlySegment::Attach(name());
  ASSERT_EQ(::truncate(path().c_str(), 0), 0);
  EXPECT_EQ(ro.header().magic.load(), 0u);  // page 0 is gone as well
  EXPECT_EQ(ro.ring().Size(), 0u);
  EXPECT_TRUE(ro.faulted());
  EXPECT_THAT(ro.Damage(), HasSubstr("truncated to 0 bytes"));
}

TEST_F(SegmentTest, DeletedAndReplacedSegmentsAreNamed) {
  Segment producer = Segment::OpenProducer(name(), Spec(64));
  const ReadOnlySegment reader = ReadOnlySegment::Attach(name());
  ASSERT_EQ(::unlink(path().c_str()), 0);
  EXPECT_THAT(reader.Damage(), HasSubstr("was deleted"));
  EXPECT_FALSE(reader.faulted()) << "an unlinked mapping stays valid";
  // Another file under the name (what a new broker's rename does).
  { std::ofstream(path()) << "x"; }
  ASSERT_EQ(::chmod(path().c_str(), 0600), 0);
  EXPECT_THAT(reader.Damage(), HasSubstr("was replaced by another file"));
  ::unlink(path().c_str());
}

// Issue 11 item 5: nothing blocks on a special file at the name, and it
// is refused in one line naming what it is. A FIFO opened O_RDONLY without
// O_NONBLOCK blocks until a writer comes, so the attach runs in a child
// that must finish within the deadline.
TEST_F(SegmentTest, SpecialFilesAtTheNameAreRefusedWithoutBlocking) {
  const auto refused = [&](const std::string& kind) {
    for (const bool writable : {false, true}) {
      Child attach([&] {
        const std::string why = ErrorOf([&] {
          if (writable) {
            Segment::Attach(name());
          } else {
            ReadOnlySegment::Attach(name());
          }
        });
        return why.find("is " + kind + ", not a regular file") !=
                       std::string::npos
                   ? 0
                   : 1;
      });
      EXPECT_EQ(attach.Wait(std::chrono::seconds(10)), 0) << kind;
    }
    Child produce([&] {
      const std::string why =
          ErrorOf([&] { Segment::OpenProducer(name(), Spec(64)); });
      return why.find("is " + kind) != std::string::npos ? 0 : 1;
    });
    EXPECT_EQ(produce.Wait(std::chrono::seconds(10)), 0) << kind;
  };
  ASSERT_EQ(::mkfifo(path().c_str(), 0600), 0);
  refused("a FIFO");
  struct stat st {};
  ASSERT_EQ(::lstat(path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the broker must not replace it";
  ASSERT_EQ(::unlink(path().c_str()), 0);

  ASSERT_EQ(::mkdir(path().c_str(), 0700), 0);
  refused("a directory");
  ASSERT_EQ(::rmdir(path().c_str()), 0);

  ASSERT_EQ(::symlink("/dev/null", path().c_str()), 0);
  refused("a symbolic link");
  ASSERT_EQ(::unlink(path().c_str()), 0);
}

// Store identities (issue 10 item 3): the segment records the store its
// keys came from; a producer on another store never mixes its keys in.
constexpr char kStoreA[] = "0123456789abcdef0123456789abcdef";
constexpr char kStoreB[] = "fedcba9876543210fedcba9876543210";

SegmentSpec SpecOf(const std::string& store, const std::string& id) {
  SegmentSpec s = Spec(64);
  s.store = store;
  s.store_id = id;
  return s;
}

TEST_F(SegmentTest, CreationRecordsTheStoreIdentity) {
  Segment seg = Segment::OpenProducer(name(), SpecOf("sqlite:/a.db", kStoreA));
  EXPECT_EQ(StoreIdOf(seg.header()), kStoreA);
  EXPECT_STREQ(seg.header().store, "sqlite:/a.db");
  EXPECT_EQ(seg.header().layout_version, 4u);
}

TEST_F(SegmentTest, AnotherStoreIsRefusedWhileTheRingHoldsKeys) {
  {
    Segment a = Segment::OpenProducer(name(), SpecOf("sqlite:/a.db", kStoreA));
    PushNumbers(a, 20, 44);
  }
  const std::string err = ErrorOf(
      [&] { Segment::OpenProducer(name(), SpecOf("sqlite:/b.db", kStoreB)); });
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  EXPECT_THAT(err, HasSubstr("44 keys from store sqlite:/a.db (id " +
                             std::string(kStoreA) + ")"));
  EXPECT_THAT(err, HasSubstr("this broker's store is sqlite:/b.db (id " +
                             std::string(kStoreB) + ")"));
  EXPECT_THAT(err, HasSubstr("start the broker with DB_URL=sqlite:/a.db"));
  EXPECT_THAT(err, HasSubstr("rm " + path()));
  // Untouched: still store A's segment with its 44 keys.
  const ReadOnlySegment ro = ReadOnlySegment::Attach(name());
  EXPECT_EQ(StoreIdOf(ro.header()), kStoreA);
  EXPECT_EQ(ro.ring().Size(), 44u);
}

// An empty ring holds nothing of the other store: the segment is replaced
// by one naming the new store, even with a frontend worker attached (it
// moves to the new object), and no key is lost.
TEST_F(SegmentTest, AnotherStoreReplacesAnEmptyRing) {
  {
    Segment a = Segment::OpenProducer(name(), SpecOf("sqlite:/a.db", kStoreA));
    PushNumbers(a, 0, 3);
    Key keys[3];
    ASSERT_EQ(a.ring().TryPopBatch(keys, 3), 3u);
    ASSERT_TRUE(ClaimWorkerSlot(a, ::getpid(), ::getpid()).has_value());
  }
  Segment b = Segment::OpenProducer(name(), SpecOf("sqlite:/b.db", kStoreB));
  EXPECT_THAT(b.open_note(), HasSubstr("replaced"));
  EXPECT_THAT(b.open_note(), HasSubstr("filled from store sqlite:/a.db"));
  EXPECT_THAT(b.open_note(), HasSubstr("no key was lost"));
  EXPECT_EQ(StoreIdOf(b.header()), kStoreB);
  EXPECT_STREQ(b.header().store, "sqlite:/b.db");
  EXPECT_EQ(b.ring().Size(), 0u);
}

// One store has many names (a path through a symlink, another host name):
// the identity decides, not the description.
TEST_F(SegmentTest, SameIdentityReattachesUnderAnotherName) {
  {
    Segment a = Segment::OpenProducer(name(), SpecOf("sqlite:/a.db", kStoreA));
    PushNumbers(a, 0, 5);
  }
  Segment again =
      Segment::OpenProducer(name(), SpecOf("sqlite:/link/a.db", kStoreA));
  EXPECT_THAT(again.open_note(), HasSubstr("re-attached"));
  EXPECT_EQ(again.ring().Size(), 5u);
}

TEST_F(SegmentTest, MalformedStoreIdentityIsRefused) {
  const std::string err = ErrorOf([&] {
    Segment::OpenProducer(name(), SpecOf("sqlite:/a.db", "not-hex"));
  });
  EXPECT_THAT(err, HasSubstr("store identity \"not-hex\" is not allowed"));
}

}  // namespace
}  // namespace forge::shm
