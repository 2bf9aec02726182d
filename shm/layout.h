// shm/layout.h — the byte layout of one mini-forge shared-memory segment.
//
// Contract
//   * The segment "/mini-forge.<SHM_NAME>" is created by the broker (mode
//     0600) and mapped by every frontend worker and by forge-ctl. All of them
//     are separate processes, possibly built at different times, so this
//     layout is an ABI: any change to a struct below bumps kLayoutVersion,
//     and attach() refuses a segment whose magic, version, header size, slot
//     size or total size differ from what this build expects.
//   * Every field written after creation is a lock-free std::atomic (checked
//     below with static_assert), so a process killed at any instruction can
//     never leave a half-written lock behind: there are no locks.
//   * The Header is written once by the creator before the segment becomes
//     attachable (header.magic is stored last, with release order) and is
//     read-only afterwards.
//   * Hot fields that different processes write (ring head, ring tail, each
//     worker's stats slot, the broker's stats) sit on their own 64-byte cache
//     lines so writers do not false-share.
//
//   * The KeyFormat block (layout version 3) says how the keys in the ring
//     are spelled: digits, alphabet, check character, prefix, and the
//     namespace's SECRET (the key of its scrambled order), so /check-key
//     and forge-ctl check-key can give a scrambled key's number without the
//     store. Whoever can read the segment can therefore un-scramble its
//     keys: that is why it is created 0600 and attach refuses one readable
//     by group or other (segment.h). It is written once at creation,
//     before the magic, like the Header.
//   * A key occupies KeySlots(Header::key_length) consecutive 16-byte slots
//     (the stride), NUL padded: 1 for keys of up to 15 characters (every
//     default-namespace key: the v2 ring, unchanged), 2, 4 or 8 for longer
//     ones. Header::capacity counts SLOTS; the ring holds capacity / stride
//     keys (ring.h).
//
// Memory map (offsets are fixed; see the static_asserts at the end):
//   Header | BrokerStats | WorkerSlot[kMaxWorkers] | head | tail |
//   KeyFormat | StoreLink | Slot[capacity]
// Header, BrokerStats, the workers, head and tail keep their version-2
// offsets, so a producer can see whether a version-2 segment (left by a
// previous build) still has live workers before it replaces it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace forge::shm {

inline constexpr std::uint64_t kMagic = 0x4547524f46494e4dULL;  // "MINFORGE"
// Version 2 added Header::store_id (the store identity, see segment.h);
// version 3 the KeyFormat block, multi-slot keys and keys_blocked;
// version 4 WorkerSlot::kind (shared-memory clients), the broker's store
// counters after keys_blocked, and the StoreLink block.
inline constexpr std::uint32_t kLayoutVersion = 4;
// The newest earlier version; versions kOldestReplaceableVersion up to it
// are replaced by a producer when nothing uses them (segment.h): their
// workers sit at today's offsets.
inline constexpr std::uint32_t kPreviousLayoutVersion = 3;
inline constexpr std::uint32_t kOldestReplaceableVersion = 2;
inline constexpr bool IsReplaceableLayout(std::uint32_t v) {
  return v >= kOldestReplaceableVersion && v <= kPreviousLayoutVersion;
}
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kKeyBytes = 16;  // one slot: 15 chars + NUL
// Characters of the longest key (prefix + digits + check): the same bound
// as keys::kMaxTextLength (checked in segment_check.cpp).
inline constexpr std::size_t kMaxKeyLength = 79;
inline constexpr std::uint32_t kMaxKeySlots = 8;  // slots of the longest key
inline constexpr std::size_t kKeyPrefixBytes = 16;
inline constexpr std::size_t kAlphabetBytes = 256;
inline constexpr std::uint32_t kMaxWorkers = 1024;  // across all frontends
inline constexpr std::size_t kStoreTextBytes = 128;
// A store's identity: 128 random bits as 32 lower-case hex digits, chosen
// when the store is created and kept in its meta table.
inline constexpr std::size_t kStoreIdChars = 32;

