// tests/shm/key_format_test.cpp — layout version 3 (issue 14): the
// KeyFormat block, multi-slot keys in a segment, shm::SegmentCodec, the
// keys_blocked counter, and what happens to a version-2 segment left by a
// previous build.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <string>

#include "keys/key_codec.h"
#include "shm/layout.h"
#include "shm/segment.h"
#include "shm/segment_codec.h"
#include "shm/stats.h"
#include "shm/workers.h"
#include "tests/shm/raw_file.h"
#include "tests/shm/segment_error_of.h"
#include "tests/support/process.h"

namespace forge::shm {
namespace {

using forge::testing::ShmName;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RawFile;

// The version-2 map, which versions 3 and 4 keep: a v2 frontend's worker slots
// are where a v4 producer looks for them.
static_assert(offsetof(SegmentPrefix, broker) == 256);
static_assert(offsetof(SegmentPrefix, workers) == 512);
static_assert(offsetof(SegmentPrefix, head) == 512 + 1024 * 64);
static_assert(offsetof(SegmentPrefix, tail) == 512 + 1024 * 64 + 64);
static_assert(offsetof(SegmentPrefix, format) == 512 + 1024 * 64 + 128);
static_assert(offsetof(BrokerStats, keys_blocked) == 80);
static_assert(offsetof(BrokerStats, producer_wake) == 128);
static_assert(kLayoutVersion == 4 && kPreviousLayoutVersion == 3 &&
              kOldestReplaceableVersion == 2);

using testing::ErrorOf;

keys::KeyPolicy Policy(const std::string& alphabet, keys::CheckKind check,
                       const std::string& prefix) {
  std::string why;
  keys::KeyPolicy p;
  p.alphabet = *keys::Alphabet::Parse(alphabet, &why);
  p.check = check;
  p.prefix = prefix;
  return p;
}

// digits 18 + luhn + "inv_": 23-character keys, two slots each.
SegmentSpec InviteSpec() {
  SegmentSpec s;
  s.capacity = 64;
  s.key_length = 18;
  s.key_order = 0;
  s.key_space = keys::KeySpace(10, 18);
  s.policy = Policy("digits", keys::CheckKind::kLuhn, "inv_");
  s.secret = 0x5eed5eed12345678ULL;
  s.store = "sqlite:/tmp/forge.db";
  return s;
}

class KeyFormatTest : public ::testing::Test {
 protected:
  const std::string& name() const { return name_.str(); }
  std::string path() const { return Segment::ObjectPath(name()); }

