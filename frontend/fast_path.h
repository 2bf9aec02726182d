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
//     one qualifies when it is exactly `GET /get-key HTTP/1.1` or
//     `GET /get-key?ns=NAME HTTP/1.1` (origin form, NAME a valid namespace
//     name as sent, so nothing to decode; any other query is not mine)
//     without request body framing (Content-Length other than 0,
//     Transfer-Encoding) and without Expect. FastRequestFrom says "this is a
//     plain GET /get-key I can answer" or "not mine" (nullopt); not mine
//     goes to cpp-httplib with the same, already validated bytes, so every
//     other route and edge case stays httplib's and the Router's.
//     ParseFastRequest(input) is ParseHead + FastRequestFrom; malformed or
//     incomplete input is not mine. Neither consumes input.
//   * FormatHead writes a response head for a Reply with the framing the
//     connection needs (keep-alive or close); it allocates nothing.
//   * Pure functions: thread-safe, no I/O.
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

struct FastRequest {
  std::string_view ns;             // the namespace ("default" when none)
  std::string_view authorization;  // Authorization value, "" when absent
  bool close = false;              // the client asked for Connection: close
  std::size_t size = 0;            // bytes of the head; no body follows
};

std::optional<FastRequest> FastRequestFrom(const RequestHead& head);
std::optional<FastRequest> ParseFastRequest(std::string_view input);

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
