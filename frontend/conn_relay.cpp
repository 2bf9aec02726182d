#include "frontend/conn_relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace forge::frontend {
namespace {

// One datagram: the requests left as data, one fd as SCM_RIGHTS. Not
// movable: msg points into the object.
struct Message {
  std::size_t left = 0;
  iovec data{&left, sizeof(left)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};

  Message() {
    msg.msg_iov = &data;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
};

}  // namespace

ConnRelay::ConnRelay(std::size_t slots) {
  for (std::size_t i = 0; i < slots; ++i) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                     pair) != 0) {
      const int err = errno;
      CloseAll();
      throw std::system_error(err, std::generic_category(),
                              "socketpair for passing connections");
    }
    ends_.push_back({pair[0], pair[1]});
  }
}

ConnRelay::~ConnRelay() { CloseAll(); }

void ConnRelay::CloseAll() {
  for (const Ends& e : ends_) {
    ::close(e.receive);
    ::close(e.send);
  }
  ends_.clear();
}

bool ConnRelay::Send(std::size_t to, int fd, std::size_t left) const {
  if (to >= ends_.size()) return false;
  Message m;
  m.left = left;
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(fd));
  for (;;) {
    if (::sendmsg(ends_[to].send, &m.msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
      return true;
    }
    if (errno != EINTR) return false;
  }
}

std::optional<ConnRelay::Passed> ConnRelay::Receive(std::size_t slot) const {
  for (;;) {
    Message m;
    const ssize_t n =
        ::recvmsg(ends_[slot].receive, &m.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;  // EAGAIN: nothing waits
    const cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    if (c == nullptr || c->cmsg_level != SOL_SOCKET ||
        c->cmsg_type != SCM_RIGHTS) {
      continue;  // only our workers hold these sockets; cannot happen
    }
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    if (n != sizeof(m.left)) {
      ::close(fd);
      continue;
    }
    return Passed{fd, m.left};
  }
}

}  // namespace forge::frontend
