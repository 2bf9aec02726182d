// ParseHead, SplitTarget and ParseQuery (frontend/request_head.h): the
// heads of issue 11 (framing, duplicate headers, smuggling forms) byte for
// byte, and the query forms that used to be read leniently.
#include "frontend/request_head.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "frontend/fast_path.h"

// Counts heap allocations, to hold ParseHead to "allocates nothing".
namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

// GCC flags free() of memory from a replaced operator new as mismatched;
// here both sides are malloc/free by construction.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  // relaxed: a plain event count, read on the same thread.
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace forge::frontend {
namespace {

using namespace std::string_literals;

struct Parsed {
  HeadResult result;
  RequestHead head;
  HeadError error;
};

Parsed Parse(std::string_view input) {
  Parsed p{};
  p.result = ParseHead(input, &p.head, &p.error);
  return p;
}

// The status a bad head gets; 0 when it is not refused.
int Refused(std::string_view input) {
  const Parsed p = Parse(input);
  return p.result == HeadResult::kBad ? p.error.status : 0;
}

TEST(ParseHead, ReadsAWellFormedHead) {
  const std::string input =
      "GET /get-keys?count=2 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n"
      "Connection: keep-alive, close\r\n\r\nGET /next";
  const Parsed p = Parse(input);
  ASSERT_EQ(p.result, HeadResult::kComplete) << p.error.what;
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.target, "/get-keys?count=2");
  EXPECT_EQ(p.head.authorization, "Bearer t");
  EXPECT_TRUE(p.head.close);
  EXPECT_FALSE(p.head.http10);
  EXPECT_FALSE(p.head.has_body);
  EXPECT_EQ(p.head.size, input.size() - std::string("GET /next").size());
}

TEST(ParseHead, AllocatesNothingForAGoodOrABadHead) {
  const std::string good =
      "GET /get-key HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n"
      "Connection: keep-alive\r\nUser-Agent: wrk\r\n\r\n";
  const std::string bad = "GET / HTTP/1.1\r\nHost : a\r\n\r\n";
  RequestHead head;
  HeadError error;
  // relaxed: see operator new.
  const std::size_t before = g_allocations.load(std::memory_order_relaxed);
  const HeadResult a = ParseHead(good, &head, &error);
  const bool fast = ParseFastRequest(good).has_value();
  const HeadResult b = ParseHead(bad, &head, &error);
  const std::size_t after = g_allocations.load(std::memory_order_relaxed);
  EXPECT_EQ(a, HeadResult::kComplete);
  EXPECT_TRUE(fast);
  EXPECT_EQ(b, HeadResult::kBad);
  EXPECT_EQ(after, before);
}

TEST(ParseHead, EveryPrefixOfAGoodHeadIsIncomplete) {
  const std::string full = "GET /get-key HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n";
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(Parse(full.substr(0, n)).result, HeadResult::kIncomplete) << n;
  }
  EXPECT_EQ(Parse(full).result, HeadResult::kComplete);
}

