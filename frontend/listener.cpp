#include "frontend/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "config/log.h"

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
int TryBind(const addrinfo& ai, int backlog) {
  const int fd =
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return -1;
  const int on = 1;
  const int off = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
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

}  // namespace

Listener BindListener(const std::string& host, int port, int backlog) {
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
    const int fd = TryBind(*ai, backlog);
    if (fd >= 0) {
      WarnIfCapped(backlog);
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

}  // namespace forge::frontend
