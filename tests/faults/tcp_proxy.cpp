// tests/faults/tcp_proxy.cpp — see tcp_proxy.h for the contract.
#include "tests/faults/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/loopback.h"
namespace forge::faults {
namespace {

constexpr int kPollMs = 10;
constexpr std::size_t kChunk = 64 * 1024;

void NonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// One proxied connection: client <-> server, with what is waiting to be
// written to each side.
struct Pair {
  int client = -1;
  int server = -1;  // -1 while in the blackhole: never connected
  std::string to_client;
  std::string to_server;
  std::uint64_t generation = 0;
  bool dead = false;

  void Close() {
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
    client = server = -1;
  }
};

// Reads what `from` has into `out`; false on EOF or error.
bool ReadInto(int from, std::string* out) {
  char buf[kChunk];
  const ssize_t n = ::read(from, buf, sizeof buf);
  if (n > 0) {
    out->append(buf, static_cast<std::size_t>(n));
    return true;
  }
  return n < 0 && (errno == EAGAIN || errno == EINTR);
}

// Writes as much of `pending` to `to` as it takes; false on error.
bool WriteFrom(int to, std::string* pending) {
  if (pending->empty()) return true;
  const ssize_t n = ::write(to, pending->data(), pending->size());
  if (n >= 0) {
    pending->erase(0, static_cast<std::size_t>(n));
    return true;
  }
  return errno == EAGAIN || errno == EINTR;
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = testing::LoopbackAddress(0);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
          0) {
    throw std::runtime_error("TcpProxy: cannot listen on loopback");
  }
  NonBlocking(listen_fd_);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Loop(); });
}

TcpProxy::~TcpProxy() {
  // relaxed: the join below orders everything after it.
  done_.store(true, std::memory_order_relaxed);
  thread_.join();
  ::close(listen_fd_);
}

void TcpProxy::SetBlackhole(bool on) {
  // relaxed (both): flags polled by the proxy thread every few ms; no data
  // is published through them.
  if (!on) generation_.fetch_add(1, std::memory_order_relaxed);
  blackhole_.store(on, std::memory_order_relaxed);
}

void TcpProxy::Loop() {
  std::vector<Pair> pairs;
  // relaxed (every load below): see SetBlackhole.
  while (!done_.load(std::memory_order_relaxed)) {
    const bool hole = blackhole_.load(std::memory_order_relaxed);
    const std::uint64_t generation =
        generation_.load(std::memory_order_relaxed);
    for (Pair& p : pairs) {
      if (p.generation != generation) p.dead = true;  // lived through a hole
    }
    std::erase_if(pairs, [](Pair& p) {
      if (p.dead) p.Close();
      return p.dead;
    });
    for (int fd; (fd = ::accept4(listen_fd_, nullptr, nullptr,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
      Pair p;
      p.client = fd;
      p.generation = generation;
      if (!hole) {
        p.server = testing::ConnectLoopback(target_port_);
        if (p.server < 0) {
          p.Close();
          continue;
        }
        NonBlocking(p.server);
      }
      pairs.push_back(std::move(p));
    }
    std::vector<pollfd> fds;
    for (const Pair& p : pairs) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({hole ? -1 : p.server, POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), kPollMs);
    // Looked at again: bytes that arrived after SetBlackhole(true) while
    // this thread was in poll() must fall into the hole too.
    // relaxed: see SetBlackhole.
    const bool hole_now = blackhole_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      Pair& p = pairs[i];
      if (hole_now) {
        std::string dropped;
        if (fds[2 * i].revents != 0) p.dead = !ReadInto(p.client, &dropped);
        // relaxed: see swallowed().
        swallowed_.fetch_add(dropped.size(), std::memory_order_relaxed);
        continue;
      }
      if (fds[2 * i].revents != 0 && !ReadInto(p.client, &p.to_server)) {
        p.dead = true;
      }
      if (fds[2 * i + 1].revents != 0 && !ReadInto(p.server, &p.to_client)) {
        p.dead = true;
      }
      if (p.server < 0 || !WriteFrom(p.server, &p.to_server) ||
          !WriteFrom(p.client, &p.to_client)) {
        p.dead = true;
      }
    }
  }
  for (Pair& p : pairs) p.Close();
}

}  // namespace forge::faults
