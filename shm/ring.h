// shm/ring.h — the single-producer, multi-consumer key ring in shared memory.
//
// Contract
//   * Process safety: exactly one producer (the broker that holds the
//     segment's flock, see segment.h) calls Push(); any number of consumer
//     processes and threads call TryPop()/TryClaim()/TryPopBatch()
//     concurrently; readers (Size(), Peek()) only load, so a const Ring on
//     a read-only mapping serves them. There are no locks: a process may be
//     SIGKILLed at any instruction.
//   * Indices count KEYS and grow forever (64-bit; at 10^9 keys/s they wrap
//     after ~584 years). A key takes `stride` consecutive slots (a power of
//     two, layout.h KeySlots: 1 for keys of up to 15 characters): key i
//     lives in slots [(i & (Capacity() - 1)) * stride, ... + stride), and
//     the ring holds Capacity() = slots / stride keys. Every count of the
//     API (Size, Capacity, n of Push/TryClaim/TryPopBatch and what they
//     return) is in keys; every buffer holds n * stride Keys, key i
//     starting at buffer[i * stride] (KeyTextAt reads it). A stride-1 ring
//     is the single-slot ring of layout version 2, at the same speed.
//
// Invariants
//   I1. head <= tail <= head + capacity.
//   I2. A key is claimed by exactly one consumer: a claim is one successful
//       CAS of head from h to h + n, made after the n slots were copied.
//       A consumer that dies before its CAS claimed nothing; one that dies
//       after it loses only what it claimed (a gap, never a repeat).
//   I3. The producer writes slot t only while t - head < capacity, so a slot
//       is never overwritten while a CAS that would claim it can succeed.
//   I4. The producer never waits for a consumer; a consumer never waits for
//       the producer (an empty ring is reported, not waited on here).
//   I5. One claim covers at most kMaxClaimSlots slots (kMaxClaimSlots /
//       stride keys), so the window
//       between copy and CAS stays short (~1 us) whatever a caller asks
//       for. When the CAS fails because others claimed first, the copies
//       of slots at or above the new head stay valid (by I3 nothing
//       overwrites them while a CAS from that head can succeed) and are
//       claimed without copying again: a competing claim costs the keys it
//       took, not the copy, so a batch makes progress under any stream of
//       single pops. Larger requests are a series of claims (TryPopBatch),
//       and a caller may stop between them or before a claim copies again
//       (a deadline), so even a claim whose every copy is taken ends.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "shm/layout.h"

namespace forge::shm {

// One slot of a key as it travels through the ring: a key of up to 15
// characters is one Key, NUL padded; a longer one continues in the next
// stride - 1 Keys of the buffer (layout.h KeySlots).
struct Key {
  char text[kKeyBytes];
};
static_assert(sizeof(Key) == sizeof(Slot));

// The text of key i of a buffer of keys of `text_length` characters (stride
// KeySlots(text_length)), up to its first NUL.
inline std::string_view KeyTextAt(const Key* buffer, std::size_t i,
                                  std::uint32_t text_length) {
  // The stride's Keys are contiguous: the text runs on across them.
  const char* text =
      reinterpret_cast<const char*>(buffer + i * KeySlots(text_length));
  return {text, ::strnlen(text, text_length)};
}

// Most slots one CAS claims (I5): a 256-slot copy takes well under a
// microsecond, so a competing pop rarely lands inside it.
inline constexpr std::size_t kMaxClaimSlots = 256;

// The hook of a production ring: nothing, compiled away.
struct NoClaimHook {
  void BetweenCopyAndClaim(std::uint64_t /*head*/, std::size_t /*n*/) {}
};

// The keep_going of a consumer without a deadline.
struct Always {
  bool operator()() const { return true; }
};

// ClaimHook::BetweenCopyAndClaim(head, n) runs after slots [head, head + n)
// were copied and before the CAS that claims them; tests use it to put a
// competing pop or a producer lap into that window. Production code uses
// Ring (NoClaimHook).
template <typename ClaimHook = NoClaimHook>
class BasicRing {
 public:
  // slot_capacity and stride are powers of two, stride <= slot_capacity
  // and stride <= kMaxKeySlots (the segment checked them).
  BasicRing(RingIndex* head, RingIndex* tail, Slot* slots,
            std::uint64_t slot_capacity, std::uint32_t stride = 1,
            ClaimHook hook = {})
      : head_(&head->value),
        tail_(&tail->value),
        slots_(slots),
        mask_(slot_capacity / stride - 1),
        shift_(static_cast<std::uint32_t>(std::countr_zero(stride))),
        max_claim_(kMaxClaimSlots / stride),
        hook_(std::move(hook)) {}

