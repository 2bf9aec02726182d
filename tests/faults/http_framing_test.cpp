// Request framing against a real forge-broker + forge-frontend (issue 11,
// items 1 and 2): the exact bytes of the adversarial run. A malformed or
// unframed head gets one answer with `Connection: close` and a one-line
// reason, then the server closes and reads nothing after it, so no request
// hidden behind it runs: forge_keys_served_total does not move.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/faults/raw_conn.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace forge::faults {
namespace {

using namespace std::string_literals;
using std::chrono::milliseconds;
using testing::Bin;
using testing::Env;
using testing::Get;
using testing::HttpResponse;
using testing::Process;
using testing::ShmName;
using testing::TempDir;
using testing::WaitUntil;

constexpr auto kDeadline = milliseconds(15000);
// Longer than any answer takes; a second answer would arrive well within.
constexpr auto kSecondAnswerWait = milliseconds(1500);

// A request for keys, to hide behind a bad head.
const std::string kGetKey = "GET /get-key HTTP/1.1\r\nHost: a\r\n\r\n";

class HttpFramingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Env env = {
        {"SHM_NAME", shm_.str()},  {"DB_URL", "sqlite:" + (dir_ / "forge.db")},
        {"HOST", "127.0.0.1"},     {"PORT", std::to_string(port_)},
        {"WORKERS", "2"},          {"EMPTY_WAIT_MS", "200"},
        {"POOL_CAPACITY", "1024"}, {"RANGE_SIZE", "1000"}};
    broker_.emplace(Process::Start({Bin("forge-broker")}, env, dir_.path()));
    frontend_.emplace(
        Process::Start({Bin("forge-frontend")}, env, dir_.path()));
    ASSERT_TRUE(WaitUntil([&] { return Get(port_, "/healthz").status == 200; },
                          kDeadline))
        << frontend_->Stderr() << broker_->Stderr();
  }

  void TearDown() override {
    EXPECT_TRUE(frontend_->Running()) << frontend_->Stderr();
  }

  // forge_keys_served_total summed over the workers' slots.
  long KeysServed() {
    const HttpResponse r = Get(port_, "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    long sum = 0;
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("forge_keys_served_total{")) {
        sum += std::atol(line.substr(line.rfind(' ') + 1).c_str());
      }
    }
    return sum;
  }

  // Sends `bytes` in one write; exactly one answer with `status`, then the
  // server closes; no key was served.
  void ExpectOneRefusalThenClose(const std::string& bytes, int status) {
    SCOPED_TRACE(::testing::Message() << "sent: " << bytes.substr(0, 120));
    const long before = KeysServed();
    RawConn c(port_);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.Send(bytes));
    const std::vector<HttpResponse> r = c.Read(2, kSecondAnswerWait);
    ASSERT_EQ(r.size(), 1u) << "want one answer, then close";
    EXPECT_EQ(r[0].status, status) << r[0].body;
    EXPECT_EQ(r[0].Header("Connection"), "close");
    EXPECT_EQ(std::count(r[0].body.begin(), r[0].body.end(), '\n'), 1)
        << r[0].body;
    EXPECT_TRUE(c.WaitClosed(kDeadline).has_value()) << "still open";
    EXPECT_EQ(KeysServed(), before) << "a key was served";
  }

  TempDir dir_;
  ShmName shm_;
  int port_ = testing::FreePort();
  std::optional<Process> broker_;
  std::optional<Process> frontend_;
};

// ---- Item 1: after a refusal nothing more is read ---------------------------

TEST_F(HttpFramingTest, Http2RequestLineThenAGetKey) {
  ExpectOneRefusalThenClose(
      "GET /x HTTP/2.0\r\nGET /get-key HTTP/1.1\r\nHost: a\r\n\r\n", 505);
}

TEST_F(HttpFramingTest, HeaderLineOver8KiBThenAGetKeys) {
  ExpectOneRefusalThenClose(
      "GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: " + std::string(9000, 'a') +
          "\r\nX-B: 1\r\nGET /get-keys?count=5 "
          "HTTP/1.1\r\n\r\n",
      431);
}

TEST_F(HttpFramingTest, UnknownMethodWithABodyThatIsARequest) {
  const std::string body = "GET /get-keys?count=4 HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(body.size(), 43u);
  ExpectOneRefusalThenClose(
      "PROPFIND /get-key HTTP/1.1\r\nHost: a\r\nContent-Length: 43\r\n\r\n" +
          body,
      501);
}

TEST_F(HttpFramingTest, LeadingEmptyLine) {
  ExpectOneRefusalThenClose("\r\n" + kGetKey, 400);
}

