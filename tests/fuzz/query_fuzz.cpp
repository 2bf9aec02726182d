// Fuzz target: the request parsing of forge-frontend (frontend/).
//
// One input drives:
//   1. ParseFastRequest on the whole input as raw request bytes;
//   2. the query path of a request: the first line is the request target,
//      split at '?' as cpp-httplib does (decode_url for the path,
//      parse_query_text for the query), the second line is an
//      Authorization value; then ParseCount, BearerToken and Router::Handle
//      (with and without AUTH_TOKEN) over a FakeBackend, and FormatHead of the
//      reply.
// Properties: no crash or exception; a count that parses is all digits and
// within 1..MAX_BATCH; every non-2xx body is one printable line; a 200 of
// /get-keys holds exactly `count` keys; statuses are the documented ones;
// a fast-path request is a complete `GET /get-key` head inside the input.
#include <httplib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "frontend/fast_path.h"
#include "frontend/handlers.h"
#include "tests/frontend/fake_backend.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using forge::frontend::QueryParams;
using forge::frontend::Reply;
using forge::frontend::Router;
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

void CheckFastPath(std::string_view input) {
  const auto req = forge::frontend::ParseFastRequest(input);
  if (!req) return;
  const std::string head(input.substr(0, req->size));
  FUZZ_CHECK(req->size <= input.size(), head);
  FUZZ_CHECK(head.starts_with("GET /get-key HTTP/1.1\r\n"), head);
  FUZZ_CHECK(head.ends_with("\r\n\r\n"), head);
  FUZZ_CHECK(req->target == "/get-key", head);
  FUZZ_CHECK(Within(req->authorization, input.substr(0, req->size)), head);
  FUZZ_CHECK(OneLine(req->authorization), head);
}

std::optional<std::size_t> CheckCount(const QueryParams& query) {
  std::string error;
  const auto count = forge::frontend::ParseCount(query, kMaxBatch, &error);
  if (!count) {
    FUZZ_CHECK(!error.empty() && OneLine(error) && Printable(error), error);
    return count;
  }
  const auto it = query.find("count");
  FUZZ_CHECK(query.count("count") == 1, "count accepted while repeated");
  FUZZ_CHECK(AllDigits(it->second), it->second);
  FUZZ_CHECK(*count >= 1 && *count <= kMaxBatch, it->second);
  FUZZ_CHECK(std::stoull(it->second) == *count, it->second);
  return count;
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
  static const Router locked(backend, {kMaxBatch},
                             {std::string(kToken), /*protect_all=*/true});
  (void)healthy;
  const std::size_t mark = target.find('?');
  const std::string path =
      httplib::detail::decode_url(std::string(target.substr(0, mark)), false);
  httplib::Params params;
  if (mark != std::string_view::npos) {
    httplib::detail::parse_query_text(std::string(target.substr(mark + 1)),
                                      params);
  }
  const QueryParams query(params.begin(), params.end());
  const auto count = CheckCount(query);
  CheckBearer(authorization);
  CheckReply(open.Handle("GET", path, query, authorization), path, count);
  CheckReply(locked.Handle("GET", path, query, authorization), path, count);
  CheckReply(open.Handle("POST", path, query, authorization), path, count);
  const std::string shown = forge::frontend::Sanitize(target, 32);
  FUZZ_CHECK(Printable(shown) && shown.size() <= 35, shown);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckFastPath(input);
  const std::size_t eol = input.find('\n');
  const std::string_view target = input.substr(0, eol);
  // A header value is one line: the second line of the input.
  const std::string_view rest = eol == std::string_view::npos
                                    ? std::string_view()
                                    : input.substr(eol + 1);
  const std::string_view authorization = rest.substr(0, rest.find('\n'));
  CheckTarget(target, authorization);
  return 0;
}
