// frontend/cpu_steer.h, conn_relay.h and BindListeners' SO_REUSEPORT group:
// a SYN lands in the socket of the CPU that sent it (or of the next live
// slot), a port held by a group is still a taken port, and a connection
// passed through the relay arrives once, whole, with its requests left.
#include "frontend/cpu_steer.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "frontend/conn_relay.h"
#include "frontend/listener.h"
#include "tests/frontend/tcp_probe.h"
#include "tests/support/loopback.h"

namespace forge::frontend {
namespace {

using testing::AcceptQueueLength;
constexpr std::chrono::milliseconds kTimeout{5000};

// Connects to `port` from a thread pinned to `cpu`; the client fd.
int ConnectFrom(int cpu, int port) {
  int fd = -1;
  std::thread t([&] {
    if (PinToCpu(cpu)) fd = forge::testing::ConnectLoopback(port, kTimeout);
  });
  t.join();
  return fd;
}

// Which socket of `group` has a connection queued; -1 if none or several.
int QueuedAt(const std::vector<Listener>& group) {
  int at = -1;
  for (std::size_t j = 0; j < group.size(); ++j) {
    const unsigned n = AcceptQueueLength(group[j].fd);
    if (n > 1 || (n == 1 && at != -1)) return -1;
    if (n == 1) at = static_cast<int>(j);
  }
  return at;
}

void AcceptAll(const std::vector<Listener>& group) {
  for (const Listener& l : group) {
    for (int fd; (fd = ::accept(l.fd, nullptr, nullptr)) >= 0;) ::close(fd);
  }
}

TEST(CpuSteer, ASynGoesToTheSocketOfItsCpuOrTheNextServedOne) {
  const std::vector<int> cpus = SteerCpus(CPU_SETSIZE);
  ASSERT_GE(cpus.size(), 2u) << "this test needs 2 CPUs";
  const std::vector<Listener> group =
      BindListeners("127.0.0.1", 0, 16, cpus.size());
  ASSERT_EQ(group.size(), cpus.size());
  for (const Listener& l : group) EXPECT_EQ(l.port, group[0].port);

  std::vector<bool> serving(cpus.size(), true);
  ASSERT_TRUE(SteerByCpu(group[0].fd, cpus, serving)) << std::strerror(errno);
  for (int round = 0; round < 4; ++round) {  // a hash would miss sometimes
    for (std::size_t j = 0; j < cpus.size(); ++j) {
      const int fd = ConnectFrom(cpus[j], group[0].port);
      ASSERT_GE(fd, 0);
      EXPECT_EQ(QueuedAt(group), static_cast<int>(j)) << "cpu " << cpus[j];
      AcceptAll(group);
      ::close(fd);
    }
  }
  // Slot 1 lost its workers: its CPU's connections go to slot 2 (mod n).
  serving[1] = false;
  ASSERT_TRUE(SteerByCpu(group[0].fd, cpus, serving));
  const int fd = ConnectFrom(cpus[1], group[0].port);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(QueuedAt(group), static_cast<int>(2 % cpus.size()));
  AcceptAll(group);
  ::close(fd);
  for (const Listener& l : group) ::close(l.fd);
}

TEST(CpuSteer, APortHeldByAGroupIsTaken) {
  const std::vector<Listener> group = BindListeners("127.0.0.1", 0, 16, 2);
  try {
    const std::vector<Listener> second =
        BindListeners("127.0.0.1", group[0].port, 16, 2);
    for (const Listener& l : second) ::close(l.fd);
    ADD_FAILURE() << "a second group joined port " << group[0].port;
  } catch (const ListenError& e) {
    EXPECT_NE(std::string(e.what()).find("Address already in use"),
              std::string::npos)
        << e.what();
  }
  for (const Listener& l : group) ::close(l.fd);
}

TEST(CpuSteer, NoPinningWithoutAWorkerForEveryCpu) {
  const std::vector<int> cpus = SteerCpus(CPU_SETSIZE);
  ASSERT_GE(cpus.size(), 2u) << "this test needs 2 CPUs";
  EXPECT_TRUE(SteerCpus(static_cast<int>(cpus.size()) - 1).empty());
  EXPECT_EQ(SteerCpus(static_cast<int>(cpus.size())), cpus);
}

TEST(ConnRelay, PassesAConnectionOnceWithTheRequestsItHasLeft) {
  ConnRelay relay(2);
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_FALSE(relay.Receive(1));
  ASSERT_TRUE(relay.Send(1, pair[0], 41));
  ::close(pair[0]);  // the sender's copy; the connection lives on
  EXPECT_FALSE(relay.Receive(0)) << "another slot's";
  pollfd p{relay.receive_fd(1), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1) << "readable for epoll";
  const std::optional<ConnRelay::Passed> got = relay.Receive(1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->left, 41u);
  EXPECT_FALSE(relay.Receive(1)) << "taken once";
  ASSERT_EQ(::write(got->fd, "hi", 2), 2);
  char buf[2];
  EXPECT_EQ(::read(pair[1], buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  EXPECT_FALSE(relay.Send(2, pair[1], 1)) << "no slot 2";
  ::close(got->fd);
  ::close(pair[1]);
}

TEST(ConnRelay, AFullQueueRefusesAndKeepsWhatItHas) {
  ConnRelay relay(1);
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  std::size_t sent = 0;
  while (sent < 100000 && relay.Send(0, pair[0], sent)) ++sent;
  EXPECT_LT(sent, 100000u) << "never full";
  EXPECT_GT(sent, 0u);
  std::size_t received = 0;
  while (const auto got = relay.Receive(0)) {
    EXPECT_EQ(got->left, received) << "in order";
    ::close(got->fd);
    ++received;
  }
  EXPECT_EQ(received, sent);
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace
}  // namespace forge::frontend
