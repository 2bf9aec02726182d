#include "frontend/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "base/log.h"

namespace forge::frontend {
namespace {

std::string Where(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

void WarnIfCapped(int backlog) {
  std::ifstream in("/proc/sys/net/core/somaxconn");
  int cap = 0;
  if (in >> cap && cap < backlog) {
    log::Warn("LISTEN_BACKLOG=" + std::to_string(backlog) +
              " is capped by the kernel at net.core.somaxconn=" +
              std::to_string(cap) +
              "; raise it with sysctl for a deeper "
              "accept queue");
  }
}

// Binds one resolved address; returns the fd or -1 with errno set.
// `reuseport`: the socket joins the port's SO_REUSEPORT group.
int TryBind(const addrinfo& ai, int backlog, bool reuseport) {
  const int fd =
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return -1;
  const int on = 1;
  const int off = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (reuseport) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
  // "::" serves IPv4 clients too.
  if (ai.ai_family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  if (::bind(fd, ai.ai_addr, ai.ai_addrlen) != 0 ||
      ::listen(fd, backlog) != 0 ||
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

void Describe(int fd, Listener* out) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return;
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    out->port = ntohs(a->sin_port);
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    out->port = ntohs(a->sin6_port);
  }
  out->address = text;
}

std::string ErrorName(int err) {
  const char* name = ::strerrorname_np(err);
  return name != nullptr ? name : "errno " + std::to_string(err);
}

std::string WhatToDo(int err) {
  switch (err) {
    case EMFILE:
      return "this worker's open-files limit (ulimit -n, LimitNOFILE) is "
             "reached";
    case ENFILE:
      return "the system-wide open-files limit (fs.file-max) is reached";
    case ENOBUFS:
    case ENOMEM:
      return "the kernel is short of memory for sockets";
    default:
      return "unexpected error";
  }
}

}  // namespace

bool RefuseNewConnections(int fd) {
  // Classic BPF on a TCP socket sees the TCP header at offset 0; byte 13
  // holds the flags. A packet with SYN and without ACK opens a connection:
  // drop it (return 0). Everything else — the handshake's last ACK, data,
  // FIN, RST — is kept whole (return the largest length).
  constexpr std::uint32_t kSyn = 0x02;
  constexpr std::uint32_t kAck = 0x10;
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, kSyn | kAck),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kSyn, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffffU),
  };
  const sock_fprog program{static_cast<unsigned short>(std::size(code)), code};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program,
                      sizeof(program)) == 0;
}

AcceptFailure ClassifyAcceptError(int err) {
  switch (err) {
    // Nothing to accept, or a signal: try again.
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    // One queued connection failed (aborted, or a network error pending on
    // it); the next one may be fine.
    case ECONNABORTED:
    case ECONNRESET:
    case EPROTO:
    case EPERM:  // a firewall rule refused it
    case ETIMEDOUT:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case ENOPROTOOPT:
      return AcceptFailure::kRetry;
    // The listening fd is not a listening socket (a bug, not a condition
    // that waiting can fix).
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case EFAULT:
      return AcceptFailure::kFatal;
    // EMFILE, ENFILE, ENOBUFS, ENOMEM, and anything not listed: pause, so
    // that a condition that lasts does not make the loop spin.
    default:
      return AcceptFailure::kBackOff;
  }
}

AcceptBackoff::Step AcceptBackoff::Failed(int err, Clock::time_point now) {
  if (ClassifyAcceptError(err) != AcceptFailure::kBackOff) return {};
  pause_ = std::clamp(pause_ * 2, kFirstPause, kMaxPause);
  Step step{pause_, std::nullopt};
  if (last_log_ && now - *last_log_ < kLogEvery) {
    ++unlogged_;
    return step;
  }
  std::string line = "accept() failed: " + std::string(std::strerror(err)) +
                     " (" + ErrorName(err) + "): " + WhatToDo(err) +
                     "; accepting again in " + std::to_string(pause_.count()) +
                     " ms (the other workers take new connections meanwhile)";
  if (unlogged_ > 0) {
    line += "; " + std::to_string(unlogged_) +
            " more failures since the last report";
  }
  step.log = std::move(line);
  last_log_ = now;
  unlogged_ = 0;
  return step;
}

namespace {

Listener Bind(const std::string& host, int port, int backlog, bool reuseport) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                               service.c_str(), &hints, &found);
  if (rc != 0) {
    throw ListenError("cannot listen on " + Where(host, port) +
                      ": HOST does not resolve (" + ::gai_strerror(rc) +
                      "); use an address such as 0.0.0.0 or 127.0.0.1");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found,
                                                            &::freeaddrinfo);
  int error = 0;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = TryBind(*ai, backlog, reuseport);
    if (fd >= 0) {
      if (!reuseport) WarnIfCapped(backlog);
      Listener l;
      l.fd = fd;
      Describe(fd, &l);
      return l;
    }
    error = errno;
  }
  std::string hint;
  if (error == EADDRINUSE) {
    hint =
        " (another process listens there: stop it or choose another "
        "PORT / --port)";
  } else if (error == EACCES) {
    hint = " (ports below 1024 need privileges: choose PORT >= 1024)";
  } else if (error == EADDRNOTAVAIL) {
    hint = " (HOST is not an address of this machine)";
  }
  throw ListenError("cannot listen on " + Where(host, port) + ": " +
                    std::strerror(error) + hint);
}

}  // namespace

Listener BindListener(const std::string& host, int port, int backlog) {
  return Bind(host, port, backlog, false);
}

std::vector<Listener> BindListeners(const std::string& host, int port,
                                    int backlog, std::size_t count) {
  // Bound alone first: a port that anyone holds (a SO_REUSEPORT group of
  // another frontend included) fails here with the usual message, and
  // port 0 becomes a real one.
  Listener probe = BindListener(host, port, backlog);
  if (count <= 1) return {probe};
  ::close(probe.fd);
  std::vector<Listener> group;
  try {
    for (std::size_t i = 0; i < count; ++i) {
      group.push_back(Bind(host, probe.port, backlog, true));
    }
  } catch (const ListenError&) {
    for (const Listener& l : group) ::close(l.fd);
    throw;
  }
  return group;
}

}  // namespace forge::frontend
