// Every bad value is rejected with one line naming the key, the value,
// where it came from and what is allowed.
#include <gmock/gmock.h>

#include <string>

#include "tests/config/fixture.h"

namespace forge::config::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(ConfigTest, NonNumberFromEnvironment) {
  env_.vars["PORT"] = "abc";
  EXPECT_EQ(LoadError(),
            "config: PORT=\"abc\" (from environment) is not an integer; "
            "allowed: integer 1..65535");
}

// RANGE_SIZE: auto (the default) or fixed; MIN/MAX bound only auto
// (issue 18 §3).
TEST_F(ConfigTest, RangeSizeIsAutoOrFixedAndItsBoundsGoWithAutoOnly) {
  EXPECT_EQ(Load().range_size, Config::kAutoRangeSize);
  env_.vars = {{"RANGE_SIZE", "AUTO"},
               {"RANGE_SIZE_MIN", "50"},
               {"RANGE_SIZE_MAX", "500"}};
  Config cfg = Load();
  EXPECT_EQ(cfg.range_size, Config::kAutoRangeSize);
  EXPECT_EQ(cfg.range_size_min, 50u);
  EXPECT_EQ(cfg.range_size_max, 500u);
  cfg = Load({"--range-size-min=7", "--range-size-max", "8"});
  EXPECT_EQ(cfg.range_size_min, 7u);
  EXPECT_EQ(cfg.range_size_max, 8u);
  env_.vars = {{"RANGE_SIZE", "100"}};
  EXPECT_EQ(Load().range_size, 100u);
  env_.vars = {{"RANGE_SIZE", "lots"}};
  EXPECT_EQ(LoadError(),
            "config: RANGE_SIZE=\"lots\" (from environment) is not an "
            "integer; allowed: auto or integer 1..1000000000");
  env_.vars = {{"RANGE_SIZE", "100"}};
  EXPECT_EQ(LoadError({"--range-size-max=5000"}),
            "config: RANGE_SIZE_MAX=\"5000\" (from flag --range-size-max) "
            "bounds the automatic range size, but RANGE_SIZE=100 (from "
            "environment) fixes it; allowed: RANGE_SIZE_MIN/RANGE_SIZE_MAX "
            "only with RANGE_SIZE unset or auto");
  env_.vars = {{"RANGE_SIZE_MIN", "5000"}, {"RANGE_SIZE_MAX", "4000"}};
  EXPECT_EQ(LoadError(),
            "config: RANGE_SIZE_MIN=\"5000\" (from environment) leaves no "
            "size: RANGE_SIZE_MIN 5000 is above RANGE_SIZE_MAX 4000; allowed: "
            "RANGE_SIZE_MIN <= RANGE_SIZE_MAX");
  env_.vars = {{"RANGE_SIZE_MAX", "999"}};
  EXPECT_THAT(LoadError(), HasSubstr("config: RANGE_SIZE_MAX=\"999\""));
}

// ENCODE_THREADS: auto (the default) or 1..16 (issue 18 §2).
TEST_F(ConfigTest, EncodeThreadsIsAutoOrOneToSixteen) {
  EXPECT_EQ(Load().encode_threads, Config::kAutoEncodeThreads);
  env_.vars = {{"ENCODE_THREADS", "3"}};
  EXPECT_EQ(Load().encode_threads, 3u);
  EXPECT_EQ(Load({"--encode-threads=auto"}).encode_threads,
            Config::kAutoEncodeThreads);
  env_.vars = {{"ENCODE_THREADS", "0"}};
  EXPECT_EQ(LoadError(),
            "config: ENCODE_THREADS=\"0\" (from environment) is out of "
            "range; allowed: auto or integer 1..16");
  EXPECT_THAT(LoadError({"--encode-threads=many"}),
              HasSubstr("config: ENCODE_THREADS=\"many\" (from flag "
                        "--encode-threads) is not an integer"));
}

