// Fuzz target: the request parsing of forge-frontend (frontend/).
//
// One input drives:
//   1. ParseHead (request_head.h) and ParseFastRequest on the whole input as
//      raw request bytes (framing, duplicate headers, smuggling forms);
//   2. the query path of a request: the first line is the request target,
//      split as the server does (SplitTarget, PercentDecode, ParseQuery),
//      the second line is an Authorization value; then ParseCount,
//      BearerToken and Router::Handle (with and without AUTH_TOKEN) over a
//      FakeBackend, and FormatHead of the reply.
// Properties: no crash or exception; a complete head has CRLF line ends,
// token names with no whitespace before ':', no control bytes, one Host in
// HTTP/1.1, at most one Content-Length / Transfer-Encoding / Authorization
// and a target SplitTarget reads; every shorter prefix of it is
// incomplete, and a refused head stays refused with more bytes; a refusal
// has a documented status and one printable line; a count that parses is
// all digits, within 1..MAX_BATCH and given once (also counting ';' as a
// separator); every non-2xx body is one printable line; a 200 of /get-keys
// holds exactly `count` keys; statuses are the documented ones; a
// fast-path request is a complete `GET /get-key` head inside the input.
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/names.h"
#include "frontend/fast_path.h"
#include "frontend/handlers.h"
#include "frontend/request_head.h"
#include "tests/frontend/fake_backend.h"
#include "tests/fuzz/fuzz_check.h"

