// tests/frontend/openapi_conformance_test.cpp — docs/openapi.yaml against
// the real forge-frontend (CTest frontend.openapi_conformance).
//
// Reads every route, operation and response status from the description
// ($FORGE_OPENAPI) and sends, for each (route, method, status), the
// requests that must produce it to a real forge-broker + forge-frontend
// (tests/support Stack: loopback, free port, temp dir, own SHM_NAME, stopped
// by pid). Each answer must have the status, one of the documented
// Content-Types, and every header the description marks required (with
// the value when the header's schema has a `const`). A documented status
// this test has no request for fails the test, and so does an answer whose
// status is not the one expected.
//
// One frontend configuration reaches every documented pair: AUTH_TOKEN, a
// scoped token in AUTH_TOKENS_FILE (namespace "other" only) and
// AUTH_PROTECT_ALL=true, so 401 and 403 are reachable on every route that
// documents them. The frontend starts before the broker: while no segment
// exists every key route and /healthz answer 503 (phase kNoBroker); then the
// broker starts and everything else is asked (phase kServing). No pair
// needs a separate frontend configuration.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

constexpr std::string_view kAdminToken = "openapi-admin-token-0123456789";
constexpr std::string_view kScopedToken = "openapi-scoped-token-0123456789";
constexpr milliseconds kDeadline{20000};

// The methods the server parses besides GET: each is answered 405.
const std::vector<std::string> kOtherMethods = {
    "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"};

// ---- reading the description ----

// Follows a local "$ref" ("#/components/responses/X") to its node.
// Node::reset rebinds a handle; assigning one Node to another would
// overwrite the referenced node's content instead (yaml-cpp semantics).
YAML::Node Resolve(const YAML::Node& root, YAML::Node node) {
  while (node.IsMap() && node["$ref"]) {
    const std::string ref = node["$ref"].as<std::string>();
    if (ref.rfind("#/", 0) != 0) {
      throw std::runtime_error("only local $ref is supported: " + ref);
    }
    YAML::Node at;
    at.reset(root);
    std::istringstream parts(ref.substr(2));
    for (std::string part; std::getline(parts, part, '/');) {
      const YAML::Node next = at[part];
      if (!next) throw std::runtime_error("unresolved $ref " + ref);
      at.reset(next);
    }
    node.reset(at);
  }
  return node;
}

struct Param {
  std::string name;
  bool required = false;
  std::string example;
};

struct Header {
  std::string name;
  std::string value;  // the schema's const, "" when any value will do
};

struct Documented {
  std::string path;
  std::string method;  // "GET" or "HEAD"
  int status = 0;
  std::vector<Param> params;
  std::set<std::string> media_types;
  std::vector<Header> required_headers;

  std::string Name() const {
    return method + " " + path + " " + std::to_string(status);
  }
  bool HasParam(std::string_view name) const {
    for (const Param& p : params) {
      if (p.name == name) return true;
    }
    return false;
  }
};

std::vector<Param> ReadParams(const YAML::Node& root, const YAML::Node& op) {
  std::vector<Param> params;
  for (const YAML::Node& ref : op["parameters"]) {
    const YAML::Node p = Resolve(root, ref);
    params.push_back({p["name"].as<std::string>(),
                      p["required"] && p["required"].as<bool>(),
                      p["example"] ? p["example"].as<std::string>() : ""});
  }
  return params;
}

std::vector<Header> RequiredHeaders(const YAML::Node& root,
                                    const YAML::Node& response) {
  std::vector<Header> headers;
  for (const auto& entry : response["headers"]) {
    const YAML::Node h = Resolve(root, entry.second);
    if (!h["required"] || !h["required"].as<bool>()) continue;
    const YAML::Node schema = h["schema"];
    headers.push_back(
        {entry.first.as<std::string>(),
         schema && schema["const"] ? schema["const"].as<std::string>() : ""});
  }
  return headers;
}

std::vector<Documented> ReadDescription(const YAML::Node& root) {
  std::vector<Documented> all;
  for (const auto& path : root["paths"]) {
    for (const auto& op : path.second) {
      std::string method = op.first.as<std::string>();
      for (char& c : method) c = static_cast<char>(std::toupper(c));
      for (const auto& resp : op.second["responses"]) {
        const YAML::Node r = Resolve(root, resp.second);
        Documented d;
        d.path = path.first.as<std::string>();
        d.method = method;
        d.status = resp.first.as<int>();
        d.params = ReadParams(root, op.second);
        for (const auto& media : r["content"]) {
          d.media_types.insert(media.first.as<std::string>());
        }
        d.required_headers = RequiredHeaders(root, r);
        all.push_back(std::move(d));
      }
    }
  }
  return all;
}