// BROKER_NICE: -10 by default, -20..19, negative values included.
TEST_F(ConfigTest, BrokerNiceIsMinusTwentyToNineteen) {
  EXPECT_EQ(Load().broker_nice, -10);
  EXPECT_EQ(Load({"--broker-nice=-0"}).broker_nice, 0);
  env_.vars = {{"BROKER_NICE", "-20"}};
  EXPECT_EQ(Load().broker_nice, -20);
  EXPECT_EQ(Load({"--broker-nice=19"}).broker_nice, 19);
  EXPECT_EQ(Load({"--broker-nice=0"}).broker_nice, 0);
  env_.vars = {{"BROKER_NICE", "-21"}};
  EXPECT_EQ(LoadError(),
            "config: BROKER_NICE=\"-21\" (from environment) is out of range; "
            "allowed: integer -20..19");
  EXPECT_THAT(
      LoadError({"--broker-nice=20"}),
      HasSubstr("BROKER_NICE=\"20\" (from flag --broker-nice) is out of "
                "range"));
  EXPECT_THAT(LoadError({"--broker-nice=--5"}), HasSubstr("is not an integer"));
  EXPECT_THAT(LoadError({"--broker-nice=-"}), HasSubstr("is not an integer"));
  EXPECT_THAT(LoadError({"--broker-nice=+5"}), HasSubstr("is not an integer"));
  EXPECT_THAT(LoadError({"--broker-nice=-99999999999999999999999"}),
              HasSubstr("is out of range"));
}

TEST_F(ConfigTest, ShmModeIsOwnerOnlyOrGroup) {
  EXPECT_EQ(Load().shm_mode, 0600U);
  env_.vars["SHM_MODE"] = "0660";
  EXPECT_EQ(Load().shm_mode, 0660U);
  env_.vars["SHM_MODE"] = "0644";
  EXPECT_EQ(LoadError(),
            "config: SHM_MODE=\"0644\" (from environment) is not one of the "
            "allowed words; allowed: 0600 or 0660");
}

TEST_F(ConfigTest, OutOfRangeFromEnvironment) {
  env_.vars["PORT"] = "70000";
  EXPECT_EQ(LoadError(),
            "config: PORT=\"70000\" (from environment) is out of range; "
            "allowed: integer 1..65535");
}

TEST_F(ConfigTest, BadFlagValueNamesTheFlag) {
  EXPECT_EQ(LoadError({"--port", "abc"}),
            "config: PORT=\"abc\" (from flag --port) is not an integer; "
            "allowed: integer 1..65535");
}

TEST_F(ConfigTest, NotAPowerOfTwoFromYml) {
  const std::string path = Write("config/config.yml",
                                 "port: 80\n"
                                 "pool_capacity: 1000\n");
  EXPECT_EQ(LoadError(), "config: POOL_CAPACITY=\"1000\" (from config.yml " +
                             path +
                             ":2) is not a power of two; allowed: 2, 4, 8, "
                             "…, 67108864");
}