TEST_F(HttpFramingTest, BareLineFeeds) {
  ExpectOneRefusalThenClose("GET /get-key HTTP/1.1\nHost: a\n\n" + kGetKey,
                            400);
  ExpectOneRefusalThenClose(
      "GET /healthz HTTP/1.1\r\nHost: a\nGET /get-key HTTP/1.1\r\nHost: "
      "a\r\n\r\n",
      400);
}

TEST_F(HttpFramingTest, TabsInTheRequestLine) {
  ExpectOneRefusalThenClose(
      "GET\t/get-key\tHTTP/1.1\r\nHost: a\r\n\r\n" + kGetKey, 400);
}

TEST_F(HttpFramingTest, LowercaseMethod) {
  ExpectOneRefusalThenClose(
      "get /get-key HTTP/1.1\r\nHost: a\r\n\r\n" + kGetKey, 501);
}

TEST_F(HttpFramingTest, ConnectionCloseOnABadRequestIsHonoured) {
  ExpectOneRefusalThenClose(
      "GET /x HTTP/2.0\r\nConnection: close\r\n\r\n" + kGetKey, 505);
}

// ---- Item 2: forms that enable smuggling ------------------------------------

TEST_F(HttpFramingTest, WhitespaceBeforeTheColonOfTransferEncoding) {
  ExpectOneRefusalThenClose(
      "GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n"
      "\r\n0\r\n\r\n" +
          kGetKey,
      400);
}

TEST_F(HttpFramingTest, TwoDifferentContentLengths) {
  const std::string smuggled =
      "GET /get-keys?count=3 HTTP/1.1\r\nHost: a\r\n\r\n";
  ExpectOneRefusalThenClose(
      "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
      "Content-Length: " +
          std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled,
      400);
}

TEST_F(HttpFramingTest, Http11WithoutHost) {
  ExpectOneRefusalThenClose("GET /get-key HTTP/1.1\r\n\r\n", 400);
}

TEST_F(HttpFramingTest, NulInAHeaderNameOrValue) {
  ExpectOneRefusalThenClose(
      "GET /get-key HTTP/1.1\r\nHost: a\r\nX-A\0B: 1\r\n\r\n"s, 400);
  ExpectOneRefusalThenClose(
      "GET /get-key HTTP/1.1\r\nHost: a\r\nX-A: 1\0 2\r\n\r\n"s, 400);
}

TEST_F(HttpFramingTest, TwoAuthorizationHeaders) {
  ExpectOneRefusalThenClose(
      "GET /get-key HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\n"
      "Authorization: Bearer b\r\n\r\n",
      400);
}

// An error cpp-httplib answers itself (here 416 for a Range it cannot
// parse, on a route it answers) closes the connection the same way.
TEST_F(HttpFramingTest, HttplibsOwnErrorsCloseTheConnectionToo) {
  ExpectOneRefusalThenClose(
      "GET /check-key?key=abc HTTP/1.1\r\nHost: a\r\nRange: bytes=z\r\n\r\n" +
          kGetKey,
      416);
}

// RFC 9112 §3.2.2: a server must accept the absolute form; it is served
// like the path it names, and the connection stays open.
TEST_F(HttpFramingTest, AbsoluteFormIsServed) {
  RawConn c(port_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c.Send("GET http://a/get-key HTTP/1.1\r\nHost: a\r\n\r\n"
             "GET HTTP://a:80/get-keys?count=2 HTTP/1.1\r\nHost: a\r\n\r\n"));
  const auto r = c.Read(2, kDeadline);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 200) << r[0].body;
  EXPECT_EQ(r[0].body.size(), 7u) << r[0].body;
  EXPECT_EQ(r[1].status, 200) << r[1].body;
  EXPECT_EQ(std::count(r[1].body.begin(), r[1].body.end(), '\n'), 2);
  EXPECT_FALSE(c.ClosedNow());
}

// Accept exactly `count=<digits>` once; every other form is a 400 naming
// the parameter, and no key leaves.
TEST_F(HttpFramingTest, QueryFormsOtherThanOneCountAreRefused) {
  const long before = KeysServed();
  for (const std::string query :
       {"count==2", "count=1=2", "count=2%26count=3", "count=1;count=2",
        "count=2&count=2", "x=1;count=2&count=3"}) {
    const HttpResponse r = Get(port_, "/get-keys?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_NE(r.body.find("count"), std::string::npos) << r.body;
    EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 1) << r.body;
  }
  EXPECT_EQ(KeysServed(), before);
}

}  // namespace
}  // namespace forge::faults
