#include "frontend/handlers.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <utility>

#include "base/names.h"
#include "frontend/metrics.h"
#include "frontend/request_head.h"
#include "stats/text.h"

namespace forge::frontend {
namespace {

constexpr std::string_view kGetKey = "/get-key";
constexpr std::string_view kGetKeys = "/get-keys";
constexpr std::string_view kHealthz = "/healthz";
constexpr std::string_view kMetrics = "/metrics";
constexpr std::string_view kCheckKey = "/check-key";
constexpr std::string_view kStatus = "/status";
constexpr std::string_view kStatusJson = "/status.json";

// RFC 6750 §3 challenges: without credentials, and with a wrong token.
constexpr std::string_view kChallenge = "Bearer realm=\"mini-forge\"";
constexpr std::string_view kChallengeInvalid =
    "Bearer realm=\"mini-forge\", error=\"invalid_token\"";

Reply Text(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool IsRoute(std::string_view path) {
  return path == kGetKey || path == kGetKeys || path == kHealthz ||
         path == kMetrics || path == kCheckKey || path == kStatus ||
         path == kStatusJson;
}

// Routes that take no ns: they cover every namespace.
bool TakesNoNamespace(std::string_view path) {
  return path == kMetrics || path == kStatus || path == kStatusJson;
}

// Room for the keys of a request, reused per thread so a /get-keys request
// does not allocate its key array (KeyBuffer).
KeyBuffer& Scratch() {
  thread_local KeyBuffer keys;
  return keys;
}

const char* JsonBool(bool b) { return b ? "true" : "false"; }

std::string Range(std::size_t max_batch) {
  return "1.." + std::to_string(max_batch);
}

bool IsKeyRoute(std::string_view path) {
  return path == kGetKey || path == kGetKeys;
}

Reply Unauthorized(std::string body, std::string_view challenge) {
  Reply r = Text(401, std::move(body));
  r.AddHeader("WWW-Authenticate", challenge);
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

}  // namespace

void Reply::AddHeader(std::string_view name, std::string_view value) {
  if (header_count < headers.size()) headers[header_count++] = {name, value};
}

std::optional<std::string_view> Reply::Header(std::string_view name) const {
  for (std::size_t i = 0; i < header_count; ++i) {
    if (headers[i].name == name) return headers[i].value;
  }
  return std::nullopt;
}

std::string Sanitize(std::string_view text, std::size_t max) {
  std::string out;
  const std::size_t n = std::min(text.size(), max);
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (text.size() > max) out += "...";
  return out;
}

Result<std::size_t> ParseCount(const QueryParams& query,
                               std::size_t max_batch) {
  const std::string allowed = "a whole number in " + Range(max_batch) +
                              " (MAX_BATCH), e.g. /get-keys?count=10";
  const auto count = query.count("count");
  if (count == 0) {
    return Status::InvalidArgument("count is missing: use " + allowed);
  }
  if (count > 1) {
    return Status::InvalidArgument("count is given " + std::to_string(count) +
                                   " times: give it once, " + allowed);
  }
  const std::string& text = query.find("count")->second;
  const std::string shown = "count=" + Sanitize(text, 32);
  // Digits only: from_chars would accept a leading '-' for signed types
  // and we want "+5", " 5" and "5x" rejected as well.
  std::size_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  const bool digits = !text.empty() && text[0] >= '0' && text[0] <= '9';
  if (!digits || ptr != end) {
    return Status::InvalidArgument(shown + " is not " + allowed);
  }
  if (ec == std::errc::result_out_of_range || value > max_batch) {
    return Status::InvalidArgument(shown + " is over MAX_BATCH: allowed " +
                                   Range(max_batch));
  }
  if (value == 0) {
    return Status::InvalidArgument(shown + " asks for no keys: allowed " +
                                   Range(max_batch));
  }
  return value;
}

bool TokenMatches(std::string_view given, std::string_view expected) {
  unsigned diff = given.size() == expected.size() ? 0U : 1U;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    // The branch depends only on the client's own length, not the secret.
    const auto g = i < given.size() ? static_cast<unsigned char>(given[i])
                                    : static_cast<unsigned char>(0);
    diff |= static_cast<unsigned>(g ^ static_cast<unsigned char>(expected[i]));
    // The compiler must assume this reads and changes diff, so it cannot
    // end the loop early once diff is non-zero.
    __asm__ volatile("" : "+r"(diff));
  }
  return diff == 0;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  std::string_view v = authorization;
  if (v.size() <= kScheme.size() || v[kScheme.size()] != ' ') {
    return std::nullopt;
  }
  if (!EqualsNoCase(v.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  v.remove_prefix(kScheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

bool Healthy(const Snapshot& s) {
  return s.attached && s.broker_alive && s.ring_fill > 0;
}

std::string UnavailableReason(const Snapshot& s) {
  const std::string& name = s.shm_name;
  if (!s.attached && !s.detached_reason.empty()) {
    return "segment '" + name + "' is unusable: " + s.detached_reason + "\n";
  }
  if (!s.attached) {
    return "broker not started: no segment '" + name +
           "' exists yet (start forge-broker with SHM_NAME=" + name + ")\n";
  }
  if (s.broker_state == shm::BrokerState::kExhausted) {
    return "key space exhausted: every " + std::to_string(s.key_length) +
           "-character key of the store has been issued; no more keys will "
           "come\n";
  }
  if (!s.broker_alive) {
    return "no broker is running on segment '" + name +
           "' (start forge-broker with SHM_NAME=" + name + ")\n";
  }
  if (s.broker_state == shm::BrokerState::kStoreError) {
    return "store error: the broker cannot reserve keys from " + s.store +
           "; it keeps retrying\n";
  }
  return "the ring is empty: demand is above supply or the broker is still "
         "starting; retry\n";
}

Result<std::string_view> ParseNamespace(const QueryParams& query) {
  const auto given = query.count("ns");
  if (given == 0) return base::kDefaultNamespace;
  const std::string rule = "a namespace name is " +
                           std::string(base::kNamespaceRule) +
                           " (none: \"default\")";
  if (given > 1) {
    return Status::InvalidArgument("ns is given " + std::to_string(given) +
                                   " times: give it once; " + rule);
  }
  const std::string& name = query.find("ns")->second;
  if (name.empty()) return Status::InvalidArgument("ns is empty: " + rule);
  if (!base::IsNamespaceName(name)) {
    return Status::InvalidArgument("ns=" + Sanitize(name, 40) +
                                   " is not a namespace name: " + rule);
  }
  return std::string_view(name);
}

Router::Router(Namespaces& namespaces, RouterLimits limits, AuthPolicy auth,
               StatusSource* status)
    : namespaces_(namespaces),
      limits_(limits),
      auth_(std::move(auth)),
      status_(status) {}

Router::Router(Backend& backend, RouterLimits limits, AuthPolicy auth,
               StatusSource* status)
    : own_(std::make_unique<DefaultOnly>(backend)),
      namespaces_(*own_),
      limits_(limits),
      auth_(std::move(auth)),
      status_(status) {}

Backend& Router::Default() const {
  return *namespaces_.Find(base::kDefaultNamespace).backend;
}

std::optional<Reply> Router::Authenticate(
    std::string_view path, std::optional<std::string_view> ns,
    std::string_view authorization) const {
  if (!auth_enabled() || (!IsKeyRoute(path) && !auth_.protect_all)) {
    return std::nullopt;
  }
  const std::string_view where =
      auth_.scoped.empty() ? "AUTH_TOKEN" : "AUTH_TOKEN or AUTH_TOKENS_FILE";
  if (authorization.empty()) {
    return Unauthorized(
        "authentication required: send the header 'Authorization: Bearer "
        "<token>' with a token configured as " +
            std::string(where) + "\n",
        kChallenge);
  }
  const std::optional<std::string_view> token = BearerToken(authorization);
  if (!token) {
    return Unauthorized(
        "the Authorization header is not a bearer token: send "
        "'Authorization: Bearer <token>'\n",
        kChallenge);
  }
  const std::size_t match = MatchToken(*token);
  if (match == 0) {
    return Unauthorized(
        "the bearer token is wrong: send a token configured "
        "as " +
            std::string(where) + "\n",
        kChallengeInvalid);
  }
  if (!ns || MatchReaches(match, *ns)) return std::nullopt;
  Reply r = Text(403, "token may not use namespace \"" + std::string(*ns) +
                          "\": it reaches only the namespaces listed with it "
                          "in AUTH_TOKENS_FILE\n");
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

std::size_t Router::MatchToken(std::string_view token) const {
  // Every configured token is compared, matching or not: which one
  // matched (or none) is decided after the loop, so the time does not tell.
  std::size_t match = 0;
  if (!auth_.token.empty()) {
    match = TokenMatches(token, auth_.token) ? 1 : match;
  }
  for (std::size_t i = 0; i < auth_.scoped.size(); ++i) {
    match = TokenMatches(token, auth_.scoped[i].token) ? i + 2 : match;
  }
  return match;
}

bool Router::MatchReaches(std::size_t match, std::string_view ns) const {
  if (match == 0) return false;
  if (match == 1) return true;
  const std::vector<std::string>& allowed = auth_.scoped[match - 2].namespaces;
  return std::find(allowed.begin(), allowed.end(), ns) != allowed.end();
}

bool Router::TokenReaches(std::string_view authorization,
                          std::string_view ns) const {
  if (!auth_enabled()) return false;
  const std::optional<std::string_view> token = BearerToken(authorization);
  return token && MatchReaches(MatchToken(*token), ns);
}

Reply Router::Handle(std::string_view method, std::string_view path,
                     const QueryParams& query,
                     std::string_view authorization) const {
  return *Dispatch(method, path, query, authorization, true);
}

std::optional<Reply> Router::HandleNow(std::string_view path,
                                       const QueryParams& query,
                                       std::string_view authorization) const {
  return Dispatch("GET", path, query, authorization, false);
}

std::optional<Reply> Router::Dispatch(std::string_view method,
                                      std::string_view path,
                                      const QueryParams& query,
                                      std::string_view authorization,
                                      bool may_wait) const {
  if (!IsRoute(path)) {
    Default().CountRequest();
    return Text(404, "no route " + Sanitize(path) +
                         ": the routes are /get-key, /get-keys?count=N, "
                         "/check-key?key=KEY, /healthz, /metrics, /status, "
                         "/status.json (the first four take ns=NAME)\n");
  }
  if (method != "GET") {
    Default().CountRequest();
    Reply r =
        Text(405, "method " + Sanitize(method, 16) + " is not allowed on " +
                      std::string(path) + ": use GET\n");
    r.AddHeader("Allow", "GET");
    return r;
  }
  if (TakesNoNamespace(path)) {
    return Route(path, base::kDefaultNamespace, false, query, authorization,
                 may_wait);
  }
  const Result<std::string_view> ns = ParseNamespace(query);
  if (!ns.ok()) {
    Default().CountRequest();
    return Text(400, ns.status().message() + "\n");
  }
  return Route(path, *ns, query.count("ns") > 0, query, authorization,
               may_wait);
}

namespace {
const QueryParams kNoQuery;
}  // namespace

Reply Router::GetKeyIn(std::string_view ns,
                       std::string_view authorization) const {
  return *Route(kGetKey, ns, true, kNoQuery, authorization, true);
}

std::optional<Reply> Router::GetKeyNow(std::string_view ns,
                                       std::string_view authorization) const {
  return Route(kGetKey, ns, true, kNoQuery, authorization, false);
}

std::optional<Reply> Router::Route(std::string_view path, std::string_view ns,
                                   bool named, const QueryParams& query,
                                   std::string_view authorization,
                                   bool may_wait) const {
  // The namespace the request reaches: a key route always reaches one.
  const bool reaches =
      IsKeyRoute(path) || path == kCheckKey || (path == kHealthz && named);
  if (auto denied = Authenticate(
          path, reaches ? std::optional(ns) : std::nullopt, authorization)) {
    Default().CountRequest();
    return *denied;
  }
  if (!reaches) {
    Default().CountRequest();
    return Overall(path);
  }
  const NamespaceLookup found = namespaces_.Find(ns);
  if (found.backend == nullptr) return NotServed(ns, found);
  Backend& backend = *found.backend;
  // The keys a key route asks for, parsed once: the wait check needs it too.
  const Result<std::size_t> count = path == kGetKeys
                                        ? ParseCount(query, limits_.max_batch)
                                        : Result<std::size_t>(std::size_t{1});
  if (!may_wait && IsKeyRoute(path) && count.ok() && backend.MayWait(*count)) {
    return std::nullopt;
  }
  backend.CountRequest();
  if (path == kGetKey) return GetKey(backend);
  if (path == kGetKeys) return GetKeys(backend, count);
  if (path == kCheckKey) {
    return CheckKey(backend, ns, query, TokenReaches(authorization, ns));
  }
  return Healthz(backend);
}

Reply Router::NotServed(std::string_view ns,
                        const NamespaceLookup& found) const {
  Default().CountRequest();
  const std::string name = "namespace \"" + std::string(ns) + "\"";
  if (found.full) {
    Reply r = Text(503, name + " is not attached: this worker already serves " +
                            std::to_string(kMaxAttachedNamespaces) +
                            " namespaces, the most it attaches\n");
    r.AddHeader("Retry-After", "1");
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }
  std::string body = name + " is not served here";
  if (!auth_enabled() && !auth_.tokens_file) {
    body += "; served:";
    const char* sep = " ";
    for (const std::string& n : namespaces_.Served()) {
      body.append(sep).append(n);
      sep = ", ";
    }
  }
  // Not cached: the namespace may be created and served a moment later.
  Reply r = Text(404, body + "\n");
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Reply Router::GetKey(Backend& backend) const {
  KeyBuffer& keys = Scratch();
  const TakenKeys taken = backend.TakeKeys(keys, 1);
  if (taken.count == 0) return Unavailable(backend);
  Reply r;
  r.body.assign(keys.Text(0, taken.key_length));
  r.key_count = 1;
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Reply Router::GetKeys(Backend& backend,
                      const Result<std::size_t>& count) const {
  if (!count.ok()) return Text(400, count.status().message() + "\n");
  KeyBuffer& keys = Scratch();
  const TakenKeys taken = backend.TakeKeys(keys, *count);
  if (taken.count == 0) return Unavailable(backend);
  Reply r;
  r.body.reserve(taken.count * (taken.key_length + 1));
  for (std::size_t i = 0; i < taken.count; ++i) {
    r.body.append(keys.Text(i, taken.key_length));
    r.body.push_back('\n');
  }
  r.key_count = taken.count;
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

namespace {

// The `key` of /check-key; one line naming what is wrong otherwise.
Result<std::string_view> ParseKeyParam(const QueryParams& query) {
  const std::string use =
      "use /check-key?key=KEY (and ns=NAME for a namespace other than "
      "default)";
  const auto given = query.count("key");
  if (given == 0) return Status::InvalidArgument("key is missing: " + use);
  if (given > 1) {
    return Status::InvalidArgument("key is given " + std::to_string(given) +
                                   " times: give it once; " + use);
  }
  return std::string_view(query.find("key")->second);
}

// The /check-key answer; the number only when `show_number`.
std::string CheckKeyJson(std::string_view ns, const KeyCheck& check,
                         bool show_number) {
  const keys::KeyCodec::Verdict& v = check.verdict;
  // ns is a namespace name (base::kNamespaceRule): nothing to escape.
  std::string json = "{\"namespace\":\"" + std::string(ns) +
                     "\",\"well_formed\":" + JsonBool(v.well_formed) +
                     ",\"check_ok\":" + JsonBool(v.check_ok);
  if (v.check_ok && v.number && show_number) {
    json += ",\"number\":" + std::to_string(*v.number);
  }
  return json + "}\n";
}

}  // namespace

Reply Router::CheckKey(Backend& backend, std::string_view ns,
                       const QueryParams& query, bool token_reaches) const {
  const Result<std::string_view> key = ParseKeyParam(query);
  if (!key.ok()) return Text(400, key.status().message() + "\n");
  const std::optional<KeyCheck> check = backend.CheckKey(*key);
  if (!check) return Unavailable(backend);
  Reply r =
      Text(200, CheckKeyJson(ns, *check, check->sequential || token_reaches));
  r.content_type = kJson;
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Reply Router::Unavailable(Backend& backend) const {
  backend.CountUnavailable();
  Reply r = Text(503, UnavailableReason(backend.Observe()));
  r.AddHeader("Retry-After", "1");
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Reply Router::Healthz(Backend& backend) const {
  const Snapshot s = backend.Observe();
  if (Healthy(s)) return Text(200, "ok\n");
  Reply r = Text(503, UnavailableReason(s));
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

// 200 while every served namespace is healthy; else 503 with one line per
// failing namespace (today's single line when only "default" is served).
Reply Router::HealthzAll() const {
  const std::vector<std::string> served = namespaces_.Served();
  std::string failing;
  for (const std::string& ns : served) {
    Backend* backend = namespaces_.Find(ns).backend;
    if (backend == nullptr) continue;  // over the attach limit: unknown
    const Snapshot s = backend->Observe();
    if (Healthy(s)) continue;
    if (served.size() > 1) failing += "namespace \"" + ns + "\": ";
    failing += UnavailableReason(s);
  }
  if (failing.empty()) return Text(200, "ok\n");
  Reply r = Text(503, std::move(failing));
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Reply Router::Overall(std::string_view path) const {
  if (path == kMetrics) return Metrics();
  if (path == kStatusJson) return StatusJson();
  if (path != kStatus) return HealthzAll();
  Reply r = Text(200, std::string(kStatusHtml));
  r.content_type = kTextHtml;
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Reply Router::StatusJson() const {
  Result<std::string> json =
      status_ != nullptr
          ? status_->Json()
          : Status(Code::kUnavailable, "this server has no status source");
  Reply r;
  r.content_type = kJson;
  if (json.ok()) {
    r.body = std::move(*json);
  } else {
    r.status = 503;
    r.body = "{\"error\":" + stats::JsonQuote(json.status().message()) + "}\n";
    r.AddHeader("Retry-After", "1");
  }
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Reply Router::Metrics() const {
  std::vector<NamespaceSnapshot> all;
  for (std::string& ns : namespaces_.Served()) {
    if (Backend* backend = namespaces_.Find(ns).backend) {
      all.push_back({std::move(ns), backend->Observe()});
    }
  }
  Reply r = Text(200, FormatMetrics(all));
  r.content_type = kPrometheusText;
  return r;
}

}  // namespace forge::frontend
