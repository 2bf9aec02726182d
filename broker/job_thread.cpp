// broker/job_thread.cpp — see job_thread.h for the contract.
#include "broker/job_thread.h"

#include <pthread.h>
#include <signal.h>

#include <system_error>
#include <utility>

namespace forge::broker {

JobThread::~JobThread() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  work_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool JobThread::StartLocked() {
  if (thread_.joinable()) return true;
  // Threads inherit the creator's mask: block everything for the new one.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  try {
    thread_ = std::thread([this] { Loop(); });
  } catch (const std::system_error&) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return true;
}

void JobThread::Post(std::function<void()> job) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (StartLocked()) {
      jobs_.push_back(std::move(job));
      lock.unlock();
      work_.notify_one();
      return;
    }
  }
  job();  // no thread: here and now
}

bool JobThread::WaitIdle(std::chrono::nanoseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, wait,
                        [this] { return !running_ && jobs_.empty(); });
}

void JobThread::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return quit_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // quit_, and every job has run
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    running_ = true;
    lock.unlock();
    job();
    lock.lock();
    running_ = false;
    if (jobs_.empty()) idle_.notify_all();
  }
}

}  // namespace forge::broker
