// broker/job_thread.h — one long-lived thread that runs posted jobs, one
// at a time, in the order they were posted (the broker's reserver and its
// encode helpers, docs/design.md §4).
//
// Contract
//   * The thread is made at the first Post (so an object that is never
//     used costs nothing), with every signal blocked: the process's
//     signals keep reaching the thread that posts and its interruptible
//     sleeps (base/signals.h). When no thread can be made, Post runs the
//     job on the caller's thread, before it returns.
//   * WaitIdle(wait) waits up to `wait` until every job posted so far has
//     returned. A job's writes happen before a WaitIdle() that reports it
//     done (both sides take the thread's mutex), so the poster reads a
//     job's result without more synchronisation.
//   * The destructor lets the jobs already posted run to their end, then
//     joins the thread: a job must end by itself (a store call ends on its
//     timeout or the stop flag).
//   * Post and WaitIdle may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace forge::broker {

class JobThread {
 public:
  JobThread() = default;
  JobThread(const JobThread&) = delete;
  JobThread& operator=(const JobThread&) = delete;
  ~JobThread();

  void Post(std::function<void()> job);
  // True when idle (every posted job returned) within `wait`.
  [[nodiscard]] bool WaitIdle(std::chrono::nanoseconds wait);

 private:
  void Loop();
  bool StartLocked();  // false: no thread could be made

  std::mutex mu_;
  std::condition_variable work_;  // a job was posted, or quit_
  std::condition_variable idle_;  // the queue ran empty
  std::deque<std::function<void()>> jobs_;
  bool running_ = false;  // a job is out of the queue, running
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace forge::broker
