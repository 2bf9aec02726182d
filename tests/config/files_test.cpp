// ${VAR} expansion in config.yml, the .env syntax, and the shipped
// config/config.yml and config/.env.example.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <regex>
#include <string>
#include <vector>

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
  EXPECT_THAT(
      LoadError(),
      HasSubstr(".env " + Path(".env") +
                ": cannot be read (is a directory, not a regular file)"));
}

// The Go service's own files, verbatim (issue 10 item 5), with CONFIG_PATH
// naming the file as its README shows.
TEST_F(ConfigTest, GoServiceFilesLoadUnchanged) {
  Write("config/config.yml",
        "# Configuration file\n\nPORT: ${PORT}\nRANGE_SIZE: ${RANGE_SIZE}\n"
        "DEBUG_ENABLED: ${DEBUG_ENABLED}\n");
  Write(".env",
        "PORT=8080\nRANGE_SIZE=1000\nDEBUG_ENABLED=false\n"
        "CONFIG_PATH=\"./config/config.yml\"\n");
  const Config cfg = Load();
  EXPECT_EQ(cfg.port, 8080);
  EXPECT_EQ(cfg.range_size, 1000u);
  EXPECT_FALSE(cfg.debug);
  EXPECT_EQ(cfg.config_path, Path("./config/config.yml"));
  // The placeholder of the Go .env.example names no file: a clear error.
  const std::string env =
      Write(".env", "PORT=8080\nCONFIG_PATH=\"path to config file.yml\"\n");
  EXPECT_THAT(LoadError(),
              HasSubstr("CONFIG_PATH=\"path to config file.yml\" (from .env " +
                        env + ":2) names a file that does not exist"));
}

TEST_F(ConfigTest, ByteOrderMarkAtTheStartIsSkipped) {
  const std::string bom = "\xEF\xBB\xBF";
  Write(".env", bom + "PORT=8081\n");
  Write("config/config.yml", bom + "RANGE_SIZE: 12\n");
  const Config cfg = Load();
  EXPECT_EQ(cfg.port, 8081);
  EXPECT_EQ(cfg.range_size, 12u);
}

TEST_F(ConfigTest, ByteOrderMarkElsewhereIsNamed) {
  const std::string path = Write(".env", "HOST=h\n\xEF\xBB\xBFPORT=8081\n");
  EXPECT_THAT(LoadError(), HasSubstr(path + ":2: malformed line (bad variable "
                                            "name \"\\ufeffPORT\")"));
}

TEST_F(ConfigTest, SecondYamlDocumentIsAnError) {
  const std::string path =
      Write("config/config.yml", "port: 80\n---\nport: 81\n");
  const std::string msg = LoadError();
  EXPECT_THAT(msg, HasSubstr("config.yml " + path +
                             ":3: a second YAML "
                             "document starts here"));
  EXPECT_THAT(msg, HasSubstr("allowed: one document"));
  // One document with an explicit start marker is fine.
  Write("config/config.yml", "---\nport: 82\n...\n");
  EXPECT_EQ(Load().port, 82);
}

// 10,000 references to a 100 KB variable would be 1 GB: the loader stops
// at the first MiB.
TEST_F(ConfigTest, ExpandedValuesAreBounded) {
  env_.vars["X"] = std::string(100 * 1024, 'x');
  std::string refs;
  for (int i = 0; i < 10000; ++i) refs += "${X}";
  const std::string path = Write("config/config.yml", "db_url: " + refs + "\n");
  const std::string msg = LoadError();
  EXPECT_THAT(msg, HasSubstr(path + ":1: the value is longer than 1048576 "
                                    "bytes after ${VAR} expansion"));
  EXPECT_THAT(msg, HasSubstr("allowed: at most 1048576 bytes per value and "
                             "per file"));
  // Each value below the bound, all of them together above it.
  env_.vars["X"] = std::string(600 * 1024, 'x');
  Write("config/config.yml", "db_url: sqlite:${X}\nshm_name: ${X}\n");
  EXPECT_THAT(LoadError(), HasSubstr(path + ":2: the values of the file add "
                                            "up to more than 1048576 bytes"));
}