TEST_F(ConfigTest, StrictIntegers) {
  struct Case {
    const char* key;
    const char* value;
    const char* problem;
  };
  const Case cases[] = {
      {"PORT", "0", "is out of range"},
      {"PORT", "-1", "is out of range"},
      {"PORT", "65536", "is out of range"},
      {"PORT", "99999999999999999999999", "is out of range"},
      {"PORT", "80x", "is not an integer"},
      {"PORT", "1.5", "is not an integer"},
      {"PORT", "1e3", "is not an integer"},
      {"PORT", "+80", "is not an integer"},
      {"PORT", " 80", "is not an integer"},
      {"PORT", "0x50", "is not an integer"},
      {"PORT", "", "is empty"},
      {"WORKERS", "0", "is out of range"},
      {"WORKERS", "257", "is out of range"},
      {"RANGE_SIZE", "1000000001", "is out of range"},
      {"POOL_CAPACITY", "1", "is out of range"},
      {"POOL_CAPACITY", "134217728", "is out of range"},  // 2^27
      {"POOL_CAPACITY", "3", "is not a power of two"},
      {"KEY_LENGTH", "11", "is out of range"},
      {"KEY_LENGTH", "0", "is out of range"},
      {"EMPTY_WAIT_MS", "60001", "is out of range"},
      {"MAX_BATCH", "1000001", "is out of range"},
      {"HTTP_THREADS", "4097", "is out of range"},
      {"KEEP_ALIVE_MAX", "0", "is out of range"},
      {"KEEP_ALIVE_TIMEOUT", "3601", "is out of range"},
      {"LISTEN_BACKLOG", "65536", "is out of range"},
      {"STORE_TIMEOUT_MS", "99", "is out of range"},
      {"STORE_TIMEOUT_MS", "600001", "is out of range"},
      {"STORE_TIMEOUT_MS", "2s", "is not an integer"},
  };
  for (const Case& c : cases) {
    env_.vars = {{c.key, c.value}};
    const std::string msg = LoadError();
    EXPECT_THAT(msg, HasSubstr(std::string(c.key) + "=\"" + c.value +
                               "\" (from environment) " + c.problem));
  }
}

TEST_F(ConfigTest, RangeEdgesAreAccepted) {
  env_.vars = {{"PORT", "65535"},
               {"RANGE_SIZE", "1000000000"},
               {"POOL_CAPACITY", "67108864"},
               {"EMPTY_WAIT_MS", "0"},
               {"WORKERS", "256"},
               {"KEY_LENGTH", "10"},
               {"STORE_TIMEOUT_MS", "100"}};
  const Config cfg = Load();
  EXPECT_EQ(cfg.store_timeout_ms, 100);
  EXPECT_EQ(cfg.port, 65535);
  EXPECT_EQ(cfg.range_size, 1000000000u);
  EXPECT_EQ(cfg.pool_capacity, 67108864u);
  EXPECT_EQ(cfg.empty_wait_ms, 0);
  EXPECT_EQ(cfg.workers, 256);
  EXPECT_EQ(cfg.key_length, 10);
}

TEST_F(ConfigTest, OverriddenBadValueIsStillRejected) {
  const std::string path = Write("config/config.yml", "port: abc\n");
  env_.vars["PORT"] = "8081";
  EXPECT_THAT(LoadError(),
              HasSubstr("PORT=\"abc\" (from config.yml " + path + ":1)"));
}

TEST_F(ConfigTest, BadDotEnvValueNamesFileAndLine) {
  const std::string path = Write(".env", "# comment\n\nMAX_BATCH=0\n");
  EXPECT_EQ(LoadError(), "config: MAX_BATCH=\"0\" (from .env " + path +
                             ":3) is out of range; allowed: integer "
                             "1..1000000");
}

TEST_F(ConfigTest, UnknownYmlKey) {
  const std::string path = Write("config/config.yml", "port: 80\nprot: 81\n");
  const std::string msg = LoadError();
  EXPECT_THAT(msg,
              HasSubstr("config.yml " + path + ":2: unknown key \"prot\""));
  EXPECT_THAT(msg, HasSubstr("allowed: the keys port, host, workers"));
  EXPECT_THAT(msg, HasSubstr("log_format"));
}

// The Go service's config.yml writes its keys in upper case.
TEST_F(ConfigTest, UpperCaseYmlKeysAreTheSameKeys) {
  Write("config/config.yml", "PORT: 80\nRANGE_SIZE: 7\nDebug_Enabled: true\n");
  const Config cfg = Load();
  EXPECT_EQ(cfg.port, 80);
  EXPECT_EQ(cfg.range_size, 7u);
  EXPECT_TRUE(cfg.debug);
  const std::string path = Write("config/config.yml", "PORT: abc\n");
  EXPECT_EQ(LoadError(), "config: PORT=\"abc\" (from config.yml " + path +
                             ":1) is not an integer; allowed: integer "
                             "1..65535");
}