// ---- the requests ----

enum class Phase { kNoBroker, kServing };

struct Probe {
  std::string what;  // for failure messages
  std::string request;
  Phase phase = Phase::kServing;
};

std::string Bearer(std::string_view token) {
  return "Authorization: Bearer " + std::string(token) + "\r\n";
}

// The bytes of a request: request line, Host, `headers`, empty line.
std::string Request(const std::string& method, const std::string& target,
                    const std::string& headers = Bearer(kAdminToken),
                    const std::string& version = "HTTP/1.1") {
  return method + " " + target + " " + version + "\r\nHost: 127.0.0.1\r\n" +
         headers + "\r\n";
}

// The path with every required parameter set to its example, except
// `omit`, plus `extra` ("name=value").
std::string Target(const Documented& d, const std::string& omit = "",
                   const std::string& extra = "") {
  std::string query;
  for (const Param& p : d.params) {
    if (!p.required || p.name == omit) continue;
    query += (query.empty() ? "" : "&") + p.name + "=" + p.example;
  }
  if (!extra.empty()) query += (query.empty() ? "" : "&") + extra;
  return query.empty() ? d.path : d.path + "?" + query;
}

std::vector<Probe> GetProbes(const Documented& d) {
  const std::string t = Target(d);
  std::vector<Probe> p;
  switch (d.status) {
    case 200:
      p.push_back({"with the admin token", Request("GET", t)});
      break;
    case 400:
      p.push_back({"without Host", "GET " + t + " HTTP/1.1\r\n\r\n"});
      if (d.HasParam("ns")) {
        p.push_back({"with ns=", Request("GET", Target(d, "", "ns="))});
        p.push_back({"with ns given twice",
                     Request("GET", Target(d, "", "ns=default&ns=default"))});
      }
      for (const Param& param : d.params) {
        if (!param.required) continue;
        p.push_back(
            {"without " + param.name, Request("GET", Target(d, param.name))});
        p.push_back(
            {"with " + param.name + " twice",
             Request("GET", Target(d, "", param.name + "=" + param.example))});
      }
      break;
    case 401:
      p.push_back({"without Authorization", Request("GET", t, "")});
      p.push_back(
          {"with a wrong token", Request("GET", t, Bearer("not-a-token"))});
      p.push_back(
          {"with Basic", Request("GET", t, "Authorization: Basic eDp5\r\n")});
      break;
    case 403:
      if (d.HasParam("ns")) {
        p.push_back({"scoped token, ns=default",
                     Request("GET", Target(d, "", "ns=default"),
                             Bearer(kScopedToken))});
      }
      break;
    case 404:
      if (d.HasParam("ns")) {
        p.push_back({"ns=nosuch", Request("GET", Target(d, "", "ns=nosuch"))});
      }
      break;
    case 414:
      p.push_back(
          {"a 9000-byte target",
           Request("GET", Target(d, "", "pad=" + std::string(9000, 'a')))});
      break;
    case 416:
      // Documented for the routes cpp-httplib answers (the hot ones
      // ignore Range, fast_path.h).
      p.push_back(
          {"Range: bytes=zz",
           Request("GET", t, Bearer(kAdminToken) + "Range: bytes=zz\r\n")});
      break;
    case 431:
      p.push_back({"a 9000-byte header line",
                   Request("GET", t,
                           Bearer(kAdminToken) +
                               "X-Pad: " + std::string(9000, 'a') + "\r\n")});
      break;
    case 501:
      p.push_back({"method `get`", Request("get", t)});
      p.push_back({"method PROPFIND", Request("PROPFIND", t)});
      break;
    case 503:
      p.push_back(
          {"before the broker started", Request("GET", t), Phase::kNoBroker});
      break;
    case 505:
      p.push_back(
          {"HTTP/2.0", Request("GET", t, Bearer(kAdminToken), "HTTP/2.0")});
      break;
    default:
      break;
  }
  return p;
}

