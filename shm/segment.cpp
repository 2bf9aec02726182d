// shm/segment.cpp — see segment.h. POSIX shared memory as files under
// /dev/shm (what shm_open does), opened with O_NONBLOCK | O_NOFOLLOW and
// checked to be regular files before anything maps them; mapped through
// GuardedMapping (bus_guard.h) so that a shrunk file cannot kill us.
#include "shm/segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "base/names.h"
#include "base/status.h"
#include "shm/bus_guard.h"
#include "shm/producer_lock.h"
#include "shm/segment_check.h"
#include "shm/workers.h"

namespace forge::shm {
namespace {

// The name as it may appear in a one-line message (no control bytes).
std::string Printable(const std::string& name) {
  std::string out = name.substr(0, base::kMaxShmNameLength + 10);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

// A segment name is SHM_NAME, or SHM_NAME@NAMESPACE (base/names.h).
void ValidateName(const std::string& name) {
  const std::size_t at = name.find(base::kNamespaceSeparator);
  if (at != std::string::npos &&
      !base::IsNamespaceName(std::string_view(name).substr(at + 1))) {
    throw SegmentError("namespace \"" + Printable(name.substr(at + 1)) +
                       "\" is not allowed: use " +
                       std::string(base::kNamespaceRule));
  }
  if (base::CheckShmName(name.substr(0, at)) != base::ShmNameFault::kNone) {
    throw SegmentError("SHM_NAME \"" + Printable(name) +
                       "\" is not allowed: use 1 to 200 characters from "
                       "A-Z a-z 0-9 . _ - , not ending in \".lock\"");
  }
}

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Who owns `path`, for a "permission denied" message ("" if unknown).
std::string OwnerHint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return " (owned by uid " + Num(st.st_uid) + "; you are uid " +
         Num(::geteuid()) + ")";
}

const char* KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

std::string NotRegular(const std::string& path, mode_t mode) {
  return "shared memory " + path + " is " + KindOf(mode) +
         ", not a regular file, so it is not a mini-forge segment; remove it "
         "(rm -r " +
         path + ") and start forge-broker";
}

// What lies at `path` (lstat, so a symbolic link is named as such), for an
// open that failed because the name is not a plain file.
std::string NotRegularAt(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) {
    return "shared memory " + path +
           " cannot be opened: " + std::strerror(errno);
  }
  return NotRegular(path, st.st_mode);
}

struct stat StatFd(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw SegmentError("cannot stat shared memory " + path + ": " +
                       std::strerror(errno));
  }
  return st;
}

// Opens an existing object; nullopt when there is none. Never blocks (a
// FIFO at the name would block a plain open) and never follows a symbolic
// link; anything but a regular file is refused with one line.
std::optional<Fd> OpenExisting(const std::string& name, bool writable) {
  const std::string path = Segment::ObjectPath(name);
  const int flags =
      (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC;
  Fd fd(::open(path.c_str(), flags));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return std::nullopt;
    if (err == EACCES) {
      throw SegmentError("cannot open shared memory " + path +
                         ": permission denied" + OwnerHint(path) +
                         "; run as the user that runs forge-broker");
    }
    if (err == ELOOP || err == EISDIR || err == ENXIO || err == EOPNOTSUPP) {
      throw SegmentError(NotRegularAt(path));
    }
    throw SegmentError("cannot open shared memory " + path + ": " +
                       std::strerror(err));
  }
  if (const struct stat st = StatFd(fd.get(), path); !S_ISREG(st.st_mode)) {
    throw SegmentError(NotRegular(path, st.st_mode));
  }
  return fd;
}

GuardedMapping Map(int fd, bool writable, std::uint64_t size,
                   const std::string& path) {
  Result<GuardedMapping> m =
      GuardedMapping::Map(fd, static_cast<std::size_t>(size), writable);
  if (!m.ok()) {
    throw SegmentError("cannot map shared memory " + path + " (" + Num(size) +
                           " bytes): " + m.status().message(),
                       Code::kIoError);
  }
  return std::move(m).value();
}

SegmentPrefix* PrefixOf(const GuardedMapping& region) {
  return static_cast<SegmentPrefix*>(region.data());
}

