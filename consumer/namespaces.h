// consumer/namespaces.h — a worker's segments, one per namespace (issue 13).
//
// Contract
//   * SegmentNamespaces is the Namespaces (backend.h) of a worker process:
//     "default" is the SegmentBackend of SHM_NAME, created at once (detached
//     until its broker comes, exactly as before namespaces); namespace NS is
//     the SegmentBackend of base::NamespaceSegmentName(SHM_NAME, NS),
//     created on the first request for NS whose segment exists, then kept
//     for the life of the worker (segments are never deleted). Attaching
//     claims a worker slot in that segment, so each segment counts what the
//     worker serves from it.
//   * Find is lock-free for a namespace already attached: one acquire load
//     of the table's size and a scan of at most kMaxAttachedNamespaces
//     names (a handful in practice). A miss takes a mutex and opens the
//     segment (one shm_open; ENOENT when it does not exist). A miss is
//     remembered for at most kMissMemory, so a segment a broker creates
//     later is found by a request that comes after that (no restart), and
//     a flood of requests for an unserved name opens nothing more than once
//     a second per name (kMaxMisses names remembered; then forgotten).
//   * A segment that exists but cannot be attached yet (half created, bad
//     mode) is served all the same: its requests get 503 with the reason.
//   * At most `max_attached` (kMaxAttachedNamespaces unless a test asks for
//     fewer) are attached; Find says `full` for any other namespace whose
//     segment exists, and plain not-found (404) for one that has none.
//   * Maintain() runs on the worker's one control thread every ~150 ms and
//     applies SegmentBackend::Maintain (damage, follow a new segment) to
//     the default segment every time and to each other attached segment
//     every kNamespaceMaintainTicks-th time (about once a second, spread
//     over the ticks): no thread or timer per namespace, and 16 namespaces
//     add ~2 syscalls a second each, not ~13. A damaged namespace segment
//     is thus followed within ~1 s (a fault in between is still caught per
//     request, see segment_backend.h).
//   * Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "consumer/backend.h"
#include "consumer/segment_backend.h"

namespace forge::consumer {

inline constexpr std::chrono::milliseconds kMissMemory{1000};
inline constexpr std::size_t kMaxMisses = 1024;
inline constexpr std::size_t kNamespaceMaintainTicks = 7;

class SegmentNamespaces final : public Namespaces {
 public:
  // `options.shm_name` is SHM_NAME (the default namespace's segment).
  explicit SegmentNamespaces(SegmentBackendOptions options,
                             std::size_t max_attached = kMaxAttachedNamespaces);
  ~SegmentNamespaces() override;
  SegmentNamespaces(const SegmentNamespaces&) = delete;
  SegmentNamespaces& operator=(const SegmentNamespaces&) = delete;

  [[nodiscard]] NamespaceLookup Find(std::string_view ns) override;
  // Find, typed: every Backend found here is a SegmentBackend (a client
  // needs its per-call wait, SegmentBackend::TakeKeys).
  [[nodiscard]] SegmentBackend* FindSegment(std::string_view ns, bool* full);
  std::vector<std::string> Served() override;

  // SegmentBackend::Maintain on every attached segment. True when the
  // default segment is attached.
  bool Maintain();

  SegmentBackend& default_backend() { return default_; }

 private:
  struct Entry {
    std::string name;
    SegmentBackend backend;
  };

  // The attached entry named `ns` among the first `count_`; nullptr if none.
  Entry* Scan(std::string_view ns);
  // Under mu_: open `ns`'s segment; the new entry, or nullptr when missing.
  Entry* Open(std::string_view ns);
  bool RecentlyMissed(std::string_view ns,
                      std::chrono::steady_clock::time_point now);

  SegmentBackendOptions options_;
  std::size_t max_attached_;  // <= kMaxAttachedNamespaces
  SegmentBackend default_;
  std::array<std::unique_ptr<Entry>, kMaxAttachedNamespaces> entries_;
  std::atomic<std::size_t> count_{0};  // entries_[0..count_) are published
  std::size_t tick_ = 0;               // Maintain() calls (control thread)
  std::mutex mu_;                      // guards adding entries and misses_
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>>
      misses_;
};

}  // namespace forge::consumer