  // A segment as a version-2 build left it: its size, its header (version
  // 2, 7-character keys), and a live worker (this process) when asked.
  void WriteVersion2(bool live_worker) {
    constexpr std::uint64_t kSlots = 64;
    const std::size_t size = offsetof(SegmentPrefix, format) + kSlots * 16;
    const int fd = ::open(path().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    void* addr =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(addr, MAP_FAILED);
    auto* p = static_cast<SegmentPrefix*>(addr);
    p->header.layout_version = kOldestReplaceableVersion;
    p->header.header_size = sizeof(Header);
    p->header.total_size = size;
    p->header.capacity = kSlots;
    p->header.slot_size = 16;
    p->header.key_length = 7;
    p->header.max_workers = kMaxWorkers;
    if (live_worker) p->workers[3].pid.store(::getpid());
    p->tail.value.store(5);  // five keys in its ring
    p->header.magic.store(kMagic);
    ::munmap(addr, size);
    ::close(fd);
  }

  ShmName name_;
};

TEST_F(KeyFormatTest, DefaultSegmentKeepsSingleSlotKeys) {
  SegmentSpec spec;
  spec.capacity = 128;
  Segment seg = Segment::OpenProducer(name(), spec);
  EXPECT_EQ(seg.header().layout_version, 4u);
  EXPECT_EQ(seg.header().key_length, 7u);
  EXPECT_EQ(seg.header().capacity, 128u);
  EXPECT_EQ(seg.ring().Stride(), 1u);
  EXPECT_EQ(seg.ring().Capacity(), 128u);
  EXPECT_EQ(seg.key_format().digits, 7u);
  EXPECT_EQ(
      std::string(seg.key_format().alphabet, seg.key_format().alphabet_length),
      "base62");
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the segment holds the secret";
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), kSlotsOffset + 128 * 16);
}

TEST_F(KeyFormatTest, LongKeysTakeSeveralSlotsAndTheCodecComesFromTheBlock) {
  const SegmentSpec spec = InviteSpec();
  {
    Segment seg = Segment::OpenProducer(name(), spec);
    EXPECT_EQ(TextLength(spec), 23u);
    EXPECT_EQ(seg.header().key_length, 23u);
    EXPECT_EQ(seg.ring().Stride(), 2u);
    EXPECT_EQ(seg.ring().Capacity(), 64u) << "capacity counts keys";
    EXPECT_EQ(seg.header().capacity, 128u) << "the header counts slots";
    EXPECT_EQ(seg.key_format().secret, spec.secret);
  }
  const keys::KeyCodec expected(18, keys::KeyOrder::kScrambled, spec.secret,
                                spec.policy);
  const ReadOnlySegment reader = ReadOnlySegment::Attach(name());
  const keys::KeyCodec codec = SegmentCodec(reader);
  EXPECT_EQ(codec.text_length(), 23u);
  EXPECT_EQ(codec.policy(), spec.policy);
  for (const std::uint64_t n : {0ULL, 1ULL, 123456789ULL}) {
    EXPECT_EQ(codec.Encode(n), expected.Encode(n));
    EXPECT_EQ(codec.Decode(expected.Encode(n)), n);
  }
  EXPECT_EQ(codec.Encode(7).substr(0, 4), "inv_");
  EXPECT_THAT(Segment::OpenProducer(name(), spec).open_note(),
              HasSubstr("re-attached"))
      << "the same format is kept";
}

TEST_F(KeyFormatTest, AnotherKeyFormatIsReplacedWithoutWorkers) {
  { Segment seg = Segment::OpenProducer(name(), InviteSpec()); }
  SegmentSpec other = InviteSpec();
  other.policy.prefix = "gift-";
  {
    Segment seg = Segment::OpenProducer(name(), other);
    EXPECT_THAT(seg.open_note(), HasSubstr("replaced"));
    EXPECT_THAT(seg.open_note(), HasSubstr("prefix inv_"));
    EXPECT_EQ(seg.header().key_length, 24u);
  }
  SegmentSpec secret = other;
  secret.secret = 1;
  EXPECT_THAT(Segment::OpenProducer(name(), secret).open_note(),
              HasSubstr("replaced"))
      << "another secret is another key format";
}

// A store created anew (another secret and store id) while a frontend
// still holds the old segment: the refusal says so rather than printing
// two identical formats (the secret itself is never printed).
TEST_F(KeyFormatTest, AnotherSecretWithALiveWorkerNamesTheRecreatedStore) {
  {
    Segment seg = Segment::OpenProducer(name(), InviteSpec());
    ASSERT_TRUE(ClaimWorkerSlot(seg, ::getpid(), ::getpid()).has_value());
  }
  SegmentSpec fresh = InviteSpec();
  fresh.secret = 1;
  const std::string err =
      ErrorOf([&] { Segment::OpenProducer(name(), fresh); });
  EXPECT_THAT(err, HasSubstr("another key secret"));
  EXPECT_THAT(err, HasSubstr("was created since"));
  EXPECT_THAT(err, HasSubstr("worker pid " + std::to_string(::getpid())));
  EXPECT_THAT(err, Not(HasSubstr("but the broker wants")));
  RawFile(path()).prefix().workers[0].pid.store(0);
}

TEST_F(KeyFormatTest, BadPolicyInTheSpecIsRefused) {
  SegmentSpec spec = InviteSpec();
  spec.key_length = 19;
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), spec); }),
              HasSubstr("1 to 18"));
  spec = InviteSpec();
  spec.policy.prefix = "a/b";
  EXPECT_THAT(ErrorOf([&] { Segment::OpenProducer(name(), spec); }),
              HasSubstr("prefix"));
}