// A FIFO named as a config file is refused at once, never waited on.
TEST_F(ConfigTest, FifoIsRefusedWithoutWaitingForAWriter) {
  for (const std::string name : {"named.yml", ".env"}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(::mkfifo(Path(name).c_str(), 0600), 0);
    auto error = std::async(std::launch::async, [&] {
      return LoadError(name == ".env"
                           ? std::vector<std::string>{}
                           : std::vector<std::string>{"--config", Path(name)});
    });
    if (error.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      ADD_FAILURE() << "Load blocked on the FIFO";
      // Unblock the reader: a writer that closes at once gives it EOF.
      ::close(::open(Path(name).c_str(), O_WRONLY | O_NONBLOCK));
    }
    EXPECT_THAT(error.get(), HasSubstr("is a FIFO, not a regular file"));
    std::filesystem::remove(Path(name));
  }
}

const std::string kSource = FORGE_SOURCE_DIR;

TEST_F(ConfigTest, ShippedConfigYmlLoadsToTheDefaults) {
  const std::string path = kSource + "/config/config.yml";
  const Config cfg = Load({"--config", path});
  ExpectDefaults(cfg);
  EXPECT_EQ(cfg.config_path, path);
}

TEST_F(ConfigTest, ShippedConfigYmlNamesEveryKey) {
  const std::string text =
      forge::testing::ReadFile(kSource + "/config/config.yml");
  for (const std::string& key : kYmlKeys) {
    EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)" + key + ":")))
        << key;
  }
}

TEST_F(ConfigTest, ShippedConfigYmlDocumentsEveryNamespaceField) {
  const std::string text =
      forge::testing::ReadFile(kSource + "/config/config.yml");
  for (const std::string& field : kYmlNamespaceFields) {
    EXPECT_TRUE(std::regex_search(text, std::regex("\n#   " + field + " ")))
        << field;
  }
  // And the loader knows exactly these (its unknown-field message lists
  // them).
  Write("config/config.yml", "namespaces:\n  a: { colour: red }\n");
  std::string listed;
  for (const std::string& field : kYmlNamespaceFields) {
    listed += (listed.empty() ? "" : ", ") + field;
  }
  EXPECT_THAT(LoadError(), ::testing::HasSubstr("allowed: " + listed + " ("));
}

// Every "# KEY=VALUE" line of .env.example uncommented.
std::string Uncommented(const std::string& text) {
  return std::regex_replace(text, std::regex("(^|\n)# ([A-Z_]+=)"), "$1$2");
}

TEST_F(ConfigTest, ShippedDotEnvExampleLoads) {
  const std::string text =
      forge::testing::ReadFile(kSource + "/config/.env.example");
  ASSERT_FALSE(text.empty());
  Write(".env", text);
  ExpectDefaults(Load());  // as shipped, everything is commented out

  // Uncommented, every documented default is valid and is the default.
  Write(".env", Uncommented(text));
  Write("config/config.yml",
        forge::testing::ReadFile(kSource + "/config/config.yml"));
  Write("config/tokens.example",
        forge::testing::ReadFile(kSource + "/config/tokens.example"));
  Config cfg = Load();
  EXPECT_EQ(cfg.config_path, Path("./config/config.yml"));
  // The example served subset and scoped tokens are valid.
  EXPECT_EQ(cfg.serve_namespaces,
            (std::vector<std::string>{"default", "invites"}));
  ASSERT_EQ(cfg.scoped_tokens.size(), 2u);
  EXPECT_EQ(cfg.scoped_tokens[1].namespaces,
            (std::vector<std::string>{"orders", "default"}));
  cfg.serve_namespaces.clear();
  cfg.auth_tokens_file.clear();
  cfg.scoped_tokens.clear();
  EXPECT_EQ(cfg.workers, 4);  // the example value; the default is the CPUs
  cfg.workers = std::min(NprocCount(), 256);
  // The example token is valid (the default is no token at all).
  EXPECT_EQ(cfg.auth_token, "example-token-replace-me-0123456789");
  cfg.auth_token.clear();
  ExpectDefaults(cfg);
}

TEST_F(ConfigTest, ShippedDotEnvExampleNamesEveryKey) {
  const std::string text =
      Uncommented(forge::testing::ReadFile(kSource + "/config/.env.example"));
  for (std::string key : kYmlKeys) {
    for (char& c : key) c = static_cast<char>(std::toupper(c));
    EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)" + key + "=")))
        << key;
  }
  EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)CONFIG_PATH=")));
}

}  // namespace
}  // namespace forge::config::test
