// AUTH_TOKEN and AUTH_PROTECT_ALL: the rule (16..4096 printable ASCII
// characters, no spaces), one-line errors, and the token never appearing in
// any message.
#include <gmock/gmock.h>

#include <string>

#include "tests/config/fixture.h"

namespace forge::config::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kRule =
    "allowed: 16..4096 printable ASCII characters without spaces (e.g. "
    "openssl rand -hex 32); unset = no authentication";

TEST_F(ConfigTest, AuthIsOffByDefault) {
  const Config cfg = Load();
  EXPECT_EQ(cfg.auth_token, "");
  EXPECT_FALSE(cfg.auth_protect_all);
}

TEST_F(ConfigTest, AuthTokenAcceptsPrintableAsciiFrom16To4096Characters) {
  for (const std::string& token :
       {std::string(16, 'a'), std::string(4096, 'Z'),
        std::string("!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~")}) {
    env_.vars["AUTH_TOKEN"] = token;
    EXPECT_EQ(Load().auth_token, token);
  }
  EXPECT_EQ(Load({"--auth-token", "from-the-flag-0123"}).auth_token,
            "from-the-flag-0123");
}

TEST_F(ConfigTest, BadAuthTokensAreRejectedWithoutShowingThem) {
  struct Case {
    std::string value;
    std::string problem;
  };
  const std::string secretish = "s3cr3t";
  for (const Case& c : {
           Case{"", "is empty"},
           Case{secretish, "is 6 characters long"},
           Case{secretish + std::string(4091, 'x'), "is 4097 characters long"},
           Case{secretish + " with a space", "byte at position 7"},
           Case{secretish + "-tab\tinside", "byte at position 11"},
           Case{secretish + "-newline-end\n", "byte at position 19"},
           Case{secretish + "-caf\xc3\xa9-beans", "byte at position 11"},
       }) {
    env_.vars = {{"AUTH_TOKEN", c.value}};
    const std::string msg = LoadError();
    const std::string shown = c.value.empty() ? "\"\"" : "\"***\"";
    EXPECT_EQ(msg, "config: AUTH_TOKEN=" + shown + " (from environment) " +
                       (c.problem.starts_with("byte")
                            ? "has a space, control or non-ASCII " + c.problem
                            : c.problem) +
                       "; " + kRule);
    EXPECT_THAT(msg, Not(HasSubstr(secretish)));
  }
}

TEST_F(ConfigTest, ABadTokenInALowerLayerIsNotShownEither) {
  const std::string path =
      Write("config/config.yml", "auth_token: short-secret\n");
  env_.vars["AUTH_TOKEN"] = "a-good-token-0123456789";
  const std::string msg = LoadError();
  EXPECT_EQ(msg, "config: AUTH_TOKEN=\"***\" (from config.yml " + path +
                     ":1) is 12 characters long; " + kRule);
}

TEST_F(ConfigTest, AuthProtectAllIsASwitch) {
  env_.vars["AUTH_TOKEN"] = "a-good-token-0123456789";
  EXPECT_TRUE(Load({"--auth-protect-all"}).auth_protect_all);
  env_.vars["AUTH_PROTECT_ALL"] = "yes";
  EXPECT_TRUE(Load().auth_protect_all);
  env_.vars["AUTH_PROTECT_ALL"] = "sometimes";
  EXPECT_THAT(LoadError(),
              HasSubstr("AUTH_PROTECT_ALL=\"sometimes\" (from environment) is "
                        "not one of the allowed words"));
}

}  // namespace
}  // namespace forge::config::test