TEST_F(ConfigTest, BothSpellingsOfOneKeyAreAnError) {
  const std::string path =
      Write("config/config.yml", "port: 80\nhost: h\nPORT: 81\n");
  const std::string msg = LoadError();
  EXPECT_THAT(msg, HasSubstr("config.yml " + path +
                             ":3: key PORT is set again (first on line 1 as "
                             "port)"));
  EXPECT_THAT(msg, HasSubstr("allowed: each key once"));
}

TEST_F(ConfigTest, UnknownUpperCaseYmlKeyIsStillAnError) {
  const std::string path = Write("config/config.yml", "PROT: 80\n");
  const std::string msg = LoadError();
  EXPECT_THAT(msg, HasSubstr(path + ":1: unknown key \"PROT\""));
  EXPECT_THAT(msg, HasSubstr("allowed: the keys port, host"));
}

// A setting that only makes sense with a token never turns into "open".
TEST_F(ConfigTest, AuthProtectAllWithoutATokenIsAnError) {
  env_.vars["AUTH_PROTECT_ALL"] = "true";
  EXPECT_EQ(LoadError(),
            "config: AUTH_PROTECT_ALL=\"true\" (from environment) needs "
            "AUTH_TOKEN, which is not set: nothing would be protected; "
            "allowed: AUTH_PROTECT_ALL=true together with an AUTH_TOKEN, or "
            "AUTH_PROTECT_ALL=false");
  env_.vars.clear();
  const std::string path =
      Write("config/config.yml", "auth_protect_all: yes\n");
  EXPECT_THAT(LoadError(), HasSubstr("AUTH_PROTECT_ALL=\"yes\" (from "
                                     "config.yml " +
                                     path + ":1) needs AUTH_TOKEN"));
  env_.vars["AUTH_TOKEN"] = "a-good-token-0123456789";
  EXPECT_TRUE(Load().auth_protect_all);
  env_.vars.erase("AUTH_TOKEN");
  env_.vars["AUTH_PROTECT_ALL"] = "false";  // beats the file
  EXPECT_FALSE(Load().auth_protect_all);
}

TEST_F(ConfigTest, CONFIG_PATHIsNotAYmlKey) {
  Write("config/config.yml", "config_path: x.yml\n");
  EXPECT_THAT(LoadError(), HasSubstr("unknown key \"config_path\""));
}

TEST_F(ConfigTest, RepeatedYmlKey) {
  const std::string path =
      Write("config/config.yml", "port: 80\nhost: h\nport: 81\n");
  EXPECT_THAT(LoadError(), HasSubstr(path + ":3: key port is set again "
                                            "(first on line 1 as port)"));
}

TEST_F(ConfigTest, NestedYmlValue) {
  const std::string path =
      Write("config/config.yml", "host: h\nport:\n  - 80\n  - 81\n");
  EXPECT_THAT(LoadError(), HasSubstr(path + ":2: key port has a list"));
}

TEST_F(ConfigTest, MalformedYml) {
  const std::string path = Write("config/config.yml", "port: 80\nhost: [a\n");
  const std::string msg = LoadError();
  EXPECT_THAT(msg, HasSubstr("config.yml " + path + ":3"));
  EXPECT_THAT(msg, HasSubstr("invalid YAML ("));
  EXPECT_THAT(msg, HasSubstr("allowed: a flat map of \"key: value\" lines"));
}

TEST_F(ConfigTest, YmlDocumentThatIsNotAMap) {
  const std::string path = Write("config/config.yml", "- port\n- host\n");
  EXPECT_THAT(LoadError(), HasSubstr(path + ":1: the document is not a map"));
}

