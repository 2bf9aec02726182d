#include <gtest/gtest.h>

#include "config/config.h"

namespace forge::config {
namespace {

TEST(MaskDbUrl, HidesTheUserInfoPassword) {
  EXPECT_EQ(MaskDbUrl("postgres://forge:s3cret@db:5432/forge"),
            "postgres://forge:***@db:5432/forge");
  EXPECT_EQ(MaskDbUrl("postgresql://u:p@ss/w@rd@db/forge"),
            "postgresql://u:***@db/forge");
}

TEST(MaskDbUrl, HidesPasswordParameters) {
  EXPECT_EQ(MaskDbUrl("postgresql://db/forge?user=u&password=s3cret&ssl=1"),
            "postgresql://db/forge?user=u&password=***&ssl=1");
  EXPECT_EQ(MaskDbUrl("postgres://db/f?PASSWORD=x"),
            "postgres://db/f?PASSWORD=***");
  EXPECT_EQ(MaskDbUrl("host=db password=s3cret dbname=f"),
            "host=db password=*** dbname=f");
}

TEST(MaskDbUrl, HidesAPasswordWithoutAScheme) {
  EXPECT_EQ(MaskDbUrl("forge:s3cret@db/forge"), "forge:***@db/forge");
}

TEST(MaskDbUrl, LeavesUrlsWithoutPasswordsAlone) {
  for (const char* url :
       {"sqlite:./data/forge.db", "postgres://forge@db:5432/forge",
        "postgres://db:5432/forge", "postgresql:///forge?host=/run/pg"}) {
    EXPECT_EQ(MaskDbUrl(url), url);
  }
}

TEST(SourceName, NamesEverySource) {
  EXPECT_STREQ(SourceName(Source::kDefault), "default");
  EXPECT_STREQ(SourceName(Source::kYaml), "config.yml");
  EXPECT_STREQ(SourceName(Source::kDotEnv), ".env");
  EXPECT_STREQ(SourceName(Source::kEnv), "environment");
  EXPECT_STREQ(SourceName(Source::kFlag), "flag");
}

TEST(Environment, FromProcessReadsVariablesAndCwd) {
  ::setenv("FORGE_CONFIG_TEST_VAR", "a=b", 1);
  const Environment env = Environment::FromProcess();
  EXPECT_EQ(env.vars.at("FORGE_CONFIG_TEST_VAR"), "a=b");
  EXPECT_EQ(env.cwd.front(), '/');
  ::unsetenv("FORGE_CONFIG_TEST_VAR");
}

}  // namespace
}  // namespace forge::config
