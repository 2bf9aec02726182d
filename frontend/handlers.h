// frontend/handlers.h — the HTTP routes of docs/design.md §8, without sockets.
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
//   * Routes: GET /get-key, GET /get-keys?count=N, GET /check-key?key=KEY,
//     GET /healthz, GET /metrics, GET /status, GET /status.json. Unknown
//     path: 404. Known path, other method:
//     405 with `Allow: GET`. HEAD is answered 405 too: a HEAD of /get-key would
//     claim a key and then drop the body, wasting it (keys are finite).
//   * Unknown query parameters are ignored (cache-busters are common); a
//     repeated `count` is an error.
//   * Authentication (AuthPolicy): with a token set, /get-key and /get-keys
//     (and /healthz, /metrics, /status and /status.json when protect_all)
//     answer 401 with `WWW-Authenticate: Bearer` unless the request carries
//     `Authorization: Bearer <token>`. The token is compared in time that
//     depends only on its own length (TokenMatches), never echoed, never
//     logged. Scoped tokens (AUTH_TOKENS_FILE, issue 13) count as tokens
//     too, but reach only their namespaces: a request naming another one
//     (a key route, or /healthz?ns=) gets 403. The given token is compared
//     with every configured token, with no early exit.
//   * /check-key (issue 14) validates a typed key with the namespace's
//     codec (no store, no key claimed): 200 application/json
//     {"namespace":N,"well_formed":b,"check_ok":b} plus "number":n when
//     check_ok and the number is no secret to this caller (the namespace
//     is sequential, or the request carries a token that reaches it:
//     AUTH_TOKEN or a scoped token listing it, compared like any other).
//     No token is needed to call it (unless AUTH_PROTECT_ALL). A missing
//     or repeated key: 400; while no segment is attached: 503.
//   * Namespaces (issue 13): `ns=NAME` on /get-key, /get-keys, /check-key
//     and /healthz
//     picks the namespace (absent: "default"); it is ignored on /metrics,
//     which reports every served namespace. Empty, repeated or breaking
//     base::kNamespaceRule: 400. A namespace with no segment: 404 naming
//     it, plus the served ones unless a token is configured (AUTH_TOKEN or
//     AUTH_TOKENS_FILE). /healthz without ns checks every served namespace.
//   * /status (issue 17): 200 text/html, the page of frontend/status.h;
//     /status.json: 200 application/json, StatusSource::Json (exactly
//     `forge-ctl stats --json`), or 503 application/json
//     {"error":"<one line>"} with Retry-After while the segment cannot be
//     read (or the Router has no StatusSource). Both send
//     Cache-Control: no-store and ignore ns (the page shows every
//     namespace).
//   * Each request is counted (CountRequest) in the segment of the
//     namespace it reaches; a refused one, /metrics, /status, /status.json
//     and an all-namespace /healthz count in "default".
//   * Order of checks: 404 (route), 405, 400 (ns), 401, 403, 404 (ns),
//     then the route: an unauthenticated client learns nothing about
//     which namespaces exist.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "frontend/consumer.h"
#include "frontend/status.h"

namespace forge::frontend {

inline constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
inline constexpr std::string_view kPrometheusText =
    "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kTextHtml = "text/html; charset=utf-8";
inline constexpr std::string_view kJson = "application/json";

struct HeaderField {
  std::string_view name;
  std::string_view value;  // always a static string
};

// Sent with every 200 of /get-key and /get-keys: how many keys the body
// holds (a batch may hold fewer than asked, see Backend::TakeKeys).
inline constexpr std::string_view kKeyCountHeader = "X-Key-Count";

// What to answer. Headers are static strings and live in a fixed array, so
// building a reply allocates nothing beyond the body (a 7-character key fits
// std::string's small-string buffer).
struct Reply {
  int status = 200;
  std::string_view content_type = kTextPlain;
  std::string body;
  std::array<HeaderField, 3> headers{};
  std::size_t header_count = 0;
  // Keys in the body, sent as X-Key-Count; nullopt for other answers.
  std::optional<std::size_t> key_count;

  void AddHeader(std::string_view name, std::string_view value);
  // A static header's value; nullopt when absent.
  std::optional<std::string_view> Header(std::string_view name) const;