std::string TooSmall(const std::string& path, std::uint64_t size) {
  return "shared memory " + path + " is only " + Num(size) +
         " bytes, too small for a segment header (" + Num(sizeof(Header)) +
         "): truncated or not a mini-forge segment; restart forge-broker or "
         "remove it: rm " +
         path;
}

// Why a mapping of `expected` bytes faulted or no longer matches its file.
std::string Shrunk(int fd, const std::string& path, std::uint64_t expected) {
  struct stat st {};
  const std::string verb = "shared memory " + path + " was ";
  const std::string what =
      ::fstat(fd, &st) != 0 ? "changed"
      : static_cast<std::uint64_t>(st.st_size) < expected
          ? "truncated to " + Num(static_cast<std::uint64_t>(st.st_size)) +
                " bytes"
      : static_cast<std::uint64_t>(st.st_size) > expected
          ? "resized to " + Num(static_cast<std::uint64_t>(st.st_size)) +
                " bytes"
          : "truncated and re-extended (its pages faulted)";
  return verb + what + " (expected " + Num(expected) +
         ") while in use: its keys are gone (gaps, never reissued); restart "
         "forge-broker to replace it";
}

std::string KeysHeld(const SegmentPrefix& p, const std::string& path) {
  if (!CheckIndices(p, path).ok()) return "the keys";
  // relaxed: only a count for a log line; the indices were checked above.
  const std::uint64_t head = p.head.value.load(std::memory_order_relaxed);
  const std::uint64_t tail = p.tail.value.load(std::memory_order_relaxed);
  return tail >= head ? Num(tail - head) + " keys" : "the keys";
}

// "sqlite:/srv/a.db (id 0123...)": a store as a header or spec names it.
std::string StoreText(const std::string& store, const std::string& id) {
  return (store.empty() ? std::string("an unnamed store") : store) + " (id " +
         (id.empty() ? std::string("unknown") : id) + ")";
}

std::string RecordedStore(const Header& h) {
  return std::string(h.store, ::strnlen(h.store, sizeof(h.store)));
}

// The ring of a segment whose producer lock we hold holds no key. Stays
// true until we push: only the producer moves tail, consumers stop at it.
bool RingEmpty(const SegmentPrefix& p) {
  // acquire on both, as in CheckIndices: the latest values of a ring whose
  // producer is gone (we hold its lock).
  return p.head.value.load(std::memory_order_acquire) ==
         p.tail.value.load(std::memory_order_acquire);
}

// A compatible segment filled from another store (identity differs): its
// keys are that store's numbers, so ours must not be pushed next to them
// (they may repeat them) and they must never be returned to our store.
// An empty ring is replaced by one naming our store (returns false, no key
// lost); a ring holding keys is left for the operator (throws).
bool ReplaceIfOtherStoreEmpty(const SegmentPrefix& p, const SegmentSpec& spec,
                              const std::string& path, std::string* note) {
  const std::string recorded = RecordedStore(p.header);
  const std::string theirs = StoreText(recorded, StoreIdOf(p.header));
  const std::string ours = StoreText(spec.store, spec.store_id);
  if (RingEmpty(p)) {
    *note = "replaced " + path + ": it was filled from store " + theirs +
            ", this broker's store is " + ours +
            "; its ring was empty, so no key was lost";
    return false;
  }
  const std::string restart =
      recorded.empty() ? "on the store with id " + StoreIdOf(p.header)
                       : "with DB_URL=" + recorded;
  throw SegmentError("shared memory " + path + " holds " + KeysHeld(p, path) +
                     " from store " + theirs + " but this broker's store is " +
                     ours +
                     " (serving both could repeat keys); start the "
                     "broker " +
                     restart +
                     ", or remove the segment (its "
                     "keys become gaps): rm " +
                     path);
}

