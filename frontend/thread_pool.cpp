#include "frontend/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <memory>
#include <string>
#include <system_error>

#include "base/log.h"

namespace forge::frontend {
namespace {

// 8 MiB, the glibc default, set explicitly because it is load-bearing:
// cpp-httplib 0.11.4 matches the Range header with std::regex, whose
// recursion takes ~500 bytes of stack per character; a maximal (8 KiB)
// header line needs ~4 MiB and crashed the worker with 1 MiB stacks
// (server_test RangeHeaderDoesNotCrash). Stacks are reserved, not
// committed: 4,096 threads map 32 GiB of address space, not of memory.
constexpr std::size_t kStackBytes = 8 * 1024 * 1024;

}  // namespace

ElasticPool::ElasticPool(PoolOptions options) : options_(options) {}

ElasticPool::~ElasticPool() { Shutdown(); }

std::size_t ElasticPool::threads() const {
  std::lock_guard lock(mutex_);
  return live_;
}

void ElasticPool::Enqueue(std::function<void()> fn) {
  std::unique_lock lock(mutex_);
  if (idle_ > jobs_.size()) {
    jobs_.push_back(std::move(fn));
    work_.notify_one();
    return;
  }
  if (live_ < options_.max_threads) {
    Spawn(std::move(fn));
    return;
  }
  // At the cap: back-pressure on the accept loop (see the header).
  free_.wait(lock, [&] { return idle_ > jobs_.size() || shutdown_; });
  jobs_.push_back(std::move(fn));
  work_.notify_one();
}

void ElasticPool::Shutdown() {
  std::unique_lock lock(mutex_);
  shutdown_ = true;
  work_.notify_all();
  free_.notify_all();
  stopped_.wait(lock, [&] { return live_ == 0; });
}

struct ElasticPool::Start {
  ElasticPool* pool;
  std::function<void()> job;
};

void* ElasticPool::ThreadMain(void* arg) {
  std::unique_ptr<Start> start(static_cast<Start*>(arg));
  start->pool->Loop(std::move(start->job));
  return nullptr;
}

void ElasticPool::Spawn(std::function<void()> job) {
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setstacksize(&attr, kStackBytes);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (!options_.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (const int cpu : options_.cpus) CPU_SET(cpu, &set);
    ::pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
  }
  auto start = std::make_unique<Start>(Start{this, std::move(job)});
  pthread_t tid;
  // The new thread owns *start from its first instruction: hand it over
  // before, and take it back only if no thread was created.
  Start* handed = start.release();
  const int rc = ::pthread_create(&tid, &attr, &ThreadMain, handed);
  ::pthread_attr_destroy(&attr);
  if (rc == 0) {
    ++live_;
    return;
  }
  start.reset(handed);
  // Could not grow (thread or memory limit): keep the job queued for an
  // existing thread rather than dropping the connection.
  if (live_ == 0) {
    throw std::system_error(rc, std::generic_category(), "pthread_create");
  }
  if (!grow_failed_) {
    grow_failed_ = true;
    log::Warn("cannot start more HTTP threads than " + std::to_string(live_) +
              " (" + std::strerror(rc) +
              "); new connections wait for a free "
              "thread");
  }
  jobs_.push_back(std::move(start->job));
}

bool ElasticPool::NextJob(std::unique_lock<std::mutex>& lock,
                          std::function<void()>* job) {
  auto ready = [&] { return !jobs_.empty() || shutdown_; };
  while (!ready()) {
    if (live_ <= options_.min_threads) {
      work_.wait(lock);
    } else if (work_.wait_for(lock, options_.idle_retire) ==
                   std::cv_status::timeout &&
               !ready() && live_ > options_.min_threads) {
      break;  // retire: idle too long and above the floor
    }
  }
  --idle_;
  if (jobs_.empty()) return false;  // retiring, or shut down with no work
  *job = std::move(jobs_.front());
  jobs_.pop_front();
  return true;
}

void ElasticPool::Loop(std::function<void()> job) {
  for (;;) {
    RunJob(job);
    job = nullptr;
    std::unique_lock lock(mutex_);
    ++idle_;
    free_.notify_one();
    if (!NextJob(lock, &job)) {
      --live_;  // in the same critical section as the retire decision
      stopped_.notify_all();
      return;  // only the lock's release touches *this after the notify
    }
  }
}

void ElasticPool::RunJob(const std::function<void()>& job) {
  try {
    job();
  } catch (const std::exception& e) {
    log::Error(std::string("connection handler failed: ") + e.what());
  } catch (...) {
    log::Error("connection handler failed with an unknown exception");
  }
}

}  // namespace forge::frontend
