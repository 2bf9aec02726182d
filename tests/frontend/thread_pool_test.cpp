// ElasticPool (frontend/thread_pool.h): every connection gets a thread.
#include "frontend/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/support/process.h"

namespace forge::frontend {
namespace {

using forge::testing::WaitUntil;
using std::chrono::milliseconds;

// Jobs that hold their thread (like a keep-alive connection) until opened.
class Gate {
 public:
  std::function<void()> Job() {
    return [this] {
      ++started;
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return open_; });
      ++finished;
    };
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::atomic<int> started{0};
  std::atomic<int> finished{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

PoolOptions Pool(std::size_t min, std::size_t max) {
  PoolOptions o;
  o.min_threads = min;
  o.max_threads = max;
  return o;
}

// Nothing up front: a worker starting next to its broker serves at once
// instead of creating HTTP_THREADS threads first; the floor fills on demand.
TEST(ElasticPoolTest, StartsThreadsOnlyForJobs) {
  Gate gate;
  ElasticPool pool(Pool(64, 128));
  EXPECT_EQ(pool.threads(), 0u);
  pool.Enqueue(gate.Job());
  pool.Enqueue(gate.Job());
  EXPECT_TRUE(WaitUntil([&] { return gate.started == 2; }, milliseconds(5000)));
  EXPECT_EQ(pool.threads(), 2u);
  gate.Open();
}

TEST(ElasticPoolTest, NeverParksAJobBehindARunningOne) {
  Gate gate;
  ElasticPool pool(Pool(2, 64));
  for (int i = 0; i < 40; ++i) pool.Enqueue(gate.Job());
  // With a fixed pool of 2, only 2 would ever start while the gate is shut.
  EXPECT_TRUE(WaitUntil([&] { return gate.started == 40; }, milliseconds(5000)))
      << gate.started;
  EXPECT_EQ(pool.threads(), 40u);
  gate.Open();
  pool.Shutdown();
  EXPECT_EQ(gate.finished, 40);
}

TEST(ElasticPoolTest, AtTheCapEnqueueWaitsForAFreeThread) {
  Gate gate;
  ElasticPool pool(Pool(1, 2));
  pool.Enqueue(gate.Job());
  pool.Enqueue(gate.Job());
  ASSERT_TRUE(WaitUntil([&] { return gate.started == 2; }, milliseconds(5000)));
  std::atomic<bool> returned{false};
  std::atomic<bool> ran{false};
  std::thread accept_loop([&] {
    pool.Enqueue([&] { ran = true; });
    returned = true;
  });
  // Back-pressure: the third Enqueue must not return while both are busy.
  EXPECT_FALSE(WaitUntil([&] { return returned.load(); }, milliseconds(200)));
  EXPECT_EQ(pool.threads(), 2u);
  gate.Open();
  EXPECT_TRUE(WaitUntil([&] { return ran.load(); }, milliseconds(5000)));
  accept_loop.join();
  EXPECT_TRUE(returned);
}

TEST(ElasticPoolTest, ShutdownFinishesQueuedJobs) {
  std::atomic<int> done{0};
  {
    ElasticPool pool(Pool(1, 1));
    for (int i = 0; i < 50; ++i) {
      pool.Enqueue([&] {
        std::this_thread::yield();
        ++done;
      });
    }
    pool.Shutdown();
    EXPECT_EQ(done, 50);
    EXPECT_EQ(pool.threads(), 0u);
  }  // the destructor's second Shutdown() returns at once
}

TEST(ElasticPoolTest, IdleThreadsAboveTheFloorRetire) {
  Gate gate;
  PoolOptions options = Pool(2, 16);
  options.idle_retire = milliseconds(50);
  ElasticPool pool(options);
  for (int i = 0; i < 10; ++i) pool.Enqueue(gate.Job());
  ASSERT_TRUE(
      WaitUntil([&] { return gate.started == 10; }, milliseconds(5000)));
  gate.Open();
  EXPECT_TRUE(
      WaitUntil([&] { return pool.threads() == 2; }, milliseconds(5000)))
      << pool.threads();
  // The floor stays and still works.
  std::atomic<bool> ran{false};
  pool.Enqueue([&] { ran = true; });
  EXPECT_TRUE(WaitUntil([&] { return ran.load(); }, milliseconds(5000)));
}

TEST(ElasticPoolTest, AThrowingJobDoesNotKillThePool) {
  ElasticPool pool(Pool(1, 1));
  pool.Enqueue([] { throw std::runtime_error("boom"); });
  std::atomic<bool> ran{false};
  pool.Enqueue([&] { ran = true; });
  EXPECT_TRUE(WaitUntil([&] { return ran.load(); }, milliseconds(5000)));
}

}  // namespace
}  // namespace forge::frontend
