// ${VAR} expansion in config.yml, the .env syntax, and the shipped
// config/config.yml and config/.env.example.
#include <gmock/gmock.h>

#include <regex>
#include <string>

#include "tests/config/fixture.h"

namespace forge::config::test {
namespace {

using ::testing::HasSubstr;

TEST_F(ConfigTest, ExpandsVariablesFromEnvironmentThenDotEnv) {
  Write("config/config.yml",
        "db_url: postgres://forge:${PGPASSWORD}@${DB_HOST}/forge\n");
  Write(".env", "PGPASSWORD=from-dotenv\nDB_HOST=dotenv-host\n");
  env_.vars["PGPASSWORD"] = "from-env";
  EXPECT_EQ(Load().db_url, "postgres://forge:from-env@dotenv-host/forge");
}

TEST_F(ConfigTest, ExpansionDefaults) {
  Write("config/config.yml", "shm_name: ${NAME:-fallback}\n");
  EXPECT_EQ(Load().shm_name, "fallback");  // unset
  env_.vars["NAME"] = "";
  EXPECT_EQ(Load().shm_name, "fallback");  // empty, as in the shell
  env_.vars["NAME"] = "given";
  EXPECT_EQ(Load().shm_name, "given");
}

TEST_F(ConfigTest, ExpandedNumbersAreValidatedWithTheirOrigin) {
  const std::string path =
      Write("config/config.yml", "host: h\nport: ${MY_PORT:-8081}\n");
  EXPECT_EQ(Load().port, 8081);
  env_.vars["MY_PORT"] = "http";
  EXPECT_EQ(LoadError(), "config: PORT=\"http\" (from config.yml " + path +
                             ":2) is not an integer; allowed: integer "
                             "1..65535");
}

TEST_F(ConfigTest, UnsetVariableWithoutDefaultIsAnError) {
  const std::string path =
      Write("config/config.yml",
            "port: 80\ndb_url: postgres://u:${PGPASSWORD}@h/d\n");
  EXPECT_EQ(LoadError(),
            "config: config.yml " + path +
                ":2: ${PGPASSWORD} is not set in the environment or .env; "
                "allowed: set PGPASSWORD, or write ${PGPASSWORD:-default}");
}

TEST_F(ConfigTest, DoubledDollarIsALiteral) {
  Write("config/config.yml", "db_url: sqlite:/tmp/$${X}/a$b\n");
  EXPECT_EQ(Load().db_url, "sqlite:/tmp/${X}/a$b");
}

TEST_F(ConfigTest, BadReferences) {
  const std::string path = Write("config/config.yml", "db_url: sqlite:${X\n");
  EXPECT_THAT(LoadError(),
              HasSubstr(path + ":1: unterminated \"${\" in \"sqlite:${X\""));
  Write("config/config.yml", "db_url: sqlite:${1X}\n");
  EXPECT_THAT(LoadError(), HasSubstr(":1: bad variable reference \"${1X}\""));
}

TEST_F(ConfigTest, DotEnvSyntax) {
  Write(".env",
        "# comment\n"
        "\n"
        "export PORT=8082\n"
        "HOST = 'my-host'   # trailing comment\n"
        "SHM_NAME=\"a-b\"\n"
        "DB_URL=sqlite:/x#y   # '#' inside a bare value is kept\n"
        "LOG_FORMAT=json\r\n"
        "QUOTED=\"one\\ttwo \\\"three\\\"\"\n"
        "UNUSED_BY_US=anything goes\n");
  Write("config/config.yml", "range_size: ${MISSING:-7}\n");
  const Config cfg = Load();
  EXPECT_EQ(cfg.port, 8082);
  EXPECT_EQ(cfg.host, "my-host");
  EXPECT_EQ(cfg.shm_name, "a-b");
  EXPECT_EQ(cfg.db_url, "sqlite:/x#y");
  EXPECT_EQ(cfg.log_format, LogFormat::kJson);
  EXPECT_EQ(cfg.range_size, 7u);
}

TEST_F(ConfigTest, DotEnvDoubleQuotesUnescape) {
  Write(".env", "V=\"a\\tb \\\"c\\\" \\\\\"\n");
  Write("config/config.yml", "db_url: sqlite:${V}\n");
  EXPECT_EQ(Load().db_url, "sqlite:a\tb \"c\" \\");
}

TEST_F(ConfigTest, BadDotEnvLines) {
  struct Case {
    std::string line;
    std::string detail;
  };
  for (const Case& c :
       {Case{"PORT 8080", "no '=' in \"PORT 8080\""},
        Case{"1PORT=8080", "bad variable name \"1PORT\""},
        Case{"=8080", "bad variable name \"\""},
        Case{"PORT=\"8080", "unterminated \" quote"},
        Case{"PORT='8080", "unterminated ' quote"},
        Case{"PORT='80' 80", "text \"80\" after the closing quote"},
        Case{"PORT=1\nPORT=2", "PORT is set again (first on line 2)"}}) {
    const std::string path = Write(".env", "# first\n" + c.line + "\n");
    const std::string msg = LoadError();
    EXPECT_THAT(msg, HasSubstr(".env " + path + ":"));
    EXPECT_THAT(msg, HasSubstr(": malformed line (" + c.detail + ")"));
    EXPECT_THAT(msg, HasSubstr("allowed: KEY=VALUE lines (KEY of letters"));
  }
  const std::string path = Write(".env", "# first\nPORT 8080\n");
  EXPECT_THAT(LoadError(), HasSubstr(".env " + path + ":2: malformed"));
}

TEST_F(ConfigTest, UnreadableDotEnv) {
  Write(".env/keep", "");
  EXPECT_THAT(LoadError(), HasSubstr(".env " + Path(".env") +
                                     ": cannot be read (Is a directory)"));
}

const std::string kSource = FORGE_SOURCE_DIR;

TEST_F(ConfigTest, ShippedConfigYmlLoadsToTheDefaults) {
  const std::string path = kSource + "/config/config.yml";
  const Config cfg = Load({"--config", path});
  ExpectDefaults(cfg);
  EXPECT_EQ(cfg.config_path, path);
}

TEST_F(ConfigTest, ShippedConfigYmlNamesEveryKey) {
  const std::string text = ReadText(kSource + "/config/config.yml");
  for (const std::string& key : kYmlKeys) {
    EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)" + key + ":")))
        << key;
  }
}

// Every "# KEY=VALUE" line of .env.example uncommented.
std::string Uncommented(const std::string& text) {
  return std::regex_replace(text, std::regex("(^|\n)# ([A-Z_]+=)"), "$1$2");
}

TEST_F(ConfigTest, ShippedDotEnvExampleLoads) {
  const std::string text = ReadText(kSource + "/config/.env.example");
  ASSERT_FALSE(text.empty());
  Write(".env", text);
  ExpectDefaults(Load());  // as shipped, everything is commented out

  // Uncommented, every documented default is valid and is the default.
  Write(".env", Uncommented(text));
  Write("config/config.yml", ReadText(kSource + "/config/config.yml"));
  Config cfg = Load();
  EXPECT_EQ(cfg.config_path, Path("./config/config.yml"));
  EXPECT_EQ(cfg.workers, 4);  // the example value; the default is the CPUs
  cfg.workers = std::min(NprocCount(), 256);
  // The example token is valid (the default is no token at all).
  EXPECT_EQ(cfg.auth_token, "example-token-replace-me-0123456789");
  cfg.auth_token.clear();
  ExpectDefaults(cfg);
}

TEST_F(ConfigTest, ShippedDotEnvExampleNamesEveryKey) {
  const std::string text =
      Uncommented(ReadText(kSource + "/config/.env.example"));
  for (std::string key : kYmlKeys) {
    for (char& c : key) c = static_cast<char>(std::toupper(c));
    EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)" + key + "=")))
        << key;
  }
  EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)CONFIG_PATH=")));
}

}  // namespace
}  // namespace forge::config::test