TEST_F(ConfigTest, UnreadableConfigFile) {
  // Tests may run as root, which reads mode-000 files: use a directory.
  Write("dir/keep", "");
  const std::string msg = LoadError({"--config", Path("dir")});
  EXPECT_THAT(msg, HasSubstr("CONFIG_PATH=\"" + Path("dir") +
                             "\" (from flag --config) cannot be read"));
  EXPECT_THAT(msg, HasSubstr("is a directory, not a regular file"));
}

TEST_F(ConfigTest, MissingExplicitConfigFile) {
  env_.vars["CONFIG_PATH"] = "none.yml";
  const std::string msg = LoadError();
  EXPECT_THAT(msg, HasSubstr("CONFIG_PATH=\"none.yml\" (from environment) "
                             "names a file that does not exist (" +
                             Path("none.yml") + ")"));
  EXPECT_THAT(msg, HasSubstr("allowed: the path of a readable config.yml"));
}

TEST_F(ConfigTest, DefaultConfigPathThatIsADirectory) {
  Write("config/config.yml/keep", "");
  EXPECT_THAT(LoadError(), HasSubstr("(from default) cannot be read"));
}

TEST_F(ConfigTest, EmptyConfigPath) {
  env_.vars["CONFIG_PATH"] = "";
  EXPECT_THAT(LoadError(), HasSubstr("CONFIG_PATH=\"\" (from environment) "
                                     "is empty"));
}

TEST_F(ConfigTest, BadDbUrls) {
  const char* allowed =
      "allowed: sqlite:PATH (relative or absolute, e.g. "
      "sqlite:./data/forge.db), sqlite:///ABSOLUTE/PATH, "
      "postgres://USER[:PASSWORD]@HOST[:PORT]/DB or postgresql://…";
  struct Case {
    const char* value;
    const char* problem;
  };
  for (const Case& c : {Case{"mysql://h/db", "has an unknown scheme"},
                        Case{"./data/forge.db", "has an unknown scheme"},
                        Case{"SQLITE:x", "has its scheme in upper case"},
                        Case{"sqlite://x.db", "has a host part"},
                        Case{"sqlite:~/x.db", "starts its path with \"~\""},
                        Case{"sqlite:", "has an empty path"},
                        Case{"postgres://", "names no server or database"},
                        Case{"", "is empty"}}) {
    env_.vars = {{"DB_URL", c.value}};
    const std::string msg = LoadError();
    EXPECT_THAT(msg, HasSubstr(std::string("DB_URL=\"") + c.value +
                               "\" (from environment) " + c.problem));
    EXPECT_THAT(msg, HasSubstr(allowed));
  }
}

TEST_F(ConfigTest, GoodDbUrls) {
  for (const char* url :
       {"sqlite:./data/forge.db", "sqlite:/abs/forge.db", "sqlite:///abs/f.db",
        "postgres://forge:pw@db:5432/forge", "postgresql:///forge?host=/run"}) {
    env_.vars = {{"DB_URL", url}};
    EXPECT_EQ(Load().db_url, url);
  }
}

TEST_F(ConfigTest, DbUrlPasswordIsMaskedInErrors) {
  env_.vars = {{"DB_URL", "mysql://forge:s3cret@db/forge"}};
  std::string msg = LoadError();
  EXPECT_THAT(msg, HasSubstr("DB_URL=\"mysql://forge:***@db/forge\""));
  EXPECT_THAT(msg, Not(HasSubstr("s3cret")));
  // Also when the password came in through ${VAR} in config.yml.
  env_.vars = {{"PGPASSWORD", "t0psecret"}};
  Write("config/config.yml", "db_url: pg://u:${PGPASSWORD}@h/d\n");
  msg = LoadError();
  EXPECT_THAT(msg, HasSubstr("pg://u:***@h/d"));
  EXPECT_THAT(msg, Not(HasSubstr("t0psecret")));
}