namespace forge::frontend {
namespace {

using forge::fuzz::OneLine;
using forge::fuzz::Printable;

constexpr std::size_t kMaxBatch = 64;  // small: a 200 stays cheap
constexpr std::string_view kToken = "fuzz-token-0123456789abcdef";

bool Within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() &&
          part.data() + part.size() <= whole.data() + whole.size());
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool NameIs(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() &&
         std::equal(name.begin(), name.end(), lower.begin(),
                    [](char a, char b) { return Lower(a) == b; });
}

// Re-reads an accepted head line by line, independently of ParseHead.
void CheckAcceptedHead(std::string_view input, const RequestHead& head) {
  FUZZ_CHECK(
      head.size <= input.size() && head.size <= forge::frontend::kMaxHeadBytes,
      "head size");
  const std::string_view text = input.substr(0, head.size);
  const std::string shown(text.substr(0, 200));
  FUZZ_CHECK(text.ends_with("\r\n\r\n"), shown);
  FUZZ_CHECK(Within(head.method, text) && Within(head.target, text) &&
                 Within(head.authorization, text),
             shown);
  FUZZ_CHECK(forge::frontend::SplitTarget(head.target).has_value(), shown);
  FUZZ_CHECK(text.find('\0') == std::string_view::npos, shown);
  std::size_t hosts = 0, lengths = 0, encodings = 0, auths = 0;
  std::string_view rest = text;
  for (bool first = true;; first = false) {
    const std::size_t lf = rest.find('\n');
    FUZZ_CHECK(lf != std::string_view::npos && lf > 0 && rest[lf - 1] == '\r',
               shown);
    const std::string_view line = rest.substr(0, lf - 1);
    rest.remove_prefix(lf + 1);
    FUZZ_CHECK(line.find('\r') == std::string_view::npos, shown);
    if (line.empty()) break;
    if (first) {
      FUZZ_CHECK(std::count(line.begin(), line.end(), ' ') == 2, shown);
      continue;
    }
    const std::size_t colon = line.find(':');
    FUZZ_CHECK(colon != std::string_view::npos && colon > 0, shown);
    const std::string_view name = line.substr(0, colon);
    FUZZ_CHECK(name.find_first_of(" \t") == std::string_view::npos, shown);
    hosts += NameIs(name, "host");
    lengths += NameIs(name, "content-length");
    encodings += NameIs(name, "transfer-encoding");
    auths += NameIs(name, "authorization");
  }
  FUZZ_CHECK(rest.empty(), shown);
  FUZZ_CHECK(hosts == 1 || (head.http10 && hosts == 0), shown);
  FUZZ_CHECK(lengths + encodings <= 1 && auths <= 1, shown);
}

void CheckHead(std::string_view input) {
  RequestHead head;
  HeadError error;
  const HeadResult result = forge::frontend::ParseHead(input, &head, &error);
  if (result == HeadResult::kComplete) {
    CheckAcceptedHead(input, head);
    RequestHead shorter;
    FUZZ_CHECK(
        forge::frontend::ParseHead(input.substr(0, head.size - 1), &shorter,
                                   &error) == HeadResult::kIncomplete,
        "a prefix of an accepted head is not incomplete");
  } else if (result == HeadResult::kBad) {
    const std::string status = std::to_string(error.status);
    FUZZ_CHECK(error.status == 400 || error.status == 414 ||
                   error.status == 431 || error.status == 501 ||
                   error.status == 505,
               status);
    const std::string text = forge::frontend::DescribeHeadError(error);
    FUZZ_CHECK(text.ends_with('\n'), text);
    const std::string_view line(text.data(), text.size() - 1);
    FUZZ_CHECK(OneLine(line) && Printable(line), text);
    // More bytes never make a refused head acceptable.
    const std::string longer = std::string(input) + "\r\n\r\n";
    RequestHead again;
    FUZZ_CHECK(
        forge::frontend::ParseHead(longer, &again, &error) == HeadResult::kBad,
        "a refused head was accepted with more bytes");
  } else {
    FUZZ_CHECK(input.size() < forge::frontend::kMaxHeadBytes,
               "incomplete past the head limit");
  }
}

void CheckFastPath(std::string_view input) {
  const auto req = forge::frontend::ParseFastRequest(input);
  if (!req) return;
  const std::string head(input.substr(0, req->size));
  FUZZ_CHECK(req->size <= input.size(), head);
  FUZZ_CHECK(head.starts_with("GET /get-key HTTP/1.1\r\n") ||
                 head.starts_with("GET /get-key?ns=" + std::string(req->ns) +
                                  " HTTP/1.1\r\n"),
             head);
  FUZZ_CHECK(head.ends_with("\r\n\r\n"), head);
  FUZZ_CHECK(forge::base::IsNamespaceName(req->ns), head);
  FUZZ_CHECK(Within(req->authorization, input.substr(0, req->size)), head);
  FUZZ_CHECK(OneLine(req->authorization), head);
}

std::optional<std::size_t> CheckCount(const QueryParams& query) {
  const forge::Result<std::size_t> count =
      forge::frontend::ParseCount(query, kMaxBatch);
  if (!count.ok()) {
    const std::string& error = count.status().message();
    FUZZ_CHECK(!error.empty() && OneLine(error) && Printable(error), error);
    return std::nullopt;
  }
  const auto it = query.find("count");
  FUZZ_CHECK(query.count("count") == 1, "count accepted while repeated");
  FUZZ_CHECK(AllDigits(it->second), it->second);
  FUZZ_CHECK(*count >= 1 && *count <= kMaxBatch, it->second);
  FUZZ_CHECK(std::stoull(it->second) == *count, it->second);
  return *count;
}

void CheckReply(const Reply& r, std::string_view path,
                std::optional<std::size_t> count) {
  const std::string status = std::to_string(r.status);
  FUZZ_CHECK(r.status == 200 || r.status == 400 || r.status == 401 ||
                 r.status == 404 || r.status == 405 || r.status == 503,
             status);
  if (r.status != 200) {
    FUZZ_CHECK(!r.body.empty() && r.body.back() == '\n', status + r.body);
    const std::string_view line(r.body.data(), r.body.size() - 1);
    FUZZ_CHECK(OneLine(line) && Printable(line), status + " " + r.body);
  } else if (path == "/get-keys") {
    FUZZ_CHECK(count.has_value(), "200 without a valid count");
    const auto lines = static_cast<std::size_t>(
        std::count(r.body.begin(), r.body.end(), '\n'));
    FUZZ_CHECK(lines == *count && r.body.size() == lines * 8, r.body);
  }
  std::array<char, 512> head{};
  const std::size_t n =
      forge::frontend::FormatHead(r, {false, "timeout=5, max=1000"}, head);
  FUZZ_CHECK(n > 0, "FormatHead did not fit 512 bytes");
  const std::string_view text(head.data(), n);
  FUZZ_CHECK(text.ends_with("\r\n\r\n"), std::string(text));
  FUZZ_CHECK(text.find("Content-Length: " + std::to_string(r.body.size()) +
                       "\r\n") != std::string_view::npos,
             std::string(text));
}

void CheckBearer(std::string_view authorization) {
  const auto token = forge::frontend::BearerToken(authorization);
  if (!token) return;
  // Lenient on purpose: whatever follows the scheme is compared with the
  // configured token, which cannot hold a space (config/keys.cpp).
  FUZZ_CHECK(!token->empty() && token->front() != ' ',
             std::string(authorization));
  FUZZ_CHECK(Within(*token, authorization), std::string(authorization));
}

void CheckTarget(std::string_view target, std::string_view authorization) {
  static forge::frontend::testing::FakeBackend backend;
  static const bool healthy = [] {
    backend.SetSnapshot(forge::frontend::testing::HealthySnapshot());
    return true;
  }();
  static const Router open(backend, {kMaxBatch});
  static const Router locked(
      backend, {kMaxBatch},
      {.token = std::string(kToken), .protect_all = true});
  (void)healthy;
  // As HttpServer::Route reads a target.
  const auto parts = forge::frontend::SplitTarget(target);
  const std::string path =
      forge::frontend::PercentDecode(parts ? parts->path : target);
  const QueryParams query =
      forge::frontend::ParseQuery(parts ? parts->query : "");
  const auto count = CheckCount(query);
  if (count) {
    // Given once, whether ';' separates parameters or not.
    const std::string raw(parts->query);
    std::size_t named = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (i == 0 || raw[i - 1] == '&' || raw[i - 1] == ';') {
        named += std::string_view(raw).substr(i).starts_with("count=");
      }
    }
    FUZZ_CHECK(named == 1, raw);
  }
  CheckBearer(authorization);
  CheckReply(open.Handle("GET", path, query, authorization), path, count);
  CheckReply(locked.Handle("GET", path, query, authorization), path, count);
  CheckReply(open.Handle("POST", path, query, authorization), path, count);
  const std::string shown = forge::frontend::Sanitize(target, 32);
  FUZZ_CHECK(Printable(shown) && shown.size() <= 35, shown);
}

}  // namespace
}  // namespace forge::frontend

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  forge::frontend::CheckHead(input);
  forge::frontend::CheckFastPath(input);
  const std::size_t eol = input.find('\n');
  const std::string_view target = input.substr(0, eol);
  // A header value is one line: the second line of the input.
  const std::string_view rest = eol == std::string_view::npos
                                    ? std::string_view()
                                    : input.substr(eol + 1);
  const std::string_view authorization = rest.substr(0, rest.find('\n'));
  forge::frontend::CheckTarget(target, authorization);
  return 0;
}