// Decides what to do with an existing segment of this layout version whose
// prefix is mapped: keep it (returns true), replace it (false, note says
// why) or refuse (throws).
bool KeepExisting(const SegmentPrefix& p, std::uint64_t size,
                  const SegmentSpec& spec, const std::string& path,
                  std::string* note) {
  Status check = CheckHeader(p.header, size, path);
  if (check.ok()) check = CheckIndices(p, path);
  if (check.ok()) check = ReadKeyPolicy(p.header, p.format, path).status();
  std::string why = check.message();
  if (why.empty() && Compatible(p, spec)) {
    if (StoreIdOf(p.header) != spec.store_id) {
      return ReplaceIfOtherStoreEmpty(p, spec, path, note);
    }
    *note = "re-attached " + path + " (" + KeysHeld(p, path) + " kept)";
    return true;
  }
  if (why.empty()) {
    const std::string theirs = DescribeLayout(p);
    const std::string ours = DescribeSpec(spec);
    // Equal descriptions: only the secret (never printed) differs, which
    // means the store was created anew since the segment was filled.
    why = theirs != ours
              ? "shared memory " + path + " has " + theirs +
                    " but the broker wants " + ours
              : "shared memory " + path +
                    " holds keys of another key secret, "
                    "filled from store " +
                    StoreText(RecordedStore(p.header), StoreIdOf(p.header)) +
                    " (this broker's store " +
                    StoreText(spec.store, spec.store_id) +
                    " was created since)";
  }
  if (const std::vector<pid_t> live = LiveWorkerPids(p.workers);
      !live.empty()) {
    throw SegmentError(why + "; worker pid " + Num(live.front()) +
                       " still uses it: stop its frontends (or pick another "
                       "SHM_NAME), then start the broker again to replace it");
  }
  *note = "replaced an unusable segment (" + why + "); " + KeysHeld(p, path) +
          " it held are gaps, never reissued";
  return false;
}

// A segment of an earlier layout version (layout.h): its workers sit at
// the same offsets, so we can tell whether a frontend of the old build
// still uses it. Replaced (returns, note says why) when none does; refused
// (throws) while one does.
void ReplacePreviousLayout(const SegmentPrefix& p, std::uint64_t size,
                           const std::string& path, std::string* note) {
  const std::string old = "shared memory " + path + " has layout version " +
                          Num(p.header.layout_version) +
                          " (made by a previous mini-forge build)";
  if (size >= offsetof(SegmentPrefix, head)) {
    if (const std::vector<pid_t> live = LiveWorkerPids(p.workers);
        !live.empty()) {
      throw SegmentError(old + " and frontend worker pid " + Num(live.front()) +
                         " still uses it: stop the old frontends, then start "
                         "the broker again to replace it with version " +
                         Num(kLayoutVersion));
    }
  }
  *note = "replaced " + path + ": it had layout version " +
          Num(p.header.layout_version) +
          " (a previous build) and no frontend used it; the keys it held "
          "are gaps, never reissued";
}

// Maps an existing segment for the producer if it can be kept; nullopt
// when it must be replaced (note says why); throws when it must be left.
std::optional<GuardedMapping> Reuse(const Fd& fd, const SegmentSpec& spec,
                                    const std::string& path,
                                    std::string* note) {
  const struct stat st = StatFd(fd.get(), path);
  if (Status s = CheckOwnership(st, path); !s.ok()) throw SegmentError(s);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < sizeof(Header)) {
    *note = "replaced " + path + ": it was " + Num(size) +
            " bytes, too small to hold a header (no keys lost)";
    return std::nullopt;
  }
  GuardedMapping region = Map(fd.get(), true, size, path);
  const SegmentPrefix& p = *PrefixOf(region);
  // acquire: pairs with the creator's release store of magic.
  if (p.header.magic.load(std::memory_order_acquire) == 0) {
    *note =
        "replaced " + path + ": a broker died while creating it (no keys lost)";
    return std::nullopt;
  }
  // relaxed: the acquire load above already ordered the header fields after
  // the creator's release store; the magic never changes once set.
  if (p.header.magic.load(std::memory_order_relaxed) == kMagic &&
      IsReplaceableLayout(p.header.layout_version)) {
    ReplacePreviousLayout(p, size, path, note);
    return std::nullopt;
  }
  // Another magic or layout version: not ours to interpret or delete.
  if (Status s = CheckLayout(p.header, path); !s.ok()) throw SegmentError(s);
  if (size < kSlotsOffset) {
    *note = "replaced " + path + ": it was truncated to " + Num(size) +
            " bytes (its keys are gaps, never reissued)";
    return std::nullopt;
  }
  if (!KeepExisting(p, size, spec, path, note)) return std::nullopt;
  if (region.faulted()) {  // it shrank while we looked: nobody can use it
    *note = Shrunk(fd.get(), path, size) + "; replaced";
    return std::nullopt;
  }
  return region;
}

