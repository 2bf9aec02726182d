// Bearer-token authentication of the Router (AuthPolicy in
// frontend/handlers.h): which routes need the token, the 401 answers, the
// header syntax, and the fixed-time comparison.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "frontend/handlers.h"
#include "tests/frontend/fake_backend.h"

namespace forge::frontend {
namespace {

using testing::FakeBackend;
using testing::FakeStatus;
using testing::HealthySnapshot;

constexpr const char* kToken = "s3cret-token-0123456789";
constexpr const char* kGood = "Bearer s3cret-token-0123456789";

class AuthTest : public ::testing::Test {
 protected:
  AuthTest() { backend_.SetSnapshot(HealthySnapshot()); }

  Reply Get(const Router& router, std::string_view path,
            std::string_view authorization) {
    return router.Handle("GET", path, {{"count", "2"}}, authorization);
  }

  FakeBackend backend_;
  FakeStatus status_;  // /status.json answers 200
  Router open_{backend_, RouterLimits{100}, {}, &status_.source};
  Router keys_only_{backend_, RouterLimits{100}, AuthPolicy{.token = kToken},
                    &status_.source};
  Router all_{backend_, RouterLimits{100},
              AuthPolicy{.token = kToken, .protect_all = true},
              &status_.source};
};

void ExpectUnauthorized(const Reply& r, std::string_view challenge,
                        std::string_view says) {
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("WWW-Authenticate"), challenge);
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(r.body.rfind(says, 0), 0u) << r.body;
  EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << "one line";
  EXPECT_EQ(r.body.find(kToken), std::string::npos) << "never echoed";
}

TEST_F(AuthTest, WithoutATokenEverythingIsOpen) {
  EXPECT_FALSE(open_.auth_enabled());
  for (const char* path : {"/get-key", "/get-keys", "/healthz", "/metrics",
                           "/status", "/status.json"}) {
    EXPECT_EQ(Get(open_, path, "").status, 200) << path;
    EXPECT_EQ(Get(open_, path, "Bearer whatever").status, 200) << path;
  }
}

TEST_F(AuthTest, KeyRoutesNeedTheToken) {
  EXPECT_TRUE(keys_only_.auth_enabled());
  for (const char* path : {"/get-key", "/get-keys"}) {
    ExpectUnauthorized(Get(keys_only_, path, ""), "Bearer realm=\"mini-forge\"",
                       "authentication required");
    ExpectUnauthorized(Get(keys_only_, path, "Bearer wrong-token-0123456789"),
                       "Bearer realm=\"mini-forge\", error=\"invalid_token\"",
                       "the bearer token is wrong");
    ExpectUnauthorized(Get(keys_only_, path, "Basic dXNlcjpwYXNz"),
                       "Bearer realm=\"mini-forge\"",
                       "the Authorization header is not a bearer token");
  }
  EXPECT_EQ(backend_.take_calls(), 0u) << "no key claimed before the check";
  EXPECT_EQ(Get(keys_only_, "/get-key", kGood).body, "k000000");
  EXPECT_EQ(Get(keys_only_, "/get-keys", kGood).body, "k000001\nk000002\n");
}

TEST_F(AuthTest, HealthMetricsAndStatusStayOpenUnlessProtectAll) {
  for (const char* path : {"/healthz", "/metrics", "/status", "/status.json"}) {
    EXPECT_EQ(Get(keys_only_, path, "").status, 200) << path;
    ExpectUnauthorized(Get(all_, path, ""), "Bearer realm=\"mini-forge\"",
                       "authentication required");
    ExpectUnauthorized(Get(all_, path, "Bearer nope-nope-nope-nope"),
                       "Bearer realm=\"mini-forge\", error=\"invalid_token\"",
                       "the bearer token is wrong");
    EXPECT_EQ(Get(all_, path, kGood).status, 200) << path;
  }
  EXPECT_EQ(Get(all_, "/get-key", kGood).status, 200);
}

TEST_F(AuthTest, NotFoundAndMethodChecksComeFirst) {
  EXPECT_EQ(Get(all_, "/nope", "").status, 404);
  const Reply r = all_.Handle("POST", "/get-key", {}, "");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET");
}

TEST_F(AuthTest, NearMissesAreRejected) {
  const std::string token = kToken;
  for (const std::string& bad :
       {token.substr(0, token.size() - 1), token + "x", "x" + token,
        std::string(token.size(), 'a'), std::string(), token.substr(0, 1)}) {
    EXPECT_EQ(Get(keys_only_, "/get-key", "Bearer " + bad).status, 401) << bad;
  }
  std::string flipped = token;
  flipped.back() ^= 1;
  EXPECT_EQ(Get(keys_only_, "/get-key", "Bearer " + flipped).status, 401);
  EXPECT_EQ(backend_.take_calls(), 0u);
}

TEST(BearerTokenTest, ParsesTheSchemeInAnyCaseAndSpaces) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER   abc"), "abc");
  EXPECT_EQ(BearerToken("Bearer"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer "), std::nullopt);
  EXPECT_EQ(BearerToken("Bearerabc"), std::nullopt);
  EXPECT_EQ(BearerToken("Basic abc"), std::nullopt);
  EXPECT_EQ(BearerToken(""), std::nullopt);
}

TEST(TokenMatchesTest, EqualOnlyWhenEqual) {
  EXPECT_TRUE(TokenMatches("abc", "abc"));
  EXPECT_FALSE(TokenMatches("abd", "abc"));
  EXPECT_FALSE(TokenMatches("ab", "abc"));
  EXPECT_FALSE(TokenMatches("abcd", "abc"));
  EXPECT_FALSE(TokenMatches("", "abc"));
  EXPECT_FALSE(TokenMatches(std::string("ab\0", 3), "ab"));
  EXPECT_TRUE(TokenMatches("", ""));
}

}  // namespace
}  // namespace forge::frontend
