// frontend/listener.h beyond binding: which accept() errors a worker
// survives, the back-off and its rate-limited log line, and the SYN filter
// that keeps a stopping frontend's accept queue from growing.
#include "frontend/listener.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "tests/frontend/tcp_probe.h"
#include "tests/support/loopback.h"

namespace forge::frontend {
namespace {

using testing::AcceptQueueLength;

using std::chrono::milliseconds;
using Clock = AcceptBackoff::Clock;

TEST(ClassifyAcceptError, OnlyAnUnusableListenerIsFatal) {
  for (int err : {EBADF, ENOTSOCK, EINVAL, EFAULT}) {
    EXPECT_EQ(ClassifyAcceptError(err), AcceptFailure::kFatal) << err;
  }
  // cpp-httplib 0.11.4 ends its accept loop on each of these.
  for (int err :
       {ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENETUNREACH, EHOSTUNREACH,
        EHOSTDOWN, ENONET, ENOPROTOOPT, ETIMEDOUT, ECONNRESET, EINTR, EAGAIN}) {
    EXPECT_EQ(ClassifyAcceptError(err), AcceptFailure::kRetry) << err;
  }
  for (int err : {EMFILE, ENFILE, ENOBUFS, ENOMEM, EOPNOTSUPP, EIO}) {
    EXPECT_EQ(ClassifyAcceptError(err), AcceptFailure::kBackOff) << err;
  }
}

TEST(AcceptBackoff, PausesDoubleTo100MsAndResetOnSuccess) {
  AcceptBackoff b;
  const auto t = Clock::now();
  std::vector<long> pauses;
  for (int i = 0; i < 6; ++i)
    pauses.push_back(b.Failed(EMFILE, t).pause.count());
  EXPECT_EQ(pauses, (std::vector<long>{10, 20, 40, 80, 100, 100}));
  b.Succeeded();
  EXPECT_EQ(b.Failed(ENFILE, t).pause, milliseconds(10));
  // A failed connection is retried at once, without a line.
  const auto retry = b.Failed(ECONNABORTED, t);
  EXPECT_EQ(retry.pause, milliseconds(0));
  EXPECT_FALSE(retry.log.has_value());
}

TEST(AcceptBackoff, LogsAtMostOneLinePerSecondAndCountsTheRest) {
  AcceptBackoff b;
  const auto t0 = Clock::now();
  const auto first = b.Failed(EMFILE, t0);
  ASSERT_TRUE(first.log.has_value());
  EXPECT_NE(first.log->find("EMFILE"), std::string::npos) << *first.log;
  EXPECT_NE(first.log->find("open-files limit"), std::string::npos);
  int lines = 0;
  for (int ms = 1; ms < 1000; ms += 10) {
    lines += b.Failed(EMFILE, t0 + milliseconds(ms)).log.has_value();
  }
  EXPECT_EQ(lines, 0);
  const auto next = b.Failed(ENFILE, t0 + milliseconds(1000));
  ASSERT_TRUE(next.log.has_value());
  EXPECT_NE(next.log->find("ENFILE"), std::string::npos) << *next.log;
  EXPECT_NE(next.log->find("100 more failures"), std::string::npos)
      << *next.log;
}

// A non-blocking connect in progress (or done) to `port`.
int StartConnect(int port) {
  const int fd = forge::testing::ConnectLoopback(port, {}, SOCK_NONBLOCK);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  return fd;
}

// Waits up to `timeout` for a connect to finish; its SO_ERROR (0: done),
// or -1 while still in progress.
int ConnectResult(int fd, milliseconds timeout) {
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) == 0) return -1;
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

TEST(RefuseNewConnections, QueuedConnectionsStayNewOnesAreRefusedAtClose) {
  Listener l = BindListener("127.0.0.1", 0, 16);
  const int queued = StartConnect(l.port);
  ASSERT_EQ(ConnectResult(queued, milliseconds(5000)), 0);
  ASSERT_EQ(::send(queued, "ping", 4, 0), 4);

  ASSERT_TRUE(RefuseNewConnections(l.fd));
  const int late = StartConnect(l.port);
  // Its SYN is dropped: no handshake, so nothing enters the queue. (The
  // client retransmits the SYN after about a second.)
  EXPECT_EQ(ConnectResult(late, milliseconds(300)), -1);
  EXPECT_EQ(AcceptQueueLength(l.fd), 1u);

  // The connection queued before the filter is accepted and works.
  pollfd p{l.fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  const int server = ::accept(l.fd, nullptr, nullptr);
  ASSERT_GE(server, 0);
  char buf[8];
  EXPECT_EQ(::recv(server, buf, sizeof(buf), 0), 4);
  EXPECT_EQ(::send(server, "pong", 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(::recv(queued, buf, sizeof(buf), 0), 4);

  // Once the listener is gone the retransmitted SYN is refused: the client
  // learns it was never connected, instead of being reset after sending.
  ::close(l.fd);
  EXPECT_EQ(ConnectResult(late, milliseconds(10000)), ECONNREFUSED);
  for (int fd : {queued, server, late}) ::close(fd);
}

}  // namespace
}  // namespace forge::frontend