// Each damage of the KeyFormat block is refused by attach with one line
// naming the path and the field; SegmentCodec of a segment damaged after
// attach throws the same way.
TEST_F(KeyFormatTest, DamagedKeyFormatBlockIsRefusedByAttach) {
  struct Damage {
    const char* what;
    std::function<void(KeyFormat&)> apply;
  };
  const Damage damages[] = {
      {"alphabet length 0", [](KeyFormat& f) { f.alphabet_length = 0; }},
      {"alphabet length 300", [](KeyFormat& f) { f.alphabet_length = 300; }},
      {"alphabet: ",
       [](KeyFormat& f) {
         std::memcpy(f.alphabet, "aab", 3);
         f.alphabet_length = 3;
       }},
      {"digits 0", [](KeyFormat& f) { f.digits = 0; }},
      {"digits 19", [](KeyFormat& f) { f.digits = 19; }},
      {"check 7", [](KeyFormat& f) { f.check = 7; }},
      {"prefix length 17", [](KeyFormat& f) { f.prefix_length = 17; }},
      {"prefix is not", [](KeyFormat& f) { f.prefix[1] = '/'; }},
      {"make 22 characters", [](KeyFormat& f) { f.check = 0; }},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.what);
    ::unlink(path().c_str());
    { Segment seg = Segment::OpenProducer(name(), InviteSpec()); }
    const ReadOnlySegment before = ReadOnlySegment::Attach(name());
    d.apply(RawFile(path()).prefix().format);
    const std::string err = ErrorOf([&] { Segment::Attach(name()); });
    EXPECT_THAT(err, HasSubstr(path() + " has a damaged key format block"));
    EXPECT_THAT(err, HasSubstr(d.what));
    EXPECT_EQ(err.find('\n'), std::string::npos) << "one line";
    EXPECT_THAT(ErrorOf([&] { static_cast<void>(SegmentCodec(before)); }),
                HasSubstr(d.what));
  }
}

TEST_F(KeyFormatTest, DamagedKeyFormatIsReplacedOnlyWithoutLiveWorkers) {
  {
    Segment seg = Segment::OpenProducer(name(), InviteSpec());
    ASSERT_TRUE(ClaimWorkerSlot(seg, ::getpid(), ::getpid()).has_value());
  }
  RawFile(path()).prefix().format.digits = 0;
  const std::string err =
      ErrorOf([&] { Segment::OpenProducer(name(), InviteSpec()); });
  EXPECT_THAT(err, HasSubstr("damaged key format block"));
  EXPECT_THAT(err, HasSubstr("worker pid " + std::to_string(::getpid())));
  RawFile(path()).prefix().workers[0].pid.store(0);
  Segment seg = Segment::OpenProducer(name(), InviteSpec());
  EXPECT_THAT(seg.open_note(), HasSubstr("replaced"));
  EXPECT_EQ(seg.key_format().digits, 18u);
}

TEST_F(KeyFormatTest, Version2SegmentIsReplacedWhenNoWorkerUsesIt) {
  WriteVersion2(/*live_worker=*/false);
  EXPECT_THAT(ErrorOf([&] { ReadOnlySegment::Attach(name()); }),
              HasSubstr("layout version 2, this build reads version 4"));
  SegmentSpec spec;
  spec.capacity = 64;
  Segment seg = Segment::OpenProducer(name(), spec);
  EXPECT_THAT(seg.open_note(), HasSubstr("replaced " + path()));
  EXPECT_THAT(seg.open_note(), HasSubstr("layout version 2"));
  EXPECT_EQ(seg.header().layout_version, 4u);
  EXPECT_EQ(seg.ring().Size(), 0u) << "its keys are gaps, never reissued";
  EXPECT_NO_THROW(ReadOnlySegment::Attach(name()));
}

TEST_F(KeyFormatTest, Version2SegmentWithALiveWorkerIsRefusedInOneLine) {
  WriteVersion2(/*live_worker=*/true);
  const std::string err =
      ErrorOf([&] { Segment::OpenProducer(name(), SegmentSpec{}); });
  EXPECT_THAT(err, HasSubstr(path() + " has layout version 2"));
  EXPECT_THAT(err, HasSubstr("pid " + std::to_string(::getpid())));
  EXPECT_THAT(err, HasSubstr("stop the old frontends"));
  EXPECT_EQ(err.find('\n'), std::string::npos);
  EXPECT_EQ(RawFile(path()).prefix().header.layout_version, 2u)
      << "left as it was";
}

TEST_F(KeyFormatTest, StatsReadKeysBlockedAndCapacityInKeys) {
  Segment seg = Segment::OpenProducer(name(), InviteSpec());
  seg.broker().keys_blocked.store(42);
  const Stats s = ReadStats(seg, 1);
  EXPECT_EQ(s.keys_blocked, 42u);
  EXPECT_EQ(s.ring_capacity, 64u);
  EXPECT_EQ(s.key_length, 23u);
}

}  // namespace
}  // namespace forge::shm
