// The one signal helper (base/signals.h): nothing lost between a check and
// a wait, in both modes.
#include "base/signals.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/process.h"

namespace forge {
namespace {

using Clock = Signals::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kLong = seconds(10);  // a wait the test must never sit out

// Waits until thread `tid` of this process sleeps (state S in
// /proc/self/task/TID/stat): then it sits in the wait under test, so a
// signal sent now arrives during it, not before.
bool WaitUntilSleeping(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  return forge::testing::WaitUntil(
      [&] {
        std::ifstream in(path);
        std::string stat((std::istreambuf_iterator<char>(in)), {});
        const auto end = stat.rfind(") ");
        return end != std::string::npos && end + 2 < stat.size() &&
               stat[end + 2] == 'S';
      },
      milliseconds(5000));
}

bool Blocked(int sig) {
  sigset_t now;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, sig) == 1;
}

TEST(Signals, ASignalSentBeforeTheWaitIsNotLost) {
  for (const auto between :
       {Signals::Between::kBlocked, Signals::Between::kDelivered}) {
    Signals signals({SIGUSR1}, between);
    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);  // the "check" already ran
    const auto start = Clock::now();
    EXPECT_EQ(signals.WaitFor(kLong), SIGUSR1);
    EXPECT_LT(Clock::now() - start, seconds(2));
  }
}

TEST(Signals, TimesOutWithZero) {
  Signals signals({SIGUSR1}, Signals::Between::kBlocked);
  const auto start = Clock::now();
  EXPECT_EQ(signals.WaitFor(milliseconds(50)), 0);
  EXPECT_GE(Clock::now() - start, milliseconds(50));
  EXPECT_EQ(signals.Poll(), 0);
}

TEST(Signals, ASignalFromAnotherThreadEndsTheWait) {
  Signals signals({SIGUSR1, SIGUSR2}, Signals::Between::kBlocked);
  const pid_t waiter = ::gettid();
  std::thread sender([waiter] {
    EXPECT_TRUE(WaitUntilSleeping(waiter));
    ::kill(::getpid(), SIGUSR2);  // blocked in the sender too: inherited
  });
  const auto start = Clock::now();
  EXPECT_EQ(signals.WaitFor(kLong), SIGUSR2);
  EXPECT_LT(Clock::now() - start, seconds(5));
  sender.join();
}

TEST(Signals, EachSignalIsReturnedOnceInTheGivenOrder) {
  Signals signals({SIGUSR1, SIGUSR2}, Signals::Between::kBlocked);
  ::kill(::getpid(), SIGUSR2);
  ::kill(::getpid(), SIGUSR1);
  EXPECT_EQ(signals.Poll(), SIGUSR1);
  EXPECT_EQ(signals.Poll(), SIGUSR2);
  EXPECT_EQ(signals.Poll(), 0);
}

TEST(Signals, AcknowledgeForgetsEarlierArrivals) {
  Signals signals({SIGUSR1}, Signals::Between::kDelivered);
  ::kill(::getpid(), SIGUSR1);
  signals.Acknowledge();
  EXPECT_EQ(signals.WaitFor(milliseconds(20)), 0);
}

TEST(Signals, TermAndIntRaiseTheStopFlag) {
  Signals signals({SIGTERM, SIGINT}, Signals::Between::kBlocked);
  EXPECT_FALSE(signals.stop_requested());
  ::kill(::getpid(), SIGINT);
  EXPECT_EQ(signals.Poll(), SIGINT);
  EXPECT_TRUE(signals.stop_requested());
  // relaxed: read on the thread that ran the handler.
  EXPECT_TRUE(Signals::stop_flag().load(std::memory_order_relaxed));
  Signals again({SIGTERM}, Signals::Between::kBlocked);
  EXPECT_FALSE(again.stop_requested());  // a new object starts with it down
}

TEST(Signals, BlockedOnlyOutsideWaitsWhenAsked) {
  {
    Signals blocked({SIGUSR1}, Signals::Between::kBlocked);
    EXPECT_TRUE(Blocked(SIGUSR1));
  }
  EXPECT_FALSE(Blocked(SIGUSR1));  // the destructor restored the mask
  Signals delivered({SIGUSR1}, Signals::Between::kDelivered);
  EXPECT_FALSE(Blocked(SIGUSR1));
}

// A signal still pending when the object goes is dropped, not handed to
// the restored disposition (here SIGTERM's default: death).
TEST(Signals, APendingSignalDiesWithTheObject) {
  {
    Signals signals({SIGTERM}, Signals::Between::kBlocked);
    ::kill(::getpid(), SIGTERM);
  }
  EXPECT_FALSE(Blocked(SIGTERM));
  sigset_t pending;
  ::sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGTERM), 0);
}

// kDelivered: a blocking call elsewhere in the thread returns EINTR (no
// SA_RESTART), so code that polls stop_flag() sees it at once.
TEST(Signals, DeliveredModeCutsABlockingCallShort) {
  Signals signals({SIGTERM}, Signals::Between::kDelivered);
  const pthread_t self = ::pthread_self();
  const pid_t waiter = ::gettid();
  std::thread sender([self, waiter] {
    EXPECT_TRUE(WaitUntilSleeping(waiter));
    ::pthread_kill(self, SIGTERM);
  });
  const auto start = Clock::now();
  timespec ts{10, 0};
  EXPECT_EQ(::nanosleep(&ts, nullptr), -1);
  EXPECT_EQ(errno, EINTR);
  EXPECT_LT(Clock::now() - start, seconds(5));
  // relaxed: read on the thread that ran the handler.
  EXPECT_TRUE(Signals::stop_flag().load(std::memory_order_relaxed));
  EXPECT_EQ(signals.Poll(), SIGTERM);
  sender.join();
}

}  // namespace
}  // namespace forge
