// tests/support/chaos_client.h — a keep-alive HTTP load that survives faults.
//
// Contract
//   * Loopback only (127.0.0.1). One thread per connection, each with at
//     most one request in flight, sending the next request as soon as the
//     previous answer is complete, until `stop` is set (in-flight requests
//     then finish) or, with `is_final`, until every connection got an
//     answer it calls final. Unlike RunLoad (http_client.h) a failed
//     connection is always reopened, so a load outlives killed workers.
//   * Every outcome is counted: full responses by status with their
//     latency (send of the first byte to the last byte of the answer),
//     requests lost in flight (reset, or closed before a full answer) with
//     the client port of the connection that lost them, requests
//     unanswered for `hang_after` (hangs), connects that failed.
//   * Latency is measured only for requests that got a full answer: a
//     request lost with its connection has no latency.
//   * ChaosProgress is updated live (relaxed counters) so a test can act
//     mid-run; the ChaosLoadResult is complete when RunChaosLoad returns.
//   * RunChaosLoad blocks its caller; run it on its own thread and set
//     `stop` from another. Every blocking call has a timeout of at most
//     `hang_after`, so it returns within about that long after `stop`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace forge::testing {

// Live counters, for tests that wait for a condition mid-run.
struct ChaosProgress {
  std::atomic<std::size_t> responses{0};    // full answers of any status
  std::atomic<std::size_t> ok{0};           // 200 answers
  std::atomic<std::size_t> unavailable{0};  // 503 answers
  std::atomic<std::size_t> keys{0};         // lines in 200 bodies
  std::atomic<std::size_t> lost{0};         // requests lost in flight
};

struct ChaosLoadOptions {
  int port = 0;
  std::size_t connections = 64;
  // Target (path and query) of request `n` (0-based) on connection `conn`.
  std::function<std::string(std::size_t conn, std::size_t n)> target =
      [](std::size_t, std::size_t) { return std::string("/get-key"); };
  const std::atomic<bool>* stop = nullptr;  // required unless is_final
  // A request whose answer has not progressed for this long is a hang: it
  // is counted and its connection closed (and reopened).
  std::chrono::milliseconds hang_after{10000};
  ChaosProgress* progress = nullptr;  // optional
  // A connection that gets an answer for which this is true sends no more
  // (a client that takes it as final). RunChaosLoad returns once every
  // connection stopped this way, or `stop` is set. Called concurrently.
  std::function<bool(int status, std::string_view body)> is_final;
  // Record every full answer in ChaosLoadResult::answers.
  bool timeline = false;
};

// One full answer, when `timeline` is on.
struct AnsweredRequest {
  std::chrono::steady_clock::time_point sent;      // first byte sent
  std::chrono::steady_clock::time_point answered;  // last byte received
  std::size_t connection = 0;
  int status = 0;
  std::size_t keys = 0;  // lines in a 200 body
  bool final = false;    // is_final said so
};

// A request that was sent (or being sent) when its connection failed.
struct LostRequest {
  std::uint16_t client_port = 0;  // local port of the failed connection
  bool reset = false;             // ECONNRESET / EPIPE rather than EOF
  std::string why;
  std::chrono::steady_clock::time_point when;  // the failure was seen
};

struct ChaosLoadResult {
  std::size_t sent = 0;
  std::size_t completed = 0;  // full responses of any status
  std::map<int, std::size_t> statuses;
  std::map<int, std::chrono::microseconds> max_latency;  // by status
  std::vector<std::string> keys;        // every line of every 200 body
  std::vector<std::string> bodies_503;  // distinct 503 bodies
  std::vector<LostRequest> lost;
  std::vector<AnsweredRequest> answers;  // only with `timeline`
  std::size_t hangs = 0;
  std::size_t connects = 0;  // successful connects
  std::size_t connect_failures = 0;
  std::size_t server_closes = 0;  // answers with `Connection: close`
  std::size_t malformed = 0;
  double seconds = 0;
  std::vector<std::string> errors;  // the first few failures

  std::size_t Status(int code) const;
  std::size_t Resets() const;  // lost requests that were resets
  // Largest latency over every status.
  std::chrono::microseconds MaxLatency() const;
  std::string Summary() const;  // one line, for assertion messages
};

ChaosLoadResult RunChaosLoad(const ChaosLoadOptions& options);

}  // namespace forge::testing