std::vector<Probe> ProbesFor(const Documented& d) {
  if (d.method == "GET") return GetProbes(d);
  std::vector<Probe> p;
  if (d.method == "HEAD" && d.status == 405) {
    for (const std::string& m : kOtherMethods) {
      p.push_back({"method " + m, Request(m, Target(d))});
    }
  }
  return p;
}

// ---- checking the answers ----

// Empty when `r` is what `d` documents, else what differs.
std::string Mismatch(const Documented& d, const HttpResponse& r) {
  if (r.status != d.status) {
    return "status " + std::to_string(r.status) + " (" + r.error +
           "): " + r.body.substr(0, 200);
  }
  std::string out;
  const std::string type = r.Header("Content-Type");
  if (!d.media_types.empty() && d.media_types.count(type) == 0) {
    out += "Content-Type \"" + type + "\" is not documented; ";
  }
  for (const Header& h : d.required_headers) {
    const std::string value = r.Header(h.name);
    if (value.empty()) {
      out += "no " + h.name + " header; ";
    } else if (!h.value.empty() && value != h.value) {
      out += h.name + ": \"" + value + "\", documented \"" + h.value + "\"; ";
    }
  }
  return out;
}

class OpenApiConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* file = std::getenv("FORGE_OPENAPI");
    ASSERT_NE(file, nullptr) << "FORGE_OPENAPI (the path of docs/openapi.yaml) "
                                "is set by CTest";
    root_ = YAML::LoadFile(file);
    documented_ = ReadDescription(root_);
    ASSERT_FALSE(documented_.empty()) << file << " documents no route";
    WriteFile(stack_.dir() / "tokens", std::string(kScopedToken) + " other\n");
  }

  Env FrontendEnv() const {
    return {{"AUTH_TOKEN", std::string(kAdminToken)},
            {"AUTH_TOKENS_FILE", stack_.dir() / "tokens"},
            {"AUTH_PROTECT_ALL", "true"},
            {"WORKERS", "1"},
            {"EMPTY_WAIT_MS", "20"}};
  }

  int Status(const std::string& request) const {
    return RawRequest(stack_.port(), request).status;
  }

  // Sends every probe of `phase`; counts per documented pair.
  void Run(Phase phase, std::map<std::string, int>* probed) {
    for (const Documented& d : documented_) {
      for (const Probe& p : ProbesFor(d)) {
        if (p.phase != phase) continue;
        ++(*probed)[d.Name()];
        const HttpResponse r = RawRequest(stack_.port(), p.request);
        const std::string wrong = Mismatch(d, r);
        EXPECT_EQ(wrong, "") << d.Name() << ", " << p.what << ": " << wrong;
      }
    }
  }

  YAML::Node root_;
  std::vector<Documented> documented_;
  Stack stack_{Env{{"POOL_CAPACITY", "1024"}}};
};

TEST_F(OpenApiConformance, EveryDocumentedStatusOfEveryRoute) {
  std::set<std::string> paths, with_200, with_405;
  for (const Documented& d : documented_) {
    paths.insert(d.path);
    if (d.method == "GET" && d.status == 200) with_200.insert(d.path);
    if (d.method == "HEAD" && d.status == 405) with_405.insert(d.path);
  }
  EXPECT_EQ(with_200, paths) << "every route documents GET 200";
  EXPECT_EQ(with_405, paths) << "every route documents the 405 of HEAD";

  std::map<std::string, int> probed;
  stack_.HoldFrontend(FrontendEnv());
  const std::string ping = Request("GET", "/metrics");
  ASSERT_TRUE(WaitUntil([&] { return Status(ping) == 200; }, kDeadline))
      << stack_.Logs();
  Run(Phase::kNoBroker, &probed);

  stack_.HoldBroker();
  ASSERT_TRUE(WaitUntil(
      [&] { return Status(Request("GET", "/healthz")) == 200; }, kDeadline))
      << stack_.Logs();
  Run(Phase::kServing, &probed);

  for (const Documented& d : documented_) {
    EXPECT_GT(probed[d.Name()], 0)
        << d.Name() << " is documented but this test has no request that "
        << "produces it: add one (ProbesFor) or correct docs/openapi.yaml";
  }
  int requests = 0;
  for (const auto& [pair, n] : probed) requests += n;
  std::cout << probed.size() << " documented (method, route, status) pairs, "
            << requests << " requests\n";
}

}  // namespace
}  // namespace forge::testing