// What the broker is doing; stored in BrokerStats::state.
enum class BrokerState : std::uint32_t {
  kNone = 0,         // no broker has run on this segment yet
  kStarting = 1,     // opening the store
  kRunning = 2,      // filling the ring
  kStoreError = 3,   // the store is failing; retrying with back-off
  kExhausted = 4,    // the key space is used up; nothing more will come
  kStopped = 5,      // exited cleanly
  kStoreUnsafe = 6,  // STORE_REQUIRE_SYNC and the store is not synchronous:
                     // not reserving, serving what it holds (version 4)
};

// Who holds a WorkerSlot; stored in WorkerSlot::kind.
enum class ConsumerKind : std::uint32_t {
  kWorker = 0,  // a frontend's HTTP worker (frontend_pid is its master)
  kClient = 1,  // a libforge-client user (frontend_pid is 0)
};

// How a reservation survives a store failover; BrokerStats::durability.
enum class StoreDurability : std::uint32_t {
  kUnknown = 0,  // not determined yet (or the store cannot tell)
  kLocal = 1,    // no replication seen (SQLite, or a lone PostgreSQL)
  kAsync = 2,    // replicated asynchronously: a failover may lose it
  kSync = 3,     // committed on a synchronous standby before the grant
};

// The key order as Header::key_order stores it (the codec's KeyOrder).
enum class KeyOrder : std::uint32_t {
  kScrambled = 0,
  kSequential = 1,
};

// Written once at creation, read-only afterwards. store and store_id name
// the store every key in the ring came from: a producer on another store
// never pushes into this segment (it is refused while the ring holds keys,
// and replaces the segment when the ring is empty), so the two never
// change in place.
struct Header {
  std::atomic<std::uint64_t> magic;  // stored last (release) at creation
  std::uint32_t layout_version;
  std::uint32_t header_size;  // sizeof(Header)
  std::uint64_t total_size;   // bytes of the whole segment
  std::uint64_t capacity;     // ring slots, a power of two
  std::uint32_t slot_size;    // sizeof(Slot)
  std::uint32_t key_length;   // characters per key: prefix + digits +
                              // check (1..kMaxKeyLength)
  std::uint32_t max_workers;  // kMaxWorkers
  std::uint32_t key_order;    // 0 scrambled, 1 sequential
  std::uint64_t key_space;    // alphabet size ^ KeyFormat::digits
  std::uint64_t created_unix_ns;
  char store[kStoreTextBytes];   // store kind and location, no password
  char store_id[kStoreIdChars];  // the store's identity, not NUL-terminated
                                 // (all NUL: unknown, tests only)
};

