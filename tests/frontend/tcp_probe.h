// tests/frontend/tcp_probe.h — what the kernel says about a loopback TCP
// socket, for tests that must wait on the accept queue or a reset.
//
// Contract
//   * Linux only (TCP_INFO). Header-only; no state.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace forge::frontend::testing {

// The number of connections waiting in a listening socket's accept queue
// (for a listener, TCP_INFO's tcpi_unacked is its accept backlog).
inline unsigned AcceptQueueLength(int listen_fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    return 0;
  }
  return info.tcpi_unacked;
}

// The same for the sockets listening on 127.0.0.1:`port` (one, or one per
// CPU: WORKER_CPU_AFFINITY), whichever process holds them, summed, from
// /proc/net/tcp (whose rx_queue column is a listener's accept queue). 0
// when there is no such listener.
inline unsigned ListenQueueLength(int port) {
  char local[32];
  std::snprintf(local, sizeof(local), "0100007F:%04X", port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the column names
  unsigned queued = 0;     // summed: one listening socket per CPU, or one
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, address, remote, state, queues;
    fields >> slot >> address >> remote >> state >> queues;
    if (address == local && state == "0A") {  // 0A: TCP_LISTEN
      queued += static_cast<unsigned>(
          std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16));
    }
  }
  return queued;
}

}  // namespace forge::frontend::testing
