// tests/support/http_frame.h — the one HTTP/1.1 response framer of the
// test clients (Get/RawRequest, RunLoad, the chaos load, RawConn).
//
// Contract
//   * Frames one response at the start of a buffer: the status line, the
//     header fields (names lower-cased, values trimmed) and a body of
//     Content-Length bytes (the server never chunks). The answer to a HEAD
//     request has no body whatever its Content-Length says.
//   * kMalformed: not an HTTP/1.x status line, a header line without ':',
//     a Content-Length that is not a number, or no end of the head within
//     kMaxResponseHead bytes. kIncomplete: more bytes are needed.
//   * Pure function; no state.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace forge::testing {

inline constexpr std::size_t kMaxResponseHead = 65536;

struct ResponseHead {
  int status = 0;
  std::size_t head_size = 0;  // up to and including the blank line
  std::size_t body_size = 0;  // Content-Length (0 for an answer to HEAD)
  bool close = false;         // `Connection: close`
  std::map<std::string, std::string> headers;  // names in lower case
};

enum class Framing { kIncomplete, kComplete, kMalformed };

Framing FrameResponse(std::string_view buf, ResponseHead* head,
                      bool to_head = false);

}  // namespace forge::testing