// The broker's health and counters. One writer (the broker holding the
// producer lock); any number of readers. Counters only grow.
struct alignas(kCacheLine) BrokerStats {
  std::atomic<std::int32_t> pid;     // 0 when no broker has run
  std::atomic<std::uint32_t> state;  // BrokerState
  std::atomic<std::uint64_t> start_unix_ns;
  std::atomic<std::uint64_t> heartbeat_unix_ns;  // refreshed at least 1/s
  std::atomic<std::uint64_t> ranges_reserved;
  std::atomic<std::uint64_t> keys_produced;  // keys pushed into the ring
  std::atomic<std::uint64_t> refills;        // low-water refills done
  std::atomic<std::uint64_t> store_errors;
  std::atomic<std::uint64_t> last_refill_ns;  // latest store round trip
  std::atomic<std::uint64_t> store_next;      // store counter after the
                                              // broker's latest reservation
  std::atomic<std::uint64_t> keys_wasted;     // known gaps (0 if unknown)
  std::atomic<std::uint64_t> keys_blocked;    // numbers skipped: blocklist
  // Version 4. The highest number (exclusive end) any reservation ever
  // granted this segment's broker; kept across broker restarts (the
  // regression guard, docs/design.md).
  std::atomic<std::uint64_t> granted_high;
  std::atomic<std::uint64_t> store_regressions;  // reservations found below
                                                 // granted_high
  std::atomic<std::uint64_t> store_reconnects;   // store connections remade
  std::atomic<std::uint64_t> range_size;         // size of the latest
                                                 // reservation
  std::atomic<std::uint32_t> durability;         // StoreDurability
  // Futex word: the broker sleeps on it when the ring is full enough;
  // a consumer that sees the fill below low_water bumps it and wakes.
  alignas(kCacheLine) std::atomic<std::uint32_t> producer_wake;
  std::atomic<std::uint32_t> producer_sleeping;  // 1 while in futex wait
  std::atomic<std::uint64_t> low_water;          // refill threshold (slots)
  // Futex word: consumers waiting on an empty ring sleep on it; the
  // producer bumps it and wakes them after a push into an empty ring.
  alignas(kCacheLine) std::atomic<std::uint32_t> consumer_wake;
  std::atomic<std::uint32_t> consumers_waiting;
};

// One per frontend worker process. A worker claims a slot whose pid is 0 or
// dead with a CAS on pid, and stores 0 when it exits.
struct alignas(kCacheLine) WorkerSlot {
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint32_t> frontend_pid;  // the master that forked it
  std::atomic<std::uint64_t> served;        // keys handed out
  std::atomic<std::uint64_t> unavailable;   // 503 answers
  std::atomic<std::uint64_t> requests;      // all HTTP requests answered
  std::atomic<std::uint64_t> start_unix_ns;
  std::atomic<std::uint32_t> kind;  // ConsumerKind (version 4)
};

// A ring index on its own cache line.
struct alignas(kCacheLine) RingIndex {
  std::atomic<std::uint64_t> value;
};

// One ring slot: the key's 16 bytes as two atomic words, so a reader racing
// the producer gets a torn copy at worst (and then its CAS fails), never UB.
struct Slot {
  std::atomic<std::uint64_t> word[2];
};

// How the keys of the ring are spelled (keys/key_codec.h: KeyPolicy plus
// length and secret). Written once at creation, before the magic; read-only
// afterwards. Header::key_length == prefix_length + digits + (check ? 1 : 0).
struct alignas(kCacheLine) KeyFormat {
  std::uint32_t digits;           // key length without prefix and check
  std::uint32_t check;            // keys::CheckKind: 0 none, 1 luhn
  std::uint32_t prefix_length;    // 0..kKeyPrefixBytes
  std::uint32_t alphabet_length;  // bytes of alphabet, 1..kAlphabetBytes
  std::uint64_t secret;           // the scrambled order's key (0: sequential)
  char prefix[kKeyPrefixBytes];   // not NUL-terminated
  char alphabet[kAlphabetBytes];  // keys::Alphabet::spec(), not terminated
};

// Where the broker's store connection goes ("host:port", no password),
// for stats. One writer (the broker); written when the connection changes:
// the writer makes `generation` odd, stores the words, makes it even
// (release); a reader copies the words between two equal even loads of
// `generation` and otherwise retries (or gives up: it is a statistic).
struct alignas(kCacheLine) StoreLink {
  static constexpr std::size_t kWords = 7;  // 56 characters, NUL padded
  std::atomic<std::uint64_t> generation;
  std::atomic<std::uint64_t> text[kWords];
};

// Slots one key of `text_length` characters occupies: the smallest power
// of two holding text_length + 1 bytes (the NUL) in 16-byte slots.
inline constexpr std::uint32_t KeySlots(std::uint32_t text_length) {
  const std::uint32_t need =
      (text_length + 1 + static_cast<std::uint32_t>(kKeyBytes) - 1) /
      static_cast<std::uint32_t>(kKeyBytes);
  std::uint32_t slots = 1;
  while (slots < need) slots *= 2;
  return slots;
}

