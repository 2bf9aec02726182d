// frontend/fast_path.h — a minimal HTTP/1.1 reader and writer for GET /get-key.
//
// Why: profiled under wrk, a worker spent about half of its user time in
// cpp-httplib's request machinery (a case-insensitive std::multimap of
// headers compared with tolower, a std::string per header and parameter,
// vfprintf for the response head) for a request whose answer is seven
// bytes: through it a worker needed 1.7-2x the CPU per request (measured
// before/after with bench/http.sh BASELINE_FRONTEND=...). The hot route gets a
// parser that allocates nothing; everything else still goes to cpp-httplib,
// unchanged.
//
// Contract
//   * Every head is read by ParseHead (request_head.h) first; a well-formed
//     one qualifies ("hot") when it is `GET <path>[?query] HTTP/1.1` in
//     origin form with <path> exactly one of the hot routes (/get-key,
//     /get-keys, /healthz, /metrics), without request body framing
//     (Content-Length other than 0, Transfer-Encoding) and without Expect.
//     FastRequestFrom says "hot" or "not mine" (nullopt); not mine goes to
//     cpp-httplib with the same, already validated bytes, so every other
//     route and edge case stays httplib's and the Router's.
//     `GET /get-key` and `GET /get-key?ns=NAME` (NAME a valid namespace name
//     as sent) are marked kGetKey and skip the query parser.
//     ParseFastRequest(input) is ParseHead + FastRequestFrom; malformed or
//     incomplete input is not mine. Neither consumes input.
//   * AnswerFast asks the Router exactly what httplib's routing would ask it
//     (same path, ParseQuery's split, same Authorization) and turns an
//     exception into the 500 httplib would send; the event loop asks it not
//     to wait for keys, and hands a request that would to a thread.
//   * FormatHead writes a response head for a Reply with the framing the
//     connection needs (keep-alive or close); it allocates nothing.
//   * Pure functions (AnswerFast: as thread-safe as Router::Handle).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "frontend/handlers.h"
#include "frontend/request_head.h"

namespace forge::frontend {

inline constexpr std::string_view kFastTarget = "/get-key";

inline constexpr std::string_view kFastNamespaceTarget = "/get-key?ns=";

inline constexpr std::string_view kInternalError =
    "internal error; see the frontend log\n";

struct FastRequest {
  enum class Route {
    kGetKey,  // plain GET /get-key in namespace `ns`
    kRouted,  // another hot request: `path` and `query` go to the Router
  };
  Route route = Route::kGetKey;
  std::string_view ns;     // kGetKey: the namespace ("default" when none)
  std::string_view path;   // the path as sent (a hot route)
  std::string_view query;  // after '?', "" when none
  std::string_view authorization;  // Authorization value, "" when absent
  bool close = false;              // the client asked for Connection: close
  std::size_t size = 0;            // bytes of the head; no body follows
};

std::optional<FastRequest> FastRequestFrom(const RequestHead& head);
std::optional<FastRequest> ParseFastRequest(std::string_view input);

// The Router's reply to a hot request. With `may_wait` false (the event
// loop) nullopt instead of waiting for the ring (Router::HandleNow);
// always a Reply otherwise.
std::optional<Reply> AnswerFast(const Router& router, const FastRequest& req,
                                bool may_wait);

struct Framing {
  bool close = false;           // send Connection: close
  std::string_view keep_alive;  // Keep-Alive value, e.g. "timeout=5, max=1000"
};

// Writes status line, the Reply's headers, Content-Type, Content-Length and
// the framing header, then the empty line, into `out`. Returns the size, or
// 0 when `out` is too small (512 bytes always suffice for Router replies:
// their headers are a few static strings and X-Key-Count).
std::size_t FormatHead(const Reply& reply, const Framing& framing,
                       std::span<char> out);

}  // namespace forge::frontend
