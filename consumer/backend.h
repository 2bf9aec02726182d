// consumer/backend.h — what a consumer of the key ring (an HTTP worker's
// handlers, a libforge-client user) needs from it.
//
// Contract
//   * Backend is the seam between a consumer (frontend/handlers.h, the
//     client library client/) and the shared-memory segment
//     (segment_backend.h). Tests substitute a fake.
//   * All methods are called concurrently from many request threads of one
//     worker process; implementations must be thread-safe and must not block
//     longer than the configured empty-ring wait (TakeKeys) or a few
//     microseconds (everything else).
//   * Snapshot is a plain value: a consistent-enough picture for /healthz,
//     /metrics and 503 reasons, never used to decide who gets a key.
//   * Namespaces (issue 13) maps a namespace name to its Backend: one
//     segment per namespace, "default" always present (detached until its
//     broker comes, as before namespaces). Find is on the request path and
//     must be cheap for a namespace already found; Served is for the slow
//     paths (/healthz, /metrics, a 404's list).
//   * Keys of more than 15 characters take several ring slots (shm/ring.h
//     stride): TakeKeys grows the caller's KeyBuffer to what the claim
//     needs, and KeyBuffer::Text reads key i whatever its stride.
//   * CheckKey answers /check-key with the namespace's codec (built once
//     per attached segment by shm::SegmentCodec): no store, no ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keys/key_codec.h"
#include "shm/layout.h"
#include "shm/ring.h"
#include "shm/stats.h"

namespace forge::consumer {

// A moment's view of the segment, for health, metrics and error messages:
// shm::Stats (read by shm::ReadStats; every used worker slot of every
// frontend) plus whether and why this worker is attached.
struct Snapshot : shm::Stats {
  std::string shm_name;   // SHM_NAME the worker attaches to
  bool attached = false;  // false until the broker has created the segment
  // While not attached: why ("" when no segment exists yet), one line, e.g.
  // "shared memory … was truncated to 100 bytes (expected N) …". The
  // shm::Stats fields are meaningful only when attached.
  std::string detached_reason;
};

// What TakeKeys claimed. The length comes from the same segment as the
// keys: a worker may swap segments between two calls, and a key read with
// another segment's length would be cut or padded.
struct TakenKeys {
  std::size_t count = 0;         // keys written to the buffer
  std::uint32_t key_length = 0;  // characters per key (0 when count is 0)
};

// Where TakeKeys writes: room for the slots of a claim, grown on demand
// and never zero-filled (only the slots a claim writes are read; zeroing
// 16 MB for count=1000000 took seconds of a starved CPU). Reused per
// thread by the handlers. Not thread-safe.
class KeyBuffer {
 public:
  // Room for `slots` Keys; invalidates what an earlier call returned.
  shm::Key* Room(std::size_t slots) {
    if (size_ < slots) {
      keys_.reset();  // free the old array before taking the new one
      keys_ = std::make_unique_for_overwrite<shm::Key[]>(slots);
      size_ = slots;
    }
    return keys_.get();
  }
  // Key i of a claim of keys of `key_length` characters (TakenKeys).
  std::string_view Text(std::size_t i, std::uint32_t key_length) const {
    return shm::KeyTextAt(keys_.get(), i, key_length);
  }

 private:
  std::unique_ptr<shm::Key[]> keys_;
  std::size_t size_ = 0;
};

// What CheckKey says about a typed key.
struct KeyCheck {
  keys::KeyCodec::Verdict verdict;
  bool sequential = false;  // the namespace's order: numbers are no secret
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Claims up to `want` keys into `out` (grown to fit). Returns at once when
  // the ring holds enough; otherwise waits (without spinning) for more, until
  // the configured empty-ring wait after the call began, whatever the
  // contention. Each key claimed is handed out exactly once and counted as
  // served: dropping the result loses them.
  [[nodiscard]] virtual TakenKeys TakeKeys(KeyBuffer& out,
                                           std::size_t want) = 0;

  // True when TakeKeys(out, want) may have to wait: the ring holds fewer
  // than `want` keys and more may still come. A caller that must not block
  // (the event loop) asks first; it is a guess, since other consumers may
  // empty the ring between the two calls.
  [[nodiscard]] virtual bool MayWait(std::size_t want) = 0;

  // The namespace's verdict on `key` (keys::KeyCodec::Check with the
  // segment's codec); nullopt while no segment is attached.
  [[nodiscard]] virtual std::optional<KeyCheck> CheckKey(
      std::string_view key) = 0;

  virtual Snapshot Observe() = 0;

  // Worker counters (relaxed; see shm/workers.h).
  virtual void CountUnavailable() = 0;
  virtual void CountRequest() = 0;
};

// The most namespaces one worker attaches (each has its own mapping).
inline constexpr std::size_t kMaxAttachedNamespaces = 1024;

// What Namespaces::Find found.
struct NamespaceLookup {
  Backend* backend = nullptr;  // nullptr: not served (or `full`)
  bool full = false;  // a segment may exist, but this worker attaches no more
};

class Namespaces {
 public:
  virtual ~Namespaces() = default;

  // The Backend of namespace `ns` (a valid name, base::IsNamespaceName).
  // "default" always has one; another namespace has one once its segment
  // exists. Thread-safe.
  [[nodiscard]] virtual NamespaceLookup Find(std::string_view ns) = 0;
  // The namespaces served here, "default" first (always listed).
  virtual std::vector<std::string> Served() = 0;
};

// The default namespace only: a Router over one Backend (tests, tools).
class DefaultOnly final : public Namespaces {
 public:
  explicit DefaultOnly(Backend& backend) : backend_(backend) {}
  NamespaceLookup Find(std::string_view ns) override;
  std::vector<std::string> Served() override;

 private:
  Backend& backend_;
};

}  // namespace forge::consumer
