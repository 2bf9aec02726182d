// frontend/accept_share.h — how many connections each worker holds, so the
// workers share the connections of the one listening socket evenly.
//
// Why: every worker waits on the same listening socket and takes one
// connection per wake-up (event_loop.h); the kernel's wake-up order favours
// one of them, so a burst of 8 connections could land on one worker and
// leave the other cores idle for as long as the connections live.
//
// Contract
//   * Used only with one shared listening socket (WORKER_CPU_AFFINITY=off,
//     or too few workers to pin): with one socket per CPU (cpu_steer.h)
//     each socket has its own workers and the kernel picks the socket.
//   * Created by the master before it forks (a MAP_SHARED anonymous
//     mapping), so the master and every worker see the same slots. One slot
//     per worker, each on its own cache line.
//   * Each worker writes only its own slot (Set); the master writes a slot
//     only while that worker does not run (Set(i, 0) before forking it,
//     MarkGone after reaping it). Reads may see slightly stale values: the
//     counts guide, they do not guarantee.
//   * Fair(self, open): true when a worker holding `open` connections should
//     take the next one, i.e. it holds at most a little more than the least
//     loaded live worker (1 + 1/16 of that). Workers marked gone are left
//     out. A worker that is not Fair waits briefly and then takes the
//     connection anyway (event_loop.h), so a stuck worker's low count never
//     stops the others from accepting.
//   * Process- and thread-safe (relaxed atomics; see Set).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace forge::frontend {

class AcceptShare {
 public:
  // Throws std::system_error when the mapping cannot be made.
  explicit AcceptShare(std::size_t workers);
  ~AcceptShare();
  AcceptShare(const AcceptShare&) = delete;
  AcceptShare& operator=(const AcceptShare&) = delete;

  void Set(std::size_t worker, std::uint32_t open);
  void MarkGone(std::size_t worker);
  [[nodiscard]] bool Fair(std::size_t self, std::uint32_t open) const;

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint32_t> open;
  };
  static_assert(sizeof(Slot) == 64, "one slot per cache line");
  static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
                "the slots are shared between processes");
  static constexpr std::uint32_t kGone = UINT32_MAX;

  Slot* slots_ = nullptr;
  std::size_t workers_ = 0;
};

}  // namespace forge::frontend