TEST(ParseHead, Http10NeedsNoHostAndClosesUnlessAskedNotTo) {
  EXPECT_TRUE(Parse("GET /healthz HTTP/1.0\r\n\r\n").head.close);
  const Parsed kept =
      Parse("GET /healthz HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(kept.result, HeadResult::kComplete);
  EXPECT_FALSE(kept.head.close);
}

TEST(ParseHead, BodyFramingIsReported) {
  EXPECT_FALSE(Parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
                   .head.has_body);
  EXPECT_TRUE(Parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
                  .head.has_body);
  EXPECT_TRUE(
      Parse("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
          .head.has_body);
}

// Issue 11, item 1: request lines and line ends that used to desync.
TEST(ParseHead, RefusesTheDesyncHeadsOfIssue11) {
  EXPECT_EQ(Refused("GET /x HTTP/2.0\r\nGET /get-key HTTP/1.1\r\nHost: a\r\n"
                    "\r\n"),
            505);
  EXPECT_EQ(Refused("\r\nGET /get-key HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(Refused("GET /get-key HTTP/1.1\nHost: a\n\n"), 400);
  EXPECT_EQ(Refused("GET /get-key HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n"), 400);
  EXPECT_EQ(Refused("GET\t/get-key HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(Refused("GET /get-key\tHTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(Refused("get /get-key HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
  EXPECT_EQ(Refused("PROPFIND /get-key HTTP/1.1\r\nHost: a\r\n"
                    "Content-Length: 43\r\n\r\n"),
            501);
  const std::string long_header =
      "GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: " + std::string(9000, 'a') +
      "\r\nX-B: 1\r\n";
  EXPECT_EQ(Refused(long_header), 431);
}

TEST(ParseHead, RefusesAFaultAsSoonAsItsLineIsComplete) {
  // The rest of the head has not arrived; the request line alone is bad.
  EXPECT_EQ(Refused("GET /x HTTP/2.0\r\n"), 505);
  EXPECT_EQ(Refused("GET /x HTTP/1.1\r\nHost : a\r\n"), 400);
  // A line over the limit is refused before its end arrives.
  EXPECT_EQ(Refused("GET /" + std::string(9000, 'a')), 414);
  EXPECT_EQ(Refused("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a')), 431);
}

// Issue 11, item 2: forms that enable request smuggling.
TEST(ParseHead, RefusesTheSmugglingFormsOfIssue11) {
  const std::vector<std::string> bad = {
      "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
      "Content-Length: 32\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
      "Content-Length: 5\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
      "Transfer-Encoding: chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
      "Transfer-Encoding: chunked\r\n\r\n",
      "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET /get-key HTTP/1.1\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a/b\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\r\nX-A\0: 1\r\n\r\n"s,
      "GET /get-key HTTP/1.1\r\nHost: a\r\nX-A: 1\0\r\n\r\n"s,
      "GET /get-key\0 HTTP/1.1\r\nHost: a\r\n\r\n"s,
      "GET /get-key HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\n"
      "Authorization: Bearer b\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\r\nAuthorization:\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n",
      "GET /get-key HTTP/1.1\r\nHost: a\r\nX-A: a\x7fz\r\n\r\n",
      "GET /get-key#frag HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /get-keys?count=1?x HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET get-key HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET ftp://a/get-key HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET http:///get-key HTTP/1.1\r\nHost: a\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET  /get-key HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /get-key HTTP/1.1 \r\nHost: a\r\n\r\n",
      "GET /get-key HTTP/1.1x\r\nHost: a\r\n\r\n",
      "GET /get-key http/1.1\r\nHost: a\r\n\r\n",
      "GET /g\xc3\xa9t HTTP/1.1\r\nHost: a\r\n\r\n",
  };
  for (const std::string& input : bad) {
    const Parsed p = Parse(input);
    EXPECT_EQ(p.result, HeadResult::kBad) << input;
    EXPECT_FALSE(p.error.what.empty()) << input;
  }
}

TEST(ParseHead, AcceptsTheAbsoluteForm) {
  const Parsed p =
      Parse("GET http://host:8080/get-key HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(p.result, HeadResult::kComplete) << p.error.what;
  EXPECT_EQ(p.head.target, "http://host:8080/get-key");
}

TEST(ParseHead, HeadOver64KiBIsRefused) {
  std::string input = "GET / HTTP/1.1\r\nHost: a\r\n";
  while (input.size() <= kMaxHeadBytes) input += "X-Pad: 0123456789abcdef\r\n";
  EXPECT_EQ(Refused(input), 431);
  EXPECT_EQ(Refused(input.substr(0, kMaxHeadBytes)), 431) << "a full buffer";
}

TEST(DescribeHeadError, IsOneLineSayingWhereAndWhat) {
  const Parsed p =
      Parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n");
  ASSERT_EQ(p.result, HeadResult::kBad);
  const std::string text = DescribeHeadError(p.error);
  EXPECT_EQ(
      text,
      "malformed HTTP request, line 3 \"Transfer-Encoding : chunked\": "
      "whitespace between a header name and ':' (RFC 9112 section 5.1); send "
      "'Name: value'\n");
  const std::string nul =
      DescribeHeadError(Parse("GET / HTTP/1.1\r\nX\0: 1\r\n\r\n"s).error);
  EXPECT_EQ(nul.find('\0'), std::string::npos);
  EXPECT_EQ(nul.find('\n'), nul.size() - 1);
}

TEST(SplitTarget, OriginAndAbsoluteFormsGiveThePathAndQuery) {
  auto parts = SplitTarget("/get-keys?count=2");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->path, "/get-keys");
  EXPECT_EQ(parts->query, "count=2");
  parts = SplitTarget("HTTP://host/get-keys?count=3");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->path, "/get-keys");
  EXPECT_EQ(parts->query, "count=3");
  parts = SplitTarget("https://host?x=1");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->path, "/");
  EXPECT_EQ(parts->query, "x=1");
  EXPECT_FALSE(SplitTarget("*"));
  EXPECT_FALSE(SplitTarget("host:80"));
  EXPECT_FALSE(SplitTarget("http://user@host/"));
}

TEST(ParseQuery, SplitsAtTheFirstEqualsAndAtAmpersandAndSemicolon) {
  const auto values = [](std::string_view q) {
    const QueryParams p = ParseQuery(q);
    std::vector<std::string> out;
    for (auto [it, end] = p.equal_range("count"); it != end; ++it) {
      out.push_back(it->second);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(values("count=2"), V{"2"});
  EXPECT_EQ(values("count==2"), V{"=2"});
  EXPECT_EQ(values("count=1=2"), V{"1=2"});
  EXPECT_EQ(values("count=2%26count=3"), V{"2&count=3"});
  EXPECT_EQ(values("count=1;count=2"), (V{"1", "2"}));
  EXPECT_EQ(values("count=2&count=2"), (V{"2", "2"})) << "never merged";
  EXPECT_EQ(values("%63ount=2&count=3"), V{"3"}) << "names as sent";
  EXPECT_EQ(values("count=%31%30&x"), V{"10"});
  EXPECT_EQ(values("count"), V{""});
}

// The query forms of issue 11 reach ParseCount as values it refuses, each
// reason naming the parameter.
TEST(ParseQuery, Issue11QueryFormsAreRefusedByParseCount) {
  for (const std::string q :
       {"count==2", "count=1=2", "count=2%26count=3", "count=1;count=2",
        "count=2&count=2", "x=1;count=2&count=3"}) {
    const Result<std::size_t> count = ParseCount(ParseQuery(q), 100);
    ASSERT_FALSE(count.ok()) << q;
    const std::string& error = count.status().message();
    EXPECT_NE(error.find("count"), std::string::npos) << error;
  }
  const Result<std::size_t> count =
      ParseCount(ParseQuery("count=5&_=123"), 100);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 5u);
}

TEST(PercentDecode, DecodesPairsAndKeepsStrayPercents) {
  EXPECT_EQ(PercentDecode("%41%6a"), "Aj");
  EXPECT_EQ(PercentDecode("%"), "%");
  EXPECT_EQ(PercentDecode("%4"), "%4");
  EXPECT_EQ(PercentDecode("%zz1"), "%zz1");
  EXPECT_EQ(PercentDecode("a%2"), "a%2");
}

}  // namespace
}  // namespace forge::frontend
