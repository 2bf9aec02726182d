// frontend/handlers.h — the HTTP routes of DESIGN.md §8, without sockets.
//
// Contract
//   * Router::Handle is a function of (method, path, query parameters) and
//     the Backend: it never touches a socket, so every route, status and
//     error message is unit-testable (tests/frontend/handlers_test.cpp).
//   * Thread-safe: Router holds only immutable limits and a Backend
//     reference; Handle may run on any number of threads at once.
//   * Every non-2xx answer has a one-line text/plain body saying what was
//     wrong and what is allowed. Request text echoed back is sanitised and
//     truncated.
//   * Routes: GET /get-key, GET /get-keys?count=N, GET /healthz,
//     GET /metrics. Unknown path: 404. Known path, other method: 405 with
//     `Allow: GET`. HEAD is answered 405 too: a HEAD of /get-key would claim
//     a key and then drop the body, wasting it (keys are finite).
//   * Unknown query parameters are ignored (cache-busters are common); a
//     repeated `count` is an error.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "frontend/backend.h"

namespace forge::frontend {

inline constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
inline constexpr std::string_view kPrometheusText =
    "text/plain; version=0.0.4; charset=utf-8";

struct HeaderField {
  std::string_view name;
  std::string_view value;  // always a static string
};

// What to answer. Headers are static strings and live in a fixed array, so
// building a reply allocates nothing beyond the body (a 7-character key fits
// std::string's small-string buffer).
struct Reply {
  int status = 200;
  std::string_view content_type = kTextPlain;
  std::string body;
  std::array<HeaderField, 3> headers{};
  std::size_t header_count = 0;

  void AddHeader(std::string_view name, std::string_view value);
  // nullopt when absent.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Query parameters as cpp-httplib decodes them (httplib::Params).
using QueryParams = std::multimap<std::string, std::string>;

struct RouterLimits {
  std::size_t max_batch = 10000;  // MAX_BATCH
};

class Router {
 public:
  Router(Backend& backend, RouterLimits limits);

  Reply Handle(std::string_view method, std::string_view path,
               const QueryParams& query) const;

 private:
  Reply GetKey() const;
  Reply GetKeys(const QueryParams& query) const;
  Reply Healthz() const;
  Reply Metrics() const;
  Reply Unavailable() const;

  Backend& backend_;
  RouterLimits limits_;
};

// Parses the `count` of /get-keys. On error returns nullopt and sets
// *error to a one-line reason naming the value and the allowed range.
std::optional<std::size_t> ParseCount(const QueryParams& query,
                                      std::size_t max_batch,
                                      std::string* error);

// One line (newline-terminated) saying why no key can be handed out now:
// segment missing, broker down, store failing, key space exhausted, or
// demand above supply (checked in that order).
std::string UnavailableReason(const Snapshot& s);

// True when /healthz should answer 200: attached, broker alive and the
// ring holds keys.
bool Healthy(const Snapshot& s);

// At most `max` characters of `text`, non-printable bytes replaced by '?',
// for echoing request text in error messages.
std::string Sanitize(std::string_view text, std::size_t max = 64);

}  // namespace forge::frontend
