// tests/support/loopback.h — the loopback TCP basics every test client
// shares: a free port, the address of 127.0.0.1:port, a connect.
//
// Contract
//   * IPv4 loopback only. Sockets are opened with SOCK_CLOEXEC; the caller
//     owns (and closes) every descriptor returned.
//   * FreePort throws std::runtime_error when no port can be bound.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <string>

namespace forge::testing {

// A loopback TCP port that was free a moment ago.
int FreePort();

// 127.0.0.1:`port`.
sockaddr_in LoopbackAddress(int port);

// A TCP socket (plus `socket_flags`, e.g. SOCK_NONBLOCK) connecting to
// 127.0.0.1:`port`: connected, or with the connect in progress when
// non-blocking. A non-zero `io_timeout` bounds connect, send and recv
// (SO_SNDTIMEO / SO_RCVTIMEO). -1 when socket() or connect() failed
// (errno says why).
int ConnectLoopback(int port, std::chrono::milliseconds io_timeout = {},
                    int socket_flags = 0);

// "connect: Connection refused": a failed socket call and its errno, as
// the load clients report it.
std::string ErrnoText(const char* what, int err);

}  // namespace forge::testing
