// tests/support/http_client.h — HTTP/1.1 clients for process-level tests.
//
// Contract
//   * Loopback only (127.0.0.1). Every call is bounded by a deadline; none
//     blocks forever.
//   * Get/RawRequest: one request on a fresh connection, blocking, for
//     checking single answers (status, headers, body) and for sending
//     malformed or unusual requests byte for byte.
//   * RunLoad: an epoll client driving N keep-alive connections until M
//     requests were answered. Each connection has at most one request in
//     flight; the next request goes to whichever connection is free, so a
//     connection the server never serves makes the run time out (starvation
//     is visible, unlike with wrk). It counts every outcome: statuses,
//     responses per connection, requests lost in flight (reset, or closed
//     before a full answer), connect failures, `Connection: close` answers.
//   * Not thread-safe per call; independent calls may run on different
//     threads (e.g. a load in the background while the test kills a worker).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace forge::testing {

struct HttpResponse {
  int status = 0;  // 0 when no complete response arrived (see error)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string error;  // why the exchange failed; empty on success
  // Value of a header (name in any case), "" when absent.
  std::string Header(const std::string& name) const;
};

// Sends `request` as is and reads one response.
HttpResponse RawRequest(
    int port, const std::string& request,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

// GET `target` (path and query) with `Connection: close`.
HttpResponse Get(
    int port, const std::string& target,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

struct LoadOptions {
  int port = 0;
  std::size_t connections = 1;
  std::size_t requests = 1;  // total over all connections
  // Target of the i-th request (0-based, in order of sending).
  std::function<std::string(std::size_t i)> target = [](std::size_t) {
    return std::string("/get-key");
  };
  std::chrono::milliseconds deadline{60000};  // for the whole run
  // After the server closes a connection (or it fails), open a new one
  // while requests remain. Off: the connection is retired.
  bool reconnect = true;
  // Live count of answered requests, for tests that act mid-run.
  std::atomic<std::size_t>* progress = nullptr;
  // When set to true, no further request is sent; in-flight ones finish.
  const std::atomic<bool>* stop = nullptr;

  // `requests` GET /get-key over `connections` to `port`.
  static LoadOptions On(int port, std::size_t connections, std::size_t requests,
                        std::chrono::milliseconds deadline);
};

struct LoadResult {
  std::size_t sent = 0;
  std::size_t completed = 0;  // full responses of any status
  std::map<int, std::size_t> statuses;
  std::vector<std::string> bodies_200;      // in completion order
  std::vector<std::size_t> per_connection;  // full responses per slot
  std::size_t lost_in_flight = 0;  // reset or closed before a full answer
  std::size_t resets = 0;          // of those, by ECONNRESET/EPIPE
  std::size_t connect_failures = 0;
  // Of those, connections reset right after the handshake (the server
  // closed its listener with them still queued).
  std::size_t connect_resets = 0;
  std::size_t server_closes = 0;  // responses with `Connection: close`
  std::size_t malformed = 0;
  bool timed_out = false;  // the deadline passed with work outstanding
  double seconds = 0;
  std::vector<std::string> errors;  // the first few failures, for messages

  // Responses with this status.
  std::size_t Status(int code) const;
  // Slots (connections) that never received a full response.
  std::size_t Starved() const;
  std::string Summary() const;  // one line, for assertion messages
};

LoadResult RunLoad(const LoadOptions& options);

}  // namespace forge::testing
