// frontend/thread_pool.h — an elastic pool of connection threads.
//
// Why not httplib::ThreadPool: cpp-httplib runs one connection on one thread
// for the connection's whole keep-alive life. With a fixed pool of T threads
// per worker, client T+1 waits in the queue until some other client
// disconnects — with 1,000 keep-alive clients it may never be served, and
// wrk does not show it (it only counts completed requests).
//
// Contract
//   * Enqueue() never parks a connection behind another one: it hands the job
//     to an idle thread, or starts a new thread, up to `max_threads`.
//   * At the cap, Enqueue() blocks until a thread is free. It runs on the
//     accept loop, so this worker then stops accepting and the shared listen
//     backlog feeds the other workers (back-pressure instead of starvation).
//   * Threads start on demand, the first with the first job: none up front,
//     so a worker that starts next to its broker on a small machine serves
//     at once instead of creating HTTP_THREADS threads first (4 workers x
//     64 threads took ~80 ms of CPU at start). Up to `min_threads` of them
//     never retire; threads above that retire after `idle_retire` without
//     work.
//   * Threads get an 8 MiB stack, on purpose (see thread_pool.cpp), and
//     run on PoolOptions::cpus when it is set.
//   * Shutdown() lets every queued and running job finish, then returns when
//     all threads have exited. Thread-safe; jobs must not call Enqueue().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace forge::frontend {

struct PoolOptions {
  std::size_t min_threads = 64;    // HTTP_THREADS
  std::size_t max_threads = 4096;  // per worker process
  std::chrono::milliseconds idle_retire{30000};
  // The CPUs the pool's threads may run on; empty: those of the thread
  // that starts them. A pinned worker (WORKER_CPU_AFFINITY) pins only its
  // event loop: a long answer here (a big batch, a wait for keys) may run
  // on any CPU instead of taking turns with the loop on one.
  std::vector<int> cpus;
};

class ElasticPool final {
 public:
  explicit ElasticPool(PoolOptions options);
  ~ElasticPool();  // calls Shutdown() if needed
  ElasticPool(const ElasticPool&) = delete;
  ElasticPool& operator=(const ElasticPool&) = delete;

  void Enqueue(std::function<void()> fn);
  void Shutdown();

  // Snapshot, for tests and logs.
  std::size_t threads() const;

 private:
  struct Start;
  static void* ThreadMain(void* start);
  void Spawn(std::function<void()> job);  // mutex_ held; starts with `job`
  void Loop(std::function<void()> job);   // runs `job`, then queued ones
  bool NextJob(std::unique_lock<std::mutex>& lock, std::function<void()>* job);
  static void RunJob(const std::function<void()>& job);

  const PoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable work_;     // a job was queued, or shutdown
  std::condition_variable free_;     // a thread became idle
  std::condition_variable stopped_;  // a thread exited
  std::deque<std::function<void()>> jobs_;
  std::size_t live_ = 0;  // threads started and not yet exited
  std::size_t idle_ = 0;  // threads waiting for a job
  bool shutdown_ = false;
  bool grow_failed_ = false;  // logged once
};

}  // namespace forge::frontend