  // Calls f(name, value) for every header of the answer: the static ones,
  // then X-Key-Count when key_count is set (its digits live on the stack
  // for the call only). The one list both response writers send.
  template <typename F>
  void ForEachHeader(F&& f) const {
    for (std::size_t i = 0; i < header_count; ++i) {
      f(headers[i].name, headers[i].value);
    }
    if (key_count) {
      char digits[24];
      const char* end =
          std::to_chars(digits, digits + sizeof(digits), *key_count).ptr;
      f(kKeyCountHeader,
        std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
  }
};

// Query parameters as ParseQuery (request_head.h) splits them.
using QueryParams = std::multimap<std::string, std::string>;

struct RouterLimits {
  std::size_t max_batch = 10000;  // MAX_BATCH
};

struct AuthPolicy {
  std::string token{};       // AUTH_TOKEN; empty = no authentication
  bool protect_all = false;  // AUTH_PROTECT_ALL: /healthz and /metrics too
  std::vector<config::ScopedToken> scoped{};  // from AUTH_TOKENS_FILE
  bool tokens_file = false;  // AUTH_TOKENS_FILE is set (even if empty)
};

class Router {
 public:
  // `status` answers /status.json (nullptr: 503); it must outlive the
  // Router.
  Router(Namespaces& namespaces, RouterLimits limits, AuthPolicy auth = {},
         StatusSource* status = nullptr);
  // The default namespace only, served by `backend`.
  Router(Backend& backend, RouterLimits limits, AuthPolicy auth = {},
         StatusSource* status = nullptr);

  // `authorization`: the value of the request's Authorization header, empty
  // when it has none.
  Reply Handle(std::string_view method, std::string_view path,
               const QueryParams& query,
               std::string_view authorization = {}) const;
  // GET /get-key in namespace `ns` (already a valid name): what Handle
  // answers for it, without a query to parse (the fast path's entry).
  Reply GetKeyIn(std::string_view ns, std::string_view authorization) const;

  // Handle and GetKeyIn for a caller that must not block (the event loop):
  // nullopt, with nothing counted or taken, when a key route would wait
  // for the ring (Backend::MayWait); the caller then asks Handle or
  // GetKeyIn on a thread that may block.
  std::optional<Reply> HandleNow(std::string_view path,
                                 const QueryParams& query,
                                 std::string_view authorization) const;
  std::optional<Reply> GetKeyNow(std::string_view ns,
                                 std::string_view authorization) const;

  bool auth_enabled() const {
    return !auth_.token.empty() || !auth_.scoped.empty();
  }

 private:
  // nullopt when the request may proceed, else the 401 or 403 reply. `ns`:
  // the namespace the request reaches, nullopt when it names none.
  std::optional<Reply> Authenticate(std::string_view path,
                                    std::optional<std::string_view> ns,
                                    std::string_view authorization) const;
  // Handle's body; nullopt only when !may_wait (see HandleNow).
  std::optional<Reply> Dispatch(std::string_view method, std::string_view path,
                                const QueryParams& query,
                                std::string_view authorization,
                                bool may_wait) const;
  // The route after the ns was parsed; `named`: the query gave ns.
  std::optional<Reply> Route(std::string_view path, std::string_view ns,
                             bool named, const QueryParams& query,
                             std::string_view authorization,
                             bool may_wait) const;
  Reply NotServed(std::string_view ns, const NamespaceLookup& found) const;
  Reply GetKey(Backend& backend) const;
  // `count`: ParseCount's reading of the query (an error answers 400).
  Reply GetKeys(Backend& backend, const Result<std::size_t>& count) const;
  Reply CheckKey(Backend& backend, std::string_view ns,
                 const QueryParams& query, bool token_reaches) const;
  // Which configured token `token` is: 0 none, 1 AUTH_TOKEN, i + 2 scoped
  // token i. Compares with every one, in time independent of which.
  std::size_t MatchToken(std::string_view token) const;
  // MatchToken's result may use namespace `ns`.
  bool MatchReaches(std::size_t match, std::string_view ns) const;
  // The request's bearer token (if any) is valid for namespace `ns`.
  bool TokenReaches(std::string_view authorization, std::string_view ns) const;
  Reply Healthz(Backend& backend) const;
  Reply HealthzAll() const;
  Reply Metrics() const;
  // The routes that reach no namespace: /metrics, /healthz without ns,
  // /status, /status.json.
  Reply Overall(std::string_view path) const;
  Reply StatusJson() const;
  Reply Unavailable(Backend& backend) const;
  Backend& Default() const;

  std::unique_ptr<Namespaces> own_;  // set by the one-Backend constructor
  Namespaces& namespaces_;
  RouterLimits limits_;
  AuthPolicy auth_;
  StatusSource* status_;
};

// The `ns` of a query: "default" when absent. On error the Status
// (kInvalidArgument) says in one line what was wrong and the rule.
Result<std::string_view> ParseNamespace(const QueryParams& query);

// Parses the `count` of /get-keys. On error the Status (kInvalidArgument)
// says in one line what was wrong with the value and the allowed range.
Result<std::size_t> ParseCount(const QueryParams& query, std::size_t max_batch);

// One line (newline-terminated) saying why no key can be handed out now:
// segment missing, broker down, store failing, key space exhausted, or
// demand above supply (checked in that order).
std::string UnavailableReason(const Snapshot& s);

// True when /healthz should answer 200: attached, broker alive and the
// ring holds keys.
bool Healthy(const Snapshot& s);

// True when `given` equals `expected`. The time taken depends only on
// expected.size(), not on `given` nor on where the first difference is.
bool TokenMatches(std::string_view given, std::string_view expected);

// The token of an `Authorization: Bearer <token>` header value (scheme in
// any case, one or more spaces); nullopt for another scheme or no token.
std::optional<std::string_view> BearerToken(std::string_view authorization);

// At most `max` characters of `text`, non-printable bytes replaced by '?',
// for echoing request text in error messages.
std::string Sanitize(std::string_view text, std::size_t max = 64);

}  // namespace forge::frontend
