// shm/segment.h — create, attach and validate the shared-memory segment.
//
// Contract
//   * Names: SHM_NAME "x" maps to the POSIX object "/mini-forge.x"
//     (/dev/shm/mini-forge.x) and the producer lock file
//     /dev/shm/mini-forge.x.lock. Names follow the SHM_NAME rule of
//     base/names.h (1..200 chars of [A-Za-z0-9._-], not ending in ".lock").
//     A namespace's segment is "x@ns" (base::NamespaceSegmentName):
//     /dev/shm/mini-forge.x@ns with its own lock file x@ns.lock, its own
//     header, ring and worker slots; "x" itself is namespace "default".
//   * Producer exclusion (docs/design.md §2.3): Segment::OpenProducer takes
//     flock(LOCK_EX|LOCK_NB) on the lock file and keeps it for the object's
//     lifetime; the kernel drops it when the holder dies, so a stale lock
//     cannot exist. A second producer gets ProducerLocked naming the
//     holder's pid (written into the lock file by the holder).
//   * Layout version 2 (a previous build's segment, layout.h): the
//     producer replaces it when no live worker is attached to it (its keys
//     become gaps); while one is, it is refused with one line saying to
//     stop the old frontends. Readers refuse it (this build reads 3).
//   * The key format (layout.h KeyFormat, from SegmentSpec policy, digits
//     and secret) is part of the layout a producer compares: another
//     format is "another key format" below. Attach refuses a segment whose
//     KeyFormat block is damaged (lengths out of range, an alphabet or
//     prefix that does not parse, a text length that disagrees with the
//     header), with one line naming the path.
//   * OpenProducer re-attaches an existing segment when its layout matches
//     (keys already in the ring are kept); it never reinterprets a segment
//     with a different magic, version or size. A segment no consumer can be
//     using (empty, half-created, truncated) or one of this layout version
//     with another capacity/key format and no live worker is replaced (its
//     keys become gaps, never repeats); otherwise it throws SegmentError.
//     open_note() says which of these happened, for the broker's log.
//   * Store identity: the header records the identity (SegmentSpec::
//     store_id) and description of the store its keys came from. A
//     producer whose store identity differs re-attaches only an EMPTY ring,
//     by replacing the segment with one that names its own store (no key
//     is lost; frontends move to the new object); while the ring holds
//     keys it is refused with a SegmentError naming both stores and the
//     fix. So every key in a ring came from the store its header names,
//     and a broker can tell whether it may return them to its own store.
//   * Objects are created with SegmentSpec::mode, 0600 or 0660 (SHM_MODE;
//     they hold the namespace's secret, layout.h KeyFormat; space reserved
//     up front, so a full /dev/shm is an error at start, not a SIGBUS
//     later); a re-attached one is given that mode. Attach refuses a
//     segment that any "other" user could access, one not owned by the
//     current user unless it is 0660 and of a group we are in, is smaller or
//     larger than its header says, or whose ring indices break head <= tail <=
//     head + capacity.
//   * Special files: an existing object is opened with O_NONBLOCK and
//     O_NOFOLLOW and must be a regular file (fstat S_ISREG) before anything
//     maps it; a FIFO, directory, socket, device or symbolic link at the
//     name is refused at once with one line (nothing blocks on it).
//   * Damage while in use: the mapping is a GuardedMapping (bus_guard.h),
//     so a file truncated under a process turns into zero pages instead of
//     a SIGBUS. Damage() (two syscalls: fstat + stat; call it on a timer,
//     never per pop) says in one line whether the object was truncated or
//     resized, deleted, or replaced by another file since it was opened,
//     or faulted; "" while it is intact. Every reader must treat what it
//     read from a damaged segment as garbage.
//   * ReadOnlySegment::Attach maps PROT_READ and hands out only const
//     access (broker(), worker(), ring() return const references), so a
//     store or pop through a read-only mapping is a compile error.
//   * A Segment is a ReadOnlySegment too: readers take one by const
//     reference (never move a Segment into a ReadOnlySegment variable).
//     Both are movable, not copyable; they unmap on destruction. All
//     methods are safe to call from any thread; the memory they return
//     follows the rules of layout.h and ring.h.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "base/status.h"
#include "keys/key_codec.h"
#include "shm/layout.h"
#include "shm/ring.h"

namespace forge::shm {

// A segment that cannot be used; what() is one line for a person: the
// object's path, what is wrong, and what to do (base/status.h: the Status
// says which kind of failure it is).
class SegmentError : public Error {
 public:
  explicit SegmentError(Status status) : Error(std::move(status)) {}
  explicit SegmentError(const std::string& what, Code code = Code::kUnavailable)
      : Error(code, what) {}
};

// No segment exists under that name (forge-ctl exits 1 on this).
class SegmentMissing : public SegmentError {
 public:
  explicit SegmentMissing(const std::string& what)
      : SegmentError(what, Code::kNotFound) {}
};

// Another live process holds the producer lock.
class ProducerLocked : public SegmentError {
 public:
  ProducerLocked(const std::string& what, int holder_pid)
      : SegmentError(what, Code::kBusy), holder_pid_(holder_pid) {}
  int holder_pid() const { return holder_pid_; }