// Reserves the bytes in /dev/shm now, so running out of space is an error
// here rather than a SIGBUS on first touch.
void Reserve(const Fd& fd, std::uint64_t size, const std::string& path) {
  const int rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size));
  if (rc == 0) return;
  if (rc == EOPNOTSUPP || rc == EINVAL) {  // no fallocate: plain resize
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) == 0) return;
    throw SegmentError("cannot size " + path + " to " + Num(size) +
                       " bytes: " + std::strerror(errno));
  }
  throw SegmentError("cannot reserve " + Num(size) + " bytes for " + path +
                     ": " + std::strerror(rc) +
                     "; free space in /dev/shm or use a smaller ring capacity");
}

// The ring's slots for `spec`: capacity keys of KeySlots(text) slots each.
std::uint64_t SlotsOf(const SegmentSpec& spec) {
  return spec.capacity * KeySlots(TextLength(spec));
}

void WriteKeyFormat(const SegmentSpec& spec, KeyFormat* f) {
  const std::string& alphabet = spec.policy.alphabet.spec();
  f->digits = spec.key_length;
  f->check = static_cast<std::uint32_t>(spec.policy.check);
  f->prefix_length = static_cast<std::uint32_t>(spec.policy.prefix.size());
  f->alphabet_length = static_cast<std::uint32_t>(alphabet.size());
  f->secret = spec.secret;
  // CheckSpec bounded both sizes (IsKeyPrefix, Alphabet).
  std::memcpy(f->prefix, spec.policy.prefix.data(), f->prefix_length);
  std::memcpy(f->alphabet, alphabet.data(), f->alphabet_length);
}

void Initialise(void* addr, const SegmentSpec& spec, std::uint64_t size) {
  SegmentPrefix* p = ::new (addr) SegmentPrefix();
  Header& h = p->header;
  h.layout_version = kLayoutVersion;
  h.header_size = sizeof(Header);
  h.total_size = size;
  h.capacity = SlotsOf(spec);
  h.slot_size = sizeof(Slot);
  h.key_length = TextLength(spec);
  WriteKeyFormat(spec, &p->format);
  h.max_workers = kMaxWorkers;
  h.key_order = spec.key_order;
  h.key_space = spec.key_space;
  h.created_unix_ns = base::UnixNowNs();
  std::memcpy(h.store, spec.store.data(),
              std::min(spec.store.size(), kStoreTextBytes - 1));
  std::memcpy(h.store_id, spec.store_id.data(),
              std::min(spec.store_id.size(), kStoreIdChars));
  // release: every header and key format field above is visible to whoever
  // loads the magic with acquire and sees it set (layout.h: magic is stored
  // last).
  h.magic.store(kMagic, std::memory_order_release);
}

// Gives the segment file SHM_MODE (0600 or 0660, CheckSpec), whatever the
// umask and whatever mode an earlier broker gave it.
void SetMode(const Fd& fd, unsigned mode, const std::string& path) {
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {
    throw SegmentError("cannot set mode " + Num(mode) + " on shared memory " +
                       path + ": " + std::strerror(errno));
  }
}

// A new segment: its descriptor and its mapping.
struct Created {
  Fd fd;
  GuardedMapping region;
};

