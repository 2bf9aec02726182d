// The broker's sleeps take the process's signals (base/signals.h): a stop
// that arrives while a store call runs ends the back-off after it at once,
// instead of after the whole back-off (the window between the check of the
// stop flag and the sleep, issue 12 §6).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "base/signals.h"
#include "broker/broker.h"

namespace forge::broker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A loopback socket that listens and never accepts: the kernel completes
// the TCP handshake, the server never says a word, so a PostgreSQL
// connect waits on it (and asks its CallClock, i.e. on_wait, meanwhile).
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    EXPECT_EQ(::bind(fd_, sa, len), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    EXPECT_EQ(::getsockname(fd_, sa, &len), 0);
    port_ = ntohs(a.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(BrokerSignals, AStopDuringAStoreCallEndsTheBackoffAtOnce) {
  SilentServer server;
  config::Config cfg;
  cfg.db_url =
      "postgres://forge@127.0.0.1:" + std::to_string(server.port()) + "/forge";
  BrokerOptions options;
  options.backoff_min = milliseconds(20000);  // a sleep the test cannot wait
  options.backoff_max = milliseconds(20000);
  options.store_timeout = milliseconds(20000);

  Signals signals({SIGTERM, SIGINT, SIGHUP}, Signals::Between::kDelivered);
  int waits = 0;
  const pthread_t self = ::pthread_self();
  const auto start = Clock::now();
  // SIGTERM comes while the connect waits: the store gives up (a transient
  // "interrupted" error) and OpenStoreRetrying would then sleep the
  // back-off, though the stop flag is already set.
  const auto store = OpenStoreRetrying(
      cfg, options, Signals::stop_flag(),
      [&] {
        if (++waits == 1) ::pthread_kill(self, SIGTERM);
      },
      &signals);
  EXPECT_EQ(store, nullptr);
  EXPECT_GE(waits, 1);
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
}

}  // namespace
}  // namespace forge::broker
