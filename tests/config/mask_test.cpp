#include <gtest/gtest.h>

#include "config/config.h"
#include "config/db_url.h"

namespace forge::config {
namespace {

using base::StoreKind;
using base::StoreKindName;

// The one password redaction (config::RedactDbUrl) and the one DB_URL
// reader (config::ParseDbUrl): every message that shows a DB_URL, from the
// broker's start line to forge-ctl's errors, goes through these.
TEST(RedactDbUrl, HidesTheUserInfoPassword) {
  EXPECT_EQ(RedactDbUrl("postgres://forge:s3cret@db:5432/forge"),
            "postgres://forge:***@db:5432/forge");
  EXPECT_EQ(RedactDbUrl("postgresql://u:p@ss/w@rd@db/forge"),
            "postgresql://u:***@db/forge");
  EXPECT_EQ(RedactDbUrl("postgres://u:p/w@x@h/db"), "postgres://u:***@h/db");
}

TEST(RedactDbUrl, HidesEveryPasswordParameter) {
  EXPECT_EQ(RedactDbUrl("postgresql://db/forge?user=u&password=s3cret&ssl=1"),
            "postgresql://db/forge?user=u&password=***&ssl=1");
  EXPECT_EQ(RedactDbUrl("postgres://db/f?PASSWORD=x"),
            "postgres://db/f?PASSWORD=***");
  // libpq's sslpassword (the client key's passphrase) is a secret too.
  EXPECT_EQ(RedactDbUrl("postgres://u@h/db?sslmode=require&sslpassword=SECRET"),
            "postgres://u@h/db?sslmode=require&sslpassword=***");
  EXPECT_EQ(RedactDbUrl("postgres://u:a@h/db?sslpassword=B&password=C"),
            "postgres://u:***@h/db?sslpassword=***&password=***");
  // libpq decodes percent-encoded parameter names: so does the redaction.
  EXPECT_EQ(RedactDbUrl("postgres://h/db?ssl%70assword=SECRET"),
            "postgres://h/db?ssl%70assword=***");
  EXPECT_EQ(RedactDbUrl("host=db password=s3cret dbname=f"),
            "host=db password=*** dbname=f");
}

TEST(RedactDbUrl, HidesPasswordsOfUnknownSchemesAndBareUrls) {
  EXPECT_EQ(RedactDbUrl("mysql://app:hunter2@db/forge"),
            "mysql://app:***@db/forge");
  EXPECT_EQ(RedactDbUrl("forge:s3cret@db/forge"), "forge:***@db/forge");
}

TEST(RedactDbUrl, LeavesUrlsWithoutPasswordsAlone) {
  for (const char* url :
       {"sqlite:./data/forge.db", "sqlite:/var/lib/password=x.db",
        "postgres://forge@db:5432/forge", "postgres://db:5432/forge",
        "postgresql:///forge?host=/run/pg", "postgres://h:5432/db",
        "postgres://u@h:5432/db?sslmode=require"}) {
    EXPECT_EQ(RedactDbUrl(url), url);
  }
}

// Whatever the redaction returns, libpq itself finds no password in it.
TEST(RedactDbUrl, LibpqFindsNoPasswordInTheResult) {
  for (const char* url :
       {"postgres://u:pw@h/db", "postgresql://h/db?password=pw",
        "postgres://h/db?sslpassword=pw&sslmode=require",
        "postgres://u:p%40w@h:1,h2:2/db?application_name=x&password=pw"}) {
    const std::string redacted = RedactDbUrl(url);
    EXPECT_EQ(redacted.find("pw"), std::string::npos) << redacted;
  }
}

TEST(ParseDbUrl, AcceptsTheDocumentedForms) {
  struct Case {
    const char* url;
    StoreKind kind;
    const char* path;
  };
  for (const Case& c :
       {Case{"sqlite:./data/forge.db", StoreKind::kSqlite, "./data/forge.db"},
        Case{"sqlite:forge.db", StoreKind::kSqlite, "forge.db"},
        Case{"sqlite:/var/lib/forge.db", StoreKind::kSqlite,
             "/var/lib/forge.db"},
        Case{"sqlite:///var/lib/forge.db", StoreKind::kSqlite,
             "/var/lib/forge.db"},
        Case{"postgres://u@h/db", StoreKind::kPostgres, ""},
        Case{"postgresql:///db?host=/run/pg", StoreKind::kPostgres, ""},
        // Issue 16: several hosts, URI and keyword form.
        Case{
            "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
            StoreKind::kPostgres, ""},
        Case{"host=h1,h2 port=5432,5433 dbname=forge user=u",
             StoreKind::kPostgres, ""}}) {
    const DbUrl url = ParseDbUrl(c.url);
    EXPECT_TRUE(url.ok()) << c.url << ": " << url.problem;
    EXPECT_EQ(url.kind, c.kind) << c.url;
    EXPECT_EQ(url.sqlite_path, c.path) << c.url;
  }
}

TEST(ParseDbUrl, RefusesOtherFormsSayingWhy) {
  struct Case {
    const char* url;
    const char* problem;
  };
  for (const Case& c : {Case{"sqlite://x.db", "has a host part"},
                        Case{"sqlite://host/x.db", "has a host part"},
                        Case{"sqlite:~/x.db", "starts its path with \"~\""},
                        Case{"sqlite:", "has an empty path"},
                        Case{"SQLITE:x.db", "scheme in upper case"},
                        Case{"Postgres://h/db", "scheme in upper case"},
                        Case{"postgres://", "names no server or database"},
                        Case{"mysql://h/db", "has an unknown scheme"},
                        Case{"./data/forge.db", "has an unknown scheme"},
                        Case{"host=h1 colour=blue", "has an unknown scheme"},
                        Case{"", "is empty"}}) {
    const DbUrl url = ParseDbUrl(c.url);
    EXPECT_FALSE(url.ok()) << c.url;
    EXPECT_NE(url.problem.find(c.problem), std::string::npos)
        << c.url << ": " << url.problem;
    EXPECT_TRUE(url.sqlite_path.empty()) << c.url;
  }
  EXPECT_EQ(ParseDbUrl("SQLITE:x").kind, StoreKind::kUnknown);
  EXPECT_STREQ(StoreKindName(ParseDbUrl("sqlite:~/x").kind), "sqlite");
  EXPECT_STREQ(StoreKindName(ParseDbUrl("postgres://h/d").kind), "postgres");
  EXPECT_STREQ(StoreKindName(ParseDbUrl("x").kind), "unknown");
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