// Builds the segment under a staging name and renames it into place, so an
// attacher sees either no segment or a complete one, never a half-made one.
// Only the producer-lock holder creates, so one staging name suffices; '~'
// cannot occur in a SHM_NAME, so it never collides with another segment.
Created Create(const SegmentSpec& spec, const std::string& path) {
  const std::string staging_path = path + "~new";
  ::unlink(staging_path.c_str());  // a crashed creator's
  Fd fd(::open(staging_path.c_str(),
               O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    throw SegmentError("cannot create shared memory " + staging_path + ": " +
                       std::strerror(errno));
  }
  SetMode(fd, spec.mode, staging_path);  // not the umask's
  const std::uint64_t size = SegmentSize(SlotsOf(spec));
  try {
    Reserve(fd, size, path);
    GuardedMapping region = Map(fd.get(), true, size, path);
    Initialise(region.data(), spec, size);
    if (::rename(staging_path.c_str(), path.c_str()) != 0) {
      throw SegmentError("cannot publish " + staging_path + " as " + path +
                         ": " + std::strerror(errno));
    }
    return Created{std::move(fd), std::move(region)};
  } catch (...) {
    ::unlink(staging_path.c_str());
    throw;
  }
}

std::uint32_t CheckWorkerIndex(std::uint32_t i) {
  FORGE_CHECK(
      i < kMaxWorkers,
      "worker slot " + Num(i) + " is out of range 0.." + Num(kMaxWorkers - 1));
  return i;
}

}  // namespace

struct ReadOnlySegment::Impl {
  Impl(std::string n, Fd f, GuardedMapping r, std::optional<ProducerLock> l,
       std::string note_text)
      : name(std::move(n)),
        path(ObjectPath(name)),
        fd(std::move(f)),
        region(std::move(r)),
        prefix(PrefixOf(region)),
        ring(&prefix->head, &prefix->tail,
             reinterpret_cast<Slot*>(static_cast<char*>(region.data()) +
                                     kSlotsOffset),
             prefix->header.capacity, KeySlots(prefix->header.key_length)),
        lock(std::move(l)),
        note(std::move(note_text)) {
    const struct stat st = StatFd(fd.get(), path);
    dev = st.st_dev;
    ino = st.st_ino;
  }

  std::string name;
  std::string path;
  Fd fd;  // kept open: Damage() checks the object itself, not the name
  GuardedMapping region;
  SegmentPrefix* prefix;
  Ring ring;
  std::optional<ProducerLock> lock;  // set for the producer only
  std::string note;
  dev_t dev = 0;  // the object's identity when it was opened
  ino_t ino = 0;
};

std::uint32_t TextLength(const SegmentSpec& spec) {
  return static_cast<std::uint32_t>(spec.policy.prefix.size()) +
         spec.key_length +
         (spec.policy.check == keys::CheckKind::kNone ? 0U : 1U);
}

std::string StoreIdOf(const Header& h) {
  return std::string(h.store_id, ::strnlen(h.store_id, sizeof(h.store_id)));
}

std::string ReadOnlySegment::ObjectName(const std::string& name) {
  ValidateName(name);
  return "/mini-forge." + name;
}

std::string ReadOnlySegment::ObjectPath(const std::string& name) {
  ValidateName(name);
  return "/dev/shm/mini-forge." + name;
}

std::string ReadOnlySegment::LockPath(const std::string& name) {
  return ObjectPath(name) + std::string(base::kShmLockSuffix);
}

Segment Segment::OpenProducer(const std::string& name,
                              const SegmentSpec& spec) {
  const std::string path = ObjectPath(name);
  if (Status s = CheckSpec(spec); !s.ok()) {
    throw SegmentError(
        Status::InvalidArgument("segment \"" + name + "\": " + s.message()));
  }
  ProducerLock lock = ProducerLock::Acquire(name, LockPath(name));
  std::string note = "created " + path;
  if (auto fd = OpenExisting(name, true)) {
    if (auto kept = Reuse(*fd, spec, path, &note)) {
      SetMode(*fd, spec.mode, path);
      return Segment(std::make_unique<Impl>(
          name, std::move(*fd), std::move(*kept), std::move(lock), note));
    }
    // Not kept: Create() renames the new segment over it atomically.
  }
  Created created = Create(spec, path);
  return Segment(std::make_unique<Impl>(name, std::move(created.fd),
                                        std::move(created.region),
                                        std::move(lock), note));
}

