// shm/segment_check.cpp — see segment_check.h.
#include "shm/segment_check.h"

#include <unistd.h>

#include <cstdio>
#include <limits>

namespace forge::shm {
namespace {

// Largest ring we accept: keeps SegmentSize() far from overflow (16 TiB).
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 40;

std::string Num(std::uint64_t v) { return std::to_string(v); }

std::string Hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx",
                static_cast<unsigned long long>(v));
  return buf;
}

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777u);
  return buf;
}

bool PowerOfTwo(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

const char* OrderName(std::uint32_t order) {
  return order == 0 ? "scrambled" : order == 1 ? "sequential" : "unknown";
}

std::string Layout(std::uint64_t capacity, std::uint32_t key_length,
                   std::uint32_t key_order) {
  return "capacity " + Num(capacity) + ", key_length " + Num(key_length) +
         ", key_order " + OrderName(key_order);
}

}  // namespace

Status CheckOwnership(const struct stat& st, const std::string& path) {
  if (st.st_uid != ::geteuid()) {
    return Status::InvalidArgument("shared memory " + path +
                                   " is owned by uid " + Num(st.st_uid) +
                                   ", not by you (uid " + Num(::geteuid()) +
                                   "); run as the user that runs forge-broker");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(
        "shared memory " + path + " has mode " + Octal(st.st_mode) +
        ", which lets other users read or write keys; run `chmod 600 " + path +
        "` (only the owner may have access)");
  }
  return Status();
}

Status CheckLayout(const Header& h, const std::string& path) {
  // acquire: pairs with the creator's release store of magic, so the other
  // header fields read below are the ones written before it.
  const std::uint64_t magic = h.magic.load(std::memory_order_acquire);
  if (magic == 0) {
    return Status::Unavailable(
        "shared memory " + path +
        " is not initialised (a broker is creating it or died while "
        "creating it); start forge-broker, it replaces such a segment");
  }
  if (magic != kMagic) {
    return Status::Corruption("shared memory " + path +
                              " is not a mini-forge segment (magic " +
                              Hex(magic) + ", expected " + Hex(kMagic) +
                              "); remove it if it is stale: rm " + path);
  }
  if (h.layout_version != kLayoutVersion) {
    return Status::Corruption(
        "shared memory " + path + " has layout version " +
        Num(h.layout_version) + ", this build reads version " +
        Num(kLayoutVersion) + "; stop the programs using it, remove it (rm " +
        path + ") and run matching builds");
  }
  if (h.header_size != sizeof(Header) || h.slot_size != sizeof(Slot) ||
      h.max_workers != kMaxWorkers) {
    return Status::Corruption(
        "shared memory " + path + " has header size " + Num(h.header_size) +
        ", slot size " + Num(h.slot_size) + ", " + Num(h.max_workers) +
        " worker slots; this build expects " + Num(sizeof(Header)) + ", " +
        Num(sizeof(Slot)) + ", " + Num(kMaxWorkers) +
        " (corrupt or from another build); remove it: rm " + path);
  }
  return Status();
}

Status CheckHeader(const Header& h, std::uint64_t file_size,
                   const std::string& path) {
  if (Status s = CheckLayout(h, path); !s.ok()) return s;
  if (!PowerOfTwo(h.capacity) || h.capacity > kMaxCapacity) {
    return Status::Corruption("shared memory " + path + " has ring capacity " +
                              Num(h.capacity) + ", not a power of two in 1.." +
                              Num(kMaxCapacity) + " (corrupt); remove it: rm " +
                              path);
  }
  if (h.key_length < 1 || h.key_length > kMaxKeyLength) {
    return Status::Corruption("shared memory " + path + " has key length " +
                              Num(h.key_length) + ", allowed 1.." +
                              Num(kMaxKeyLength) +
                              " (corrupt); remove it: rm " + path);
  }
  const std::uint64_t expected = SegmentSize(h.capacity);
  if (h.total_size != expected || file_size != expected) {
    return Status::Corruption(
        "shared memory " + path + " is " + Num(file_size) +
        " bytes, its header says " + Num(h.total_size) + " and capacity " +
        Num(h.capacity) + " needs " + Num(expected) +
        " (truncated or resized); restart forge-broker or remove it: rm " +
        path);
  }
  return Status();
}

Status CheckIndices(const SegmentPrefix& p, const std::string& path) {
  // acquire on both: a consistent-enough pair for a sanity check; a live
  // ring only moves them forward, and head first, so head <= tail holds.
  const std::uint64_t head = p.head.value.load(std::memory_order_acquire);
  const std::uint64_t tail = p.tail.value.load(std::memory_order_acquire);
  if (head <= tail && tail - head <= p.header.capacity) return Status();
  return Status::Corruption(
      "shared memory " + path + " has ring head " + Num(head) + " and tail " +
      Num(tail) + " (allowed: head <= tail <= head + " +
      Num(p.header.capacity) + "); it is corrupt, remove it: rm " + path);
}

Status CheckSpec(const SegmentSpec& spec) {
  if (!PowerOfTwo(spec.capacity) || spec.capacity > kMaxCapacity) {
    return Status::InvalidArgument(
        "ring capacity " + Num(spec.capacity) +
        " is not allowed: use a power of two from 1 to " + Num(kMaxCapacity));
  }
  if (spec.key_length < 1 || spec.key_length > kMaxKeyLength) {
    return Status::InvalidArgument("key length " + Num(spec.key_length) +
                                   " does not fit a ring slot: allowed 1.." +
                                   Num(kMaxKeyLength));
  }
  if (!spec.store_id.empty() &&
      (spec.store_id.size() != kStoreIdChars ||
       spec.store_id.find_first_not_of("0123456789abcdef") !=
           std::string::npos)) {
    return Status::InvalidArgument(
        "store identity \"" + spec.store_id.substr(0, 40) +
        "\" is not allowed: use " + Num(kStoreIdChars) +
        " lower-case hex digits");
  }
  if (spec.key_order > 1) {
    return Status::InvalidArgument(
        "key order " + Num(spec.key_order) +
        " is unknown: allowed 0 (scrambled) or 1 (sequential)");
  }
  return Status();
}

bool Compatible(const Header& h, const SegmentSpec& spec) {
  return h.capacity == spec.capacity && h.key_length == spec.key_length &&
         h.key_order == spec.key_order;
}

std::string DescribeLayout(const Header& h) {
  return Layout(h.capacity, h.key_length, h.key_order);
}

std::string DescribeSpec(const SegmentSpec& spec) {
  return Layout(spec.capacity, spec.key_length, spec.key_order);
}

}  // namespace forge::shm
