// frontend/request_head.h — strict reading of one HTTP/1.x request head
// (RFC 9112) before anything acts on it, and of its request target.
//
// Why: cpp-httplib 0.11.4 reads heads leniently (it skips lines without
// CRLF, keeps `Name :` as a header named "Name ", lets the first of two
// Content-Lengths win, takes a request line from whatever follows a header
// it refused) and keeps the connection open after its own 400s. Then bytes
// of one request run as the next one (request smuggling behind a proxy).
// Every request head is therefore checked here first; what fails is
// answered once and the connection closed (server.h), so what reaches
// cpp-httplib or the fast path is a head both read the same way.
//
// Contract
//   * ParseHead(input, ...) reads the request at the start of `input`:
//     kComplete: a well-formed head; *head points into `input` and
//       head->size is its length (up to and including the empty line).
//     kIncomplete: no fault so far, more bytes are needed.
//     kBad: *error says the status (400, 414, 431, 501, 505), what is wrong
//       and what is allowed; the connection cannot go on.
//     A fault is reported as soon as the line holding it is complete (or
//     a limit is passed), not only once the head is.
//   * Rules: request line `METHOD SP target SP HTTP/1.1` (or HTTP/1.0),
//     single spaces; method one of GET HEAD POST PUT DELETE OPTIONS TRACE
//     PATCH (case-sensitive, else 501); target in origin form (`/path?q`)
//     or absolute form (`http://host/path?q`), visible ASCII without `#`,
//     at most one `?`; every line ends in CRLF (no bare LF or CR, no empty
//     line before the request line); header lines `Name: value` with a
//     token name, no whitespace before the colon, no obs-fold, no control
//     characters (HTAB allowed) in the value; exactly one Host in HTTP/1.1
//     (at most one in 1.0); at most one Content-Length (digits only), one
//     Transfer-Encoding (ending in `chunked`, never with Content-Length,
//     never in HTTP/1.0) and one Authorization. Limits: request line and
//     each header line at most 8 KiB with CRLF (else 414 / 431), the head
//     at most kMaxHeadBytes (431).
//   * Allocates nothing; pure and thread-safe. DescribeHeadError,
//     PercentDecode and ParseQuery allocate (error and httplib paths only).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "frontend/handlers.h"

namespace forge::frontend {

inline constexpr std::size_t kMaxHeadBytes = 64 * 1024;
inline constexpr std::size_t kMaxRequestLineBytes = 8192;  // with CRLF
inline constexpr std::size_t kMaxHeaderLineBytes = 8192;   // with CRLF

struct RequestHead {
  std::string_view method;
  std::string_view target;         // as sent (origin or absolute form)
  std::string_view authorization;  // value, "" when absent
  bool http10 = false;             // HTTP/1.0 (else HTTP/1.1)
  bool close = false;     // the client asked to close (1.1: Connection: close;
                          // 1.0: no Connection: keep-alive)
  bool has_body = false;  // Content-Length > 0 or Transfer-Encoding
  bool expect = false;    // an Expect header is present
  std::size_t size = 0;   // bytes of the head, through its empty line
};

struct HeadError {
  int status = 400;
  std::string_view what;   // static text: the fault and what is allowed
  std::string_view where;  // the offending text inside the input, or ""
  std::size_t line = 0;    // 1-based line of the head holding the fault
};

enum class HeadResult { kIncomplete, kComplete, kBad };

[[nodiscard]] HeadResult ParseHead(std::string_view input, RequestHead* head,
                                   HeadError* error);

// One line for people, newline-terminated: status meaning, where, what.
std::string DescribeHeadError(const HeadError& error);

struct TargetParts {
  std::string_view path;   // starts with '/'
  std::string_view query;  // after '?', "" when none
};

// Path and query of an origin-form or absolute-form target (absolute form
// drops scheme and authority, RFC 9112 §3.2.2); nullopt for other forms.
std::optional<TargetParts> SplitTarget(std::string_view target);

// %XX sequences decoded; anything else (a stray '%' too) kept as is.
std::string PercentDecode(std::string_view text);

// Query parameters split at '&' and ';', each at its first '=' (a name
// without '=' gets an empty value). Names are kept as sent (`%63ount` is
// not `count`), values are percent-decoded. Nothing is merged:
// `count=1&count=1` holds count twice.
QueryParams ParseQuery(std::string_view query);

// True when `a` equals `lower` (all lower case) ignoring ASCII case: header
// names, tokens and auth schemes compare this way (RFC 9110 §5.1, §11.1).
bool EqualsNoCase(std::string_view a, std::string_view lower);

}  // namespace forge::frontend