std::unique_ptr<ReadOnlySegment::Impl> ReadOnlySegment::AttachImpl(
    const std::string& name, bool writable) {
  const std::string path = ObjectPath(name);
  auto fd = OpenExisting(name, writable);
  if (!fd) {
    throw SegmentMissing(
        "no shared memory " + path + " for SHM_NAME \"" + name +
        "\": is forge-broker running with SHM_NAME=" + name + "?");
  }
  const struct stat st = StatFd(fd->get(), path);
  if (Status s = CheckOwnership(st, path); !s.ok()) throw SegmentError(s);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < sizeof(Header)) throw SegmentError(TooSmall(path, size));
  GuardedMapping region = Map(fd->get(), writable, size, path);
  const SegmentPrefix& p = *PrefixOf(region);
  Status check = CheckHeader(p.header, size, path);
  if (check.ok()) check = CheckIndices(p, path);
  if (check.ok()) check = ReadKeyPolicy(p.header, p.format, path).status();
  // A fault while validating: the file shrank under us; say so.
  if (region.faulted()) {
    check = Status::Corruption(Shrunk(fd->get(), path, size));
  }
  if (!check.ok()) throw SegmentError(check);
  return std::make_unique<Impl>(name, std::move(*fd), std::move(region),
                                std::nullopt, std::string());
}

ReadOnlySegment ReadOnlySegment::Attach(const std::string& name) {
  return ReadOnlySegment(AttachImpl(name, false));
}

Segment Segment::Attach(const std::string& name) {
  return Segment(AttachImpl(name, true));
}

ReadOnlySegment::ReadOnlySegment(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ReadOnlySegment::ReadOnlySegment(ReadOnlySegment&&) noexcept = default;
ReadOnlySegment& ReadOnlySegment::operator=(ReadOnlySegment&&) noexcept =
    default;
ReadOnlySegment::~ReadOnlySegment() = default;
Segment::Segment(std::unique_ptr<Impl> impl)
    : ReadOnlySegment(std::move(impl)) {}

const std::string& ReadOnlySegment::name() const { return impl_->name; }
const Header& ReadOnlySegment::header() const { return impl_->prefix->header; }
const KeyFormat& ReadOnlySegment::key_format() const {
  return impl_->prefix->format;
}
const BrokerStats& ReadOnlySegment::broker() const {
  return impl_->prefix->broker;
}
const StoreLink& ReadOnlySegment::store_link() const {
  return impl_->prefix->store_link;
}
const WorkerSlot& ReadOnlySegment::worker(std::uint32_t i) const {
  return impl_->prefix->workers[CheckWorkerIndex(i)];
}
const Ring& ReadOnlySegment::ring() const { return impl_->ring; }
bool ReadOnlySegment::faulted() const { return impl_->region.faulted(); }

BrokerStats& Segment::broker() { return impl().prefix->broker; }
StoreLink& Segment::store_link() { return impl().prefix->store_link; }
WorkerSlot& Segment::worker(std::uint32_t i) {
  return impl().prefix->workers[CheckWorkerIndex(i)];
}
Ring& Segment::ring() { return impl().ring; }
bool Segment::is_producer() const { return impl().lock.has_value(); }
const std::string& Segment::open_note() const { return impl().note; }

std::string ReadOnlySegment::Damage() const {
  const Impl& m = *impl_;
  const std::uint64_t mapped = m.region.size();
  struct stat st {};
  if (::fstat(m.fd.get(), &st) == 0 &&
      static_cast<std::uint64_t>(st.st_size) != mapped) {
    return Shrunk(m.fd.get(), m.path, mapped);
  }
  struct stat now {};
  if (::stat(m.path.c_str(), &now) != 0) {
    return "shared memory " + m.path +
           " was deleted while in use; start forge-broker to create a new "
           "segment";
  }
  if (now.st_dev != m.dev || now.st_ino != m.ino) {
    return "shared memory " + m.path +
           " was replaced by another file while in use; restart "
           "forge-broker (and forge-frontend if they do not follow)";
  }
  if (m.region.faulted()) return Shrunk(m.fd.get(), m.path, mapped);
  return "";
}

}  // namespace forge::shm