  std::uint64_t Capacity() const { return mask_ + 1; }   // keys
  std::uint32_t Stride() const { return 1U << shift_; }  // slots per key

  // Keys ready to claim right now (a snapshot; may be stale immediately).
  std::uint64_t Size() const {
    // acquire on both: a reader (stats, low-water checks) wants a recent,
    // ordered pair; a stale value is harmless because nothing is claimed.
    const std::uint64_t h = head_->load(std::memory_order_acquire);
    const std::uint64_t t = tail_->load(std::memory_order_acquire);
    return t > h ? t - h : 0;
  }

  // Reader: copies the keys published right now into *out (replacing its
  // contents), in ring order, without claiming any: head never moves, so
  // consumers and the producer are not disturbed, and loads suffice (a
  // PROT_READ mapping). Slots claimed while they were copied are dropped:
  // only those still unclaimed after the copy are kept, which the producer
  // cannot have overwritten yet (it writes slot i + capacity only after
  // head passed i), the same copy-then-validate rule as TryClaim's CAS.
  // Returns the ring index of key 0 of *out (which holds keys of Stride()
  // Keys each: out->size() / Stride() keys).
  std::uint64_t Peek(std::vector<Key>* out) const {
    // acquire: pairs with consumers' release CAS (as in Size()).
    const std::uint64_t first = head_->load(std::memory_order_acquire);
    // acquire: pairs with the producer's release store of tail, so the
    // slot words below it are visible to our copy.
    const std::uint64_t t = tail_->load(std::memory_order_acquire);
    const std::size_t n = t > first ? static_cast<std::size_t>(t - first) : 0;
    out->resize(n << shift_);
    for (std::size_t i = 0; i < n; ++i) {
      CopyOut(first + i, out->data() + (i << shift_));
    }
    // acquire fence: keeps the slot loads above from moving after the head
    // re-read below (seqlock-style read validation).
    std::atomic_thread_fence(std::memory_order_acquire);
    // relaxed: ordered by the fence; a slot still at or past this head was
    // not yet overwritten when it was copied.
    const std::uint64_t head =
        std::max(head_->load(std::memory_order_relaxed), first);
    const auto skip = static_cast<std::ptrdiff_t>(
        std::min<std::uint64_t>(head - first, n) << shift_);
    out->erase(out->begin(), out->begin() + skip);
    return head;
  }

  // Consumer: claims one key into out[0..Stride()). Returns false when the
  // ring is empty.
  [[nodiscard]] bool TryPop(Key* out) { return TryClaim(out, 1) == 1; }

  // Consumer: claims up to min(max, kMaxClaimSlots / Stride()) keys (in
  // ring order)
  // with one CAS. Returns how many were claimed: 0 when the ring is empty,
  // or when others claimed every key it had copied and keep_going() (asked
  // only then, before copying again) says to stop.
  template <typename KeepGoing = Always>
  [[nodiscard]] std::size_t TryClaim(Key* out, std::size_t max,
                                     KeepGoing&& keep_going = {}) {
    if (max == 0) return 0;  // a CAS from h to h would still write the line
    max = std::min(max, max_claim_);
    // acquire: costs nothing on x86 and makes earlier claims' effects
    // visible, so h is at least as new as any slot state we go on to read.
    std::uint64_t h = head_->load(std::memory_order_acquire);
    // out[0..) holds copies of slots [copied, end); empty before the first.
    std::uint64_t copied = h;
    std::uint64_t end = h;
    for (;;) {
      // head never moves backwards in a sound mapping; it only reads lower
      // after the bus guard swapped the mapping for zero pages (a truncated
      // segment, shm/bus_guard.h). Claim nothing then: the caller checks
      // faulted(), and the copies we hold no longer line up with h.
      if (h < copied) return 0;
      if (h >= end) {  // nothing copied is still claimable: copy afresh
        if (end != copied && !keep_going()) return 0;
        // acquire: pairs with the producer's release store of tail, so the
        // slot words written before that store are visible to our copy.
        const std::uint64_t t = tail_->load(std::memory_order_acquire);
        if (t <= h) return 0;
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(max, t - h));
        for (std::size_t i = 0; i < n; ++i) CopyOut(h + i, out + (i << shift_));
        copied = h;
        end = h + n;
        hook_.BetweenCopyAndClaim(h, n);
      }
      // release on success: our slot reads happen-before any producer that
      // later observes the new head (acquire) and overwrites those slots
      // (I3). acquire on failure: h is reloaded for the retry, and copies
      // of slots at or above it are still unclaimed and unchanged (I5).
      if (head_->compare_exchange_weak(h, end, std::memory_order_release,
                                       std::memory_order_acquire)) {
        const std::size_t n = static_cast<std::size_t>(end - h);
        if (h != copied) {
          std::memmove(out, out + ((h - copied) << shift_),
                       (n << shift_) * sizeof(Key));
        }
        return n;
      }
    }
  }