// The fixed-size prefix of the segment; the slots follow at kSlotsOffset.
struct SegmentPrefix {
  Header header;
  alignas(kCacheLine) BrokerStats broker;
  WorkerSlot workers[kMaxWorkers];
  RingIndex head;  // next key to claim (consumers, CAS)
  RingIndex tail;  // next key to fill (producer only)
  KeyFormat format;
  StoreLink store_link;  // version 4
};

inline constexpr std::size_t kSlotsOffset = sizeof(SegmentPrefix);

// capacity: ring SLOTS (Header::capacity).
constexpr std::size_t SegmentSize(std::uint64_t capacity) {
  return kSlotsOffset + static_cast<std::size_t>(capacity) * sizeof(Slot);
}

// ---- ABI checks: the layout is shared across processes and builds. ----
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8);
static_assert(sizeof(std::atomic<std::uint32_t>) == 4);  // futex word size
static_assert(std::is_standard_layout_v<SegmentPrefix>);
static_assert(sizeof(Slot) == kKeyBytes);
static_assert(sizeof(Header) == 224);
// Counters take 124 bytes (two lines), then one line per futex word.
static_assert(sizeof(BrokerStats) == 4 * kCacheLine);
static_assert(offsetof(BrokerStats, keys_wasted) == 72);
static_assert(offsetof(BrokerStats, keys_blocked) == 80);
static_assert(offsetof(BrokerStats, granted_high) == 88);
static_assert(offsetof(BrokerStats, durability) == 120);
static_assert(offsetof(BrokerStats, producer_wake) == 2 * kCacheLine);
static_assert(offsetof(BrokerStats, consumer_wake) == 3 * kCacheLine);
static_assert(sizeof(WorkerSlot) == kCacheLine);
static_assert(offsetof(WorkerSlot, kind) == 40);
static_assert(sizeof(StoreLink) == kCacheLine);
static_assert(sizeof(RingIndex) == kCacheLine);
static_assert(offsetof(Header, store_id) == 192);
static_assert(offsetof(SegmentPrefix, broker) == 256);
static_assert(offsetof(SegmentPrefix, workers) == 256 + 4 * kCacheLine);
static_assert(offsetof(SegmentPrefix, head) ==
              offsetof(SegmentPrefix, workers) + kMaxWorkers * kCacheLine);
static_assert(offsetof(SegmentPrefix, tail) ==
              offsetof(SegmentPrefix, head) + kCacheLine);
// Version 2 ended here: the v2 offsets above are unchanged, KeyFormat
// follows (5 lines).
static_assert(offsetof(SegmentPrefix, tail) ==
              256 + 4 * kCacheLine + kMaxWorkers * kCacheLine + kCacheLine);
static_assert(offsetof(SegmentPrefix, format) ==
              offsetof(SegmentPrefix, tail) + kCacheLine);
static_assert(sizeof(KeyFormat) == 5 * kCacheLine);
static_assert(offsetof(KeyFormat, secret) == 16);
static_assert(offsetof(KeyFormat, prefix) == 24);
static_assert(offsetof(KeyFormat, alphabet) == 40);
static_assert(offsetof(SegmentPrefix, store_link) ==
              offsetof(SegmentPrefix, format) + 5 * kCacheLine);
static_assert(kSlotsOffset == offsetof(SegmentPrefix, store_link) + kCacheLine);
static_assert(kSlotsOffset % kCacheLine == 0);
static_assert(KeySlots(7) == 1 && KeySlots(15) == 1 && KeySlots(16) == 2 &&
              KeySlots(31) == 2 && KeySlots(32) == 4 && KeySlots(63) == 4 &&
              KeySlots(64) == 8 && KeySlots(kMaxKeyLength) == kMaxKeySlots);

}  // namespace forge::shm