TEST_F(ConfigTest, BadShmNames) {
  struct Case {
    std::string value;
    std::string problem;
  };
  for (const Case& c :
       {Case{"a/b", "contains the character \"/\""},
        Case{"mini forge", "contains the character \" \""},
        Case{std::string(201, 'x'), "is too long (201 characters)"},
        Case{"", "is empty"}}) {
    env_.vars = {{"SHM_NAME", c.value}};
    const std::string msg = LoadError();
    EXPECT_THAT(msg, HasSubstr("SHM_NAME=\"")) << msg;
    EXPECT_THAT(msg, HasSubstr("(from environment) " + c.problem));
    EXPECT_THAT(msg,
                HasSubstr("allowed: 1..200 characters of A-Z a-z 0-9 . _ -"));
  }
  env_.vars = {{"SHM_NAME", std::string(200, 'x')}};
  EXPECT_EQ(Load().shm_name.size(), 200u);
}

TEST_F(ConfigTest, LongValuesAreCutInMessages) {
  env_.vars = {{"SHM_NAME", std::string(500, 'y') + "/"}};
  const std::string msg = LoadError();
  EXPECT_LT(msg.size(), 400u);
  EXPECT_THAT(msg, HasSubstr("…\" (from environment)"));
}

TEST_F(ConfigTest, ControlCharactersAreEscapedInMessages) {
  env_.vars = {{"PORT", "80\n81"}};
  EXPECT_THAT(LoadError(), HasSubstr("PORT=\"80\\n81\""));
}

TEST_F(ConfigTest, BadKeyOrder) {
  env_.vars = {{"KEY_ORDER", "random"}};
  EXPECT_EQ(LoadError(),
            "config: KEY_ORDER=\"random\" (from environment) is not one of "
            "the allowed words; allowed: scrambled or sequential");
  env_.vars = {{"KEY_ORDER", "Sequential"}};
  EXPECT_EQ(Load().key_order, KeyOrder::kSequential);
}

TEST_F(ConfigTest, BadLogFormat) {
  EXPECT_THAT(LoadError({"--log-format=xml"}),
              HasSubstr("LOG_FORMAT=\"xml\" (from flag --log-format) is not "
                        "one of the allowed words; allowed: text or json"));
}

TEST_F(ConfigTest, Booleans) {
  for (const auto& [text, want] :
       std::vector<std::pair<std::string, bool>>{{"true", true},
                                                 {"TRUE", true},
                                                 {"1", true},
                                                 {"Yes", true},
                                                 {"false", false},
                                                 {"0", false},
                                                 {"NO", false}}) {
    env_.vars = {{"DEBUG_ENABLED", text}};
    EXPECT_EQ(Load().debug, want) << text;
  }
  env_.vars = {{"DEBUG_ENABLED", "maybe"}};
  EXPECT_EQ(LoadError(),
            "config: DEBUG_ENABLED=\"maybe\" (from environment) is not one "
            "of the allowed words; allowed: true, false, 1, 0, yes or no "
            "(any case)");
}

TEST_F(ConfigTest, Hosts) {
  for (const char* good : {"0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1",
                           "localhost", "api.example.com", "a-b.c1", "host."}) {
    env_.vars = {{"HOST", good}};
    EXPECT_EQ(Load().host, good);
  }
  for (const char* bad : {"", "bad host", "999.1.1.1", "1.2.3", "-a.com",
                          "a..b", "[::1]", "host:80", "a_b.com"}) {
    env_.vars = {{"HOST", bad}};
    const std::string msg = LoadError();
    EXPECT_THAT(msg, HasSubstr(std::string("HOST=\"") + bad +
                               "\" (from environment) "));
    EXPECT_THAT(msg, HasSubstr("allowed: an IPv4 or IPv6 address literal "
                               "(0.0.0.0, ::1) or a host name"));
  }
}

}  // namespace
}  // namespace forge::config::test