  // Consumer: claims up to `max` keys (in ring order) as a series of
  // claims (TryClaim) of at most kMaxClaimSlots slots each. keep_going() is
  // asked between claims and before a claim copies again; false stops early (a
  // caller's deadline). Returns how many were claimed: fewer than `max`
  // when the ring ran empty or keep_going() said to stop.
  template <typename KeepGoing = Always>
  [[nodiscard]] std::size_t TryPopBatch(Key* out, std::size_t max,
                                        KeepGoing&& keep_going = {}) {
    std::size_t got = 0;
    while (got < max) {
      const std::size_t n =
          TryClaim(out + (got << shift_), max - got, keep_going);
      got += n;
      if (n == 0 || got == max || !keep_going()) break;
    }
    return got;
  }

  // Producer only: appends up to n keys (keys[0 .. n * Stride())); returns
  // how many fit.
  [[nodiscard]] std::size_t Push(const Key* keys, std::size_t n) {
    // relaxed: only this producer writes tail.
    const std::uint64_t t = tail_->load(std::memory_order_relaxed);
    // acquire: pairs with the consumers' release CAS, so their copies of
    // the slots we are about to overwrite are complete (I3).
    const std::uint64_t h = head_->load(std::memory_order_acquire);
    const std::uint64_t free_slots = Capacity() - (t - h);
    const std::size_t m =
        static_cast<std::size_t>(std::min<std::uint64_t>(n, free_slots));
    for (std::size_t i = 0; i < m; ++i) CopyIn(t + i, keys + (i << shift_));
    // release: publishes the slot words above before the new tail.
    tail_->store(t + m, std::memory_order_release);
    return m;
  }

 private:
  // Copies key `index` (Stride() slots) to out[0 .. Stride()).
  void CopyOut(std::uint64_t index, Key* out) const {
    const Slot* s = slots_ + ((index & mask_) << shift_);
    if (shift_ == 0) {  // the single-slot ring: exactly version 2's copy
      CopySlotOut(*s, out);
      return;
    }
    for (std::uint32_t j = 0; j < (1U << shift_); ++j) {
      CopySlotOut(s[j], out + j);
    }
  }

  static void CopySlotOut(const Slot& s, Key* out) {
    std::uint64_t w[2];
    // relaxed: ordering comes from the tail acquire before and the head
    // CAS after; a torn read only happens to a slot that CAS cannot claim.
    w[0] = s.word[0].load(std::memory_order_relaxed);
    w[1] = s.word[1].load(std::memory_order_relaxed);
    std::memcpy(out->text, w, sizeof(w));
  }

  // Writes key `index` from key[0 .. Stride()).
  void CopyIn(std::uint64_t index, const Key* key) {
    Slot* s = slots_ + ((index & mask_) << shift_);
    if (shift_ == 0) {
      CopySlotIn(*key, s);
      return;
    }
    for (std::uint32_t j = 0; j < (1U << shift_); ++j) {
      CopySlotIn(key[j], s + j);
    }
  }

  static void CopySlotIn(const Key& key, Slot* s) {
    std::uint64_t w[2];
    std::memcpy(w, key.text, sizeof(w));
    // relaxed: the release store of tail in Push() publishes these words.
    s->word[0].store(w[0], std::memory_order_relaxed);
    s->word[1].store(w[1], std::memory_order_relaxed);
  }

  std::atomic<std::uint64_t>* head_;
  std::atomic<std::uint64_t>* tail_;
  Slot* slots_;
  std::uint64_t mask_;     // keys - 1
  std::uint32_t shift_;    // log2(stride)
  std::size_t max_claim_;  // keys one claim covers (I5)
  [[no_unique_address]] ClaimHook hook_;
};

using Ring = BasicRing<>;

}  // namespace forge::shm