 private:
  int holder_pid_;
};

// What the producer wants the segment to look like.
struct SegmentSpec {
  // KEYS the ring holds, a power of two; the segment has capacity *
  // KeySlots(TextLength(spec)) slots (Header::capacity).
  std::uint64_t capacity = 65536;
  // DIGITS per key, without prefix and check character (keys::KeyCodec's
  // length); the header's key_length is TextLength(spec).
  std::uint32_t key_length = 7;
  std::uint32_t key_order = 0;  // 0 scrambled, 1 sequential
  std::uint64_t key_space = 0;  // alphabet size ^ key_length
  keys::KeyPolicy policy;       // alphabet, check, prefix (default: base62)
  std::uint64_t secret = 0;     // the scrambled order's key (KeyFormat)
  std::string store;            // store description, no password
  // The store's identity (kStoreIdChars lower-case hex digits). Empty only
  // in tests: two empty identities count as the same store.
  std::string store_id;
  // The segment file's mode: 0600, or 0660 for group access (SHM_MODE).
  unsigned mode = 0600;
};

// Characters of each key of `spec`: prefix + key_length digits + check.
std::uint32_t TextLength(const SegmentSpec& spec);

// The identity recorded in a header ("" when none was recorded).
std::string StoreIdOf(const Header& h);

// Read access to a segment: every accessor returns const, so nothing can
// store or pop through it (a compile error, not a SIGSEGV on a PROT_READ
// page). forge-ctl attaches one, mapped PROT_READ; every reader of a
// segment (shm/stats.h, the ring scan) takes one. A Segment is one too.
class ReadOnlySegment {
 public:
  // Throws SegmentError if `name` is not a valid SHM_NAME.
  static std::string ObjectName(const std::string& name);  // "/mini-forge.x"
  static std::string ObjectPath(const std::string& name);  // /dev/shm/...
  static std::string LockPath(const std::string& name);

  // forge-ctl: maps the segment PROT_READ, so it cannot corrupt anything.
  // Throws SegmentMissing or SegmentError.
  static ReadOnlySegment Attach(const std::string& name);

  ReadOnlySegment(ReadOnlySegment&&) noexcept;
  ReadOnlySegment& operator=(ReadOnlySegment&&) noexcept;
  ~ReadOnlySegment();

  const std::string& name() const;
  const Header& header() const;
  // How the keys are spelled (validated by attach; shm/segment_codec.h
  // turns it into the codec).
  const KeyFormat& key_format() const;
  const BrokerStats& broker() const;
  const StoreLink& store_link() const;  // layout version 4
  // i < kMaxWorkers (FORGE_CHECK).
  const WorkerSlot& worker(std::uint32_t i) const;
  const Ring& ring() const;  // Size() and Peek() only
  // "" while the object is intact, else one line: what happened to it
  // (truncated to N bytes (expected M), resized, deleted, replaced, or
  // faulted) and what to do. See "Damage while in use" above.
  std::string Damage() const;
  // A SIGBUS hit the mapping (one relaxed load, no syscall): everything
  // read from it since is zeros. Check after a pop before using its keys.
  bool faulted() const;

 protected:
  struct Impl;
  explicit ReadOnlySegment(std::unique_ptr<Impl> impl);
  // Maps an existing segment after validating it (see Attach).
  static std::unique_ptr<Impl> AttachImpl(const std::string& name,
                                          bool writable);
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// A read-write segment: the broker's (producer) or a frontend worker's
// (ring pops, worker stats).
class Segment : public ReadOnlySegment {
 public:
  // Broker: takes the producer lock, then creates the segment or re-attaches
  // a compatible one. A segment whose capacity/key format differs from
  // `spec` is refused (SegmentError) unless no worker is attached, in which
  // case it is replaced (the keys it held become gaps, never repeats). One
  // filled from another store (identity differs) is refused while its ring
  // holds keys and replaced when it is empty (see "Store identity").
  static Segment OpenProducer(const std::string& name, const SegmentSpec& spec);

  // Frontend: maps the segment read-write (ring pops, worker stats).
  // Throws SegmentMissing or SegmentError.
  static Segment Attach(const std::string& name);

  using ReadOnlySegment::broker;
  using ReadOnlySegment::ring;
  using ReadOnlySegment::store_link;
  using ReadOnlySegment::worker;
  BrokerStats& broker();
  StoreLink& store_link();              // the broker's, see layout.h
  WorkerSlot& worker(std::uint32_t i);  // i < kMaxWorkers (FORGE_CHECK)
  Ring& ring();
  bool is_producer() const;  // holds the producer lock
  // Producer only: one line saying whether the segment was created,
  // re-attached (and how many keys it kept) or replaced (and how many keys
  // became gaps). Empty for Attach().
  const std::string& open_note() const;

 private:
  explicit Segment(std::unique_ptr<Impl> impl);
};

// A store through a read-only segment does not compile.
namespace internal {
template <typename T>
inline constexpr bool kConstRef = std::is_const_v<std::remove_reference_t<T>>;
}  // namespace internal
static_assert(
    internal::kConstRef<decltype(std::declval<ReadOnlySegment&>().broker())>);
static_assert(
    internal::kConstRef<decltype(std::declval<ReadOnlySegment&>().worker(0))>);
static_assert(
    internal::kConstRef<decltype(std::declval<ReadOnlySegment&>().ring())>);

}  // namespace forge::shm
