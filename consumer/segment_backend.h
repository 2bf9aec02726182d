// consumer/segment_backend.h — the Backend of a consumer process (an HTTP
// worker or a libforge-client user): the shared segment.
//
// Contract
//   * The one consumer of a segment: frontend workers and the client
//     library both use it (SegmentBackendOptions::kind says which, for the
//     stats slot).
//   * One SegmentBackend per worker process, created after fork. Request
//     threads call TakeKeys/Observe/Count* concurrently; a control thread
//     calls Maintain() every ~150 ms.
//   * Until the broker has created the segment, the backend is detached:
//     TakeKeys returns 0 at once and Observe says "not attached". Both
//     Maintain() and every request while detached try to attach (under a
//     mutex, off the attached fast path), so a frontend may start before
//     its broker, and no worker says "broker not started" once it exists.
//   * Damage: Maintain() asks the attached segment for Segment::Damage()
//     (fstat + stat, every ~150 ms, never per request). When the object was
//     truncated or resized, deleted, or replaced (the name now points at
//     another object or at none), the backend detaches (one WARN line) and
//     attaches whatever the name points at next, if usable. In between, a
//     truncated file cannot kill the worker: its mapping turns into zero
//     pages (shm/bus_guard.h); TakeKeys checks Segment::faulted() (one
//     relaxed load) after popping and drops keys popped around a fault (a
//     gap, never a repeat), and Observe() drops what it read. While
//     detached, Observe() carries the reason (detached_reason) for the 503.
//     Old mappings stay mapped until destruction, because a request thread
//     may still be using them: a few MB at worst, and only after a swap.
//   * On attach the worker builds the segment's codec (shm::SegmentCodec)
//     once, for CheckKey; a segment whose key format block is damaged is
//     not attached (attach refuses it, one line).
//   * On attach the worker claims a stats slot for its pid (shm/workers.h)
//     and counts what it serves there (relaxed increments); the destructor
//     releases every slot it claimed.
//   * TakeKeys never runs past its time (EMPTY_WAIT_MS, at least
//     kMinClaimTime) plus scheduling: it claims in bounded chunks
//     (shm::kMaxClaimSlots) and checks the clock between them, so competing
//     pops cannot keep a large batch busy (it answers with what it has).
//   * The request path is lock-free: one acquire load of the current
//     attachment, the ring CAS, one relaxed load in MaybeWakeProducer, one
//     relaxed load of the fault flag (Segment::faulted) and a relaxed
//     counter increment. Syscalls happen only on an empty ring
//     (futex wait) or for /healthz and /metrics (kill(pid, 0)).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consumer/backend.h"
#include "shm/segment.h"

namespace forge::consumer {

// However short EMPTY_WAIT_MS is, a batch may spend this long claiming
// what the ring already holds (copying 10^6 keys takes a few ms), so
// EMPTY_WAIT_MS=0 still answers full batches from a full ring.
inline constexpr std::chrono::milliseconds kMinClaimTime{10};

struct SegmentBackendOptions {
  std::string shm_name;
  std::chrono::milliseconds empty_wait{100};  // EMPTY_WAIT_MS
  pid_t frontend_pid = 0;                     // the master that forked us
  // What the stats slot says this process is (a client has frontend_pid 0).
  shm::ConsumerKind kind = shm::ConsumerKind::kWorker;
  // No log lines (the client library: its caller gets every error as a
  // code and a line of its own, and its stderr is not ours).
  bool quiet = false;
};

class SegmentBackend final : public Backend {
 public:
  explicit SegmentBackend(SegmentBackendOptions options);
  ~SegmentBackend() override;
  SegmentBackend(const SegmentBackend&) = delete;
  SegmentBackend& operator=(const SegmentBackend&) = delete;

  // Attaches (or re-attaches, see above); logs a failure once per distinct
  // message. Returns true when attached.
  bool Maintain();

  // While detached: why the segment is unusable; "" when it does not exist
  // (or when attached).
  std::string DetachedReason();

  [[nodiscard]] TakenKeys TakeKeys(KeyBuffer& out, std::size_t want) override;
  [[nodiscard]] bool MayWait(std::size_t want) override;
  // The same with this call's own empty-ring wait instead of EMPTY_WAIT_MS
  // (a client's timeout_ms); 0 claims what the ring holds and never waits.
  [[nodiscard]] TakenKeys TakeKeys(KeyBuffer& out, std::size_t want,
                                   std::chrono::milliseconds wait);
  // Characters per key of the attached segment (attaches first if
  // detached); nullopt while detached.
  [[nodiscard]] std::optional<std::uint32_t> KeyLength();
  [[nodiscard]] std::optional<KeyCheck> CheckKey(std::string_view key) override;
  Snapshot Observe() override;
  void CountUnavailable() override;
  void CountRequest() override;

 private:
  struct Attachment;

  Attachment* Current();  // attaches first if detached
  bool Attach();          // attach_mu_ held
  [[nodiscard]] std::size_t PopKeys(Attachment* a, shm::Key* out,
                                    std::size_t want,
                                    std::chrono::milliseconds wait);
  void Log(bool warn, const std::string& line) const;
  void Detach(Attachment* a, const std::string& why);  // attach_mu_ held
  void OnFault(Attachment* a);                         // takes attach_mu_
  void SetAttachError(const std::string& error, bool attached);

  SegmentBackendOptions options_;
  std::atomic<Attachment*> current_{nullptr};
  std::mutex attach_mu_;  // guards the two members below and every store
                          // of current_
  std::vector<std::unique_ptr<Attachment>> attachments_;
  std::string logged_error_;  // the last attach error logged
  std::mutex reason_mu_;      // guards the two members below (held briefly:
                              // request threads read them for a 503)
  std::string damage_;        // why the last segment was detached
  std::string last_error_;    // why the last attach failed ("" if none)
};

}  // namespace forge::consumer
