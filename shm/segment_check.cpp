// shm/segment_check.cpp — see segment_check.h.
#include "shm/segment_check.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "keys/alphabet.h"
#include "keys/key_codec.h"

namespace forge::shm {
namespace {

static_assert(kMaxKeyLength == keys::kMaxTextLength,
              "a segment holds every key text the codec can write");
static_assert(kKeyPrefixBytes == keys::kMaxPrefixLength);
static_assert(kAlphabetBytes == keys::kMaxAlphabetSize);

// Largest ring we accept: keeps SegmentSize() far from overflow (16 TiB).
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 40;

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

// The effective gid or one of the supplementary groups.
bool InGroup(gid_t gid) {
  if (gid == ::getegid()) return true;
  const int n = ::getgroups(0, nullptr);
  if (n <= 0) return false;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  const int got = ::getgroups(n, groups.data());
  return got > 0 && std::find(groups.begin(), groups.begin() + got, gid) !=
                        groups.begin() + got;
}

bool PowerOfTwo(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

const char* OrderName(std::uint32_t order) {
  return order == 0 ? "scrambled" : order == 1 ? "sequential" : "unknown";
}

// capacity: keys; key_length: digits.
std::string Layout(std::uint64_t capacity, std::uint32_t key_length,
                   std::uint32_t key_order, const keys::KeyPolicy& policy) {
  std::string text = "capacity " + Num(capacity) + ", key_length " +
                     Num(key_length) + ", key_order " + OrderName(key_order);
  if (policy == keys::KeyPolicy{}) return text;
  text += ", alphabet " + policy.alphabet.spec().substr(0, 64) + ", check " +
          std::string(keys::CheckKindName(policy.check));
  if (!policy.prefix.empty()) text += ", prefix " + policy.prefix;
  return text;
}

std::uint32_t StrideOf(const Header& h) { return KeySlots(h.key_length); }

std::string_view Chars(const char* text, std::uint32_t n) { return {text, n}; }

Status Damaged(const std::string& path, const std::string& what) {
  return Status::Corruption("shared memory " + path +
                            " has a damaged key format block: " + what +
                            " (corrupt); remove it: rm " + path);
}

}  // namespace

std::string Num(std::uint64_t v) { return std::to_string(v); }

Status CheckOwnership(const struct stat& st, const std::string& path) {
  const mode_t mode = st.st_mode & 0777;
  if ((mode & 007) != 0 || (mode != 0600 && mode != 0660)) {
    return Status::InvalidArgument(
        "shared memory " + path + " has mode " + Octal(st.st_mode) +
        ", which lets other users read or write keys (it holds the key "
        "secret); allowed 0600, or 0660 with SHM_MODE=0660: restart "
        "forge-broker or run `chmod 600 " +
        path + "`");
  }
  if (st.st_uid == ::geteuid()) return Status();
  if (mode == 0660 && InGroup(st.st_gid)) return Status();
  return Status::InvalidArgument(
      "shared memory " + path + " is owned by uid " + Num(st.st_uid) +
      " (group " + Num(st.st_gid) + ", mode " + Octal(st.st_mode) +
      "), not by you (uid " + Num(::geteuid()) +
      "); run as the user that runs forge-broker, or as a member of its "
      "group with SHM_MODE=0660");
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
  if (h.capacity < StrideOf(h)) {
    return Status::Corruption(
        "shared memory " + path + " has ring capacity " + Num(h.capacity) +
        " slots, less than one key of " + Num(h.key_length) +
        " characters needs (" + Num(StrideOf(h)) +
        ") (corrupt); remove it: rm " + path);
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

Result<keys::KeyPolicy> ReadKeyPolicy(const Header& h, const KeyFormat& f,
                                      const std::string& path) {
  if (f.alphabet_length < 1 || f.alphabet_length > kAlphabetBytes) {
    return Damaged(path, "alphabet length " + Num(f.alphabet_length) +
                             ", allowed 1.." + Num(kAlphabetBytes));
  }
  std::string why;
  const std::optional<keys::Alphabet> alphabet =
      keys::Alphabet::Parse(Chars(f.alphabet, f.alphabet_length), &why);
  if (!alphabet) return Damaged(path, "alphabet: " + why);
  keys::KeyPolicy policy;
  policy.alphabet = *alphabet;
  const int max_digits = keys::MaxKeyLength(alphabet->size());
  if (f.digits < 1 || f.digits > static_cast<std::uint32_t>(max_digits)) {
    return Damaged(path, "digits " + Num(f.digits) + ", allowed 1.." +
                             Num(static_cast<std::uint64_t>(max_digits)) +
                             " for alphabet " + alphabet->spec().substr(0, 64));
  }
  const std::optional<keys::CheckKind> check =
      f.check <= 1 ? keys::ParseCheckKind(keys::CheckKindName(
                         static_cast<keys::CheckKind>(f.check)))
                   : std::nullopt;
  if (!check) {
    return Damaged(path, "check " + Num(f.check) +
                             ", allowed 0 (none) or 1 "
                             "(luhn)");
  }
  policy.check = *check;
  if (std::string problem = keys::CheckProblem(*alphabet, *check);
      !problem.empty()) {
    return Damaged(path, problem);
  }
  if (f.prefix_length > kKeyPrefixBytes) {
    return Damaged(path, "prefix length " + Num(f.prefix_length) +
                             ", allowed 0.." + Num(kKeyPrefixBytes));
  }
  policy.prefix.assign(f.prefix, f.prefix_length);
  if (!policy.prefix.empty() && !keys::IsKeyPrefix(policy.prefix)) {
    return Damaged(path, "prefix is not " + std::string(keys::kPrefixRule));
  }
  if (h.key_order > 1) {
    return Damaged(path, "key order " + Num(h.key_order) +
                             ", allowed 0 (scrambled) or 1 (sequential)");
  }
  const std::uint64_t text = std::uint64_t{f.prefix_length} + f.digits +
                             (policy.check == keys::CheckKind::kNone ? 0 : 1);
  if (text != h.key_length) {
    return Damaged(path, "prefix + digits + check make " + Num(text) +
                             " characters but the header says key length " +
                             Num(h.key_length));
  }
  return policy;
}

Status CheckIndices(const SegmentPrefix& p, const std::string& path) {
  // acquire on both: a consistent-enough pair for a sanity check; a live
  // ring only moves them forward, and head first, so head <= tail holds.
  const std::uint64_t head = p.head.value.load(std::memory_order_acquire);
  const std::uint64_t tail = p.tail.value.load(std::memory_order_acquire);
  const std::uint64_t keys = p.header.capacity / StrideOf(p.header);
  if (head <= tail && tail - head <= keys) return Status();
  return Status::Corruption("shared memory " + path + " has ring head " +
                            Num(head) + " and tail " + Num(tail) +
                            " (allowed: head <= tail <= head + " + Num(keys) +
                            "); it is corrupt, remove it: rm " + path);
}

Status CheckSpec(const SegmentSpec& spec) {
  const std::uint64_t stride = KeySlots(TextLength(spec));
  if (!PowerOfTwo(spec.capacity) || spec.capacity > kMaxCapacity / stride) {
    return Status::InvalidArgument(
        "ring capacity " + Num(spec.capacity) +
        " is not allowed: use a power of two from 1 to " +
        Num(kMaxCapacity / stride) + " (keys of " + Num(TextLength(spec)) +
        " characters)");
  }
  const keys::Alphabet& alphabet = spec.policy.alphabet;
  if (std::string problem = keys::KeyLengthProblem(
          alphabet, static_cast<int>(std::min<std::uint32_t>(spec.key_length,
                                                             kMaxKeyLength)));
      !problem.empty()) {
    return Status::InvalidArgument(problem);
  }
  if (std::string problem = keys::CheckProblem(alphabet, spec.policy.check);
      !problem.empty()) {
    return Status::InvalidArgument(problem);
  }
  if (!spec.policy.prefix.empty() && !keys::IsKeyPrefix(spec.policy.prefix)) {
    return Status::InvalidArgument(
        "key prefix \"" + spec.policy.prefix.substr(0, 20) +
        "\" is not allowed: use " + std::string(keys::kPrefixRule));
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
  if (spec.mode != 0600 && spec.mode != 0660) {
    return Status::InvalidArgument("segment mode " + Octal(spec.mode) +
                                   " is not allowed: use 0600 or 0660");
  }
  if (spec.key_order > 1) {
    return Status::InvalidArgument(
        "key order " + Num(spec.key_order) +
        " is unknown: allowed 0 (scrambled) or 1 (sequential)");
  }
  return Status();
}

bool Compatible(const SegmentPrefix& p, const SegmentSpec& spec) {
  const Header& h = p.header;
  const KeyFormat& f = p.format;
  const std::string_view alphabet = spec.policy.alphabet.spec();
  return h.capacity == spec.capacity * KeySlots(TextLength(spec)) &&
         h.key_length == TextLength(spec) && f.digits == spec.key_length &&
         h.key_order == spec.key_order &&
         f.check == static_cast<std::uint32_t>(spec.policy.check) &&
         Chars(f.prefix, f.prefix_length) == spec.policy.prefix &&
         Chars(f.alphabet, f.alphabet_length) == alphabet &&
         f.secret == spec.secret;
}

std::string DescribeLayout(const SegmentPrefix& p) {
  const Header& h = p.header;
  const KeyFormat& f = p.format;
  // A format that does not parse is described by its numbers alone.
  Result<keys::KeyPolicy> policy = ReadKeyPolicy(h, f, "");
  return Layout(h.capacity / StrideOf(h), f.digits, h.key_order,
                policy.ok() ? *policy : keys::KeyPolicy{});
}

std::string DescribeSpec(const SegmentSpec& spec) {
  return Layout(spec.capacity, spec.key_length, spec.key_order, spec.policy);
}

}  // namespace forge::shm
