// Precedence: flag > environment > .env > config.yml > default, per key,
// and how CONFIG_PATH picks the config.yml.
#include <array>
#include <functional>
#include <string>

#include "tests/config/fixture.h"

namespace forge::config::test {
namespace {

// One key with a distinct valid value for each layer, highest first:
// flag, environment, .env, config.yml. Adjacent values always differ.
struct LayeredKey {
  std::string env;
  std::string flag;
  std::array<std::string, 4> values;
  std::string default_value;
  std::function<std::string(const Config&)> get;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

const char* OrderName(KeyOrder o) {
  return o == KeyOrder::kScrambled ? "scrambled" : "sequential";
}

std::vector<LayeredKey> Keys() {
  return {
      {"PORT",
       "--port",
       {"1111", "2222", "3333", "4444"},
       "8080",
       [](const Config& c) { return std::to_string(c.port); }},
      {"RANGE_SIZE",
       "--range-size",
       {"11", "22", "33", "44"},
       "0",  // auto (Config::kAutoRangeSize)
       [](const Config& c) { return std::to_string(c.range_size); }},
      {"RANGE_SIZE_MIN",
       "--range-size-min",
       {"12", "23", "34", "45"},
       "1000",
       [](const Config& c) { return std::to_string(c.range_size_min); }},
      {"RANGE_SIZE_MAX",
       "--range-size-max",
       {"5000", "6000", "7000", "8000"},
       "1000000",
       [](const Config& c) { return std::to_string(c.range_size_max); }},
      {"STORE_TIMEOUT_MS",
       "--store-timeout-ms",
       {"111", "222", "333", "444"},
       "2000",
       [](const Config& c) { return std::to_string(c.store_timeout_ms); }},
      {"POOL_CAPACITY",
       "--pool-capacity",
       {"2", "4", "1024", "8"},
       "65536",
       [](const Config& c) { return std::to_string(c.pool_capacity); }},
      {"DB_URL",
       "--db-url",
       {"sqlite:/f.db", "sqlite:/e.db", "postgres://u@h/d",
        "postgresql://u@h/y"},
       "sqlite:./data/forge.db",
       [](const Config& c) { return c.db_url; }},
      {"SHM_NAME",
       "--shm-name",
       {"f", "e", "d", "y"},
       "mini-forge",
       [](const Config& c) { return c.shm_name; }},
      {"KEY_ORDER",
       "--key-order",
       {"scrambled", "sequential", "scrambled", "sequential"},
       "scrambled",
       [](const Config& c) { return std::string(OrderName(c.key_order)); }},
      {"DEBUG_ENABLED",
       "--debug",
       {"false", "true", "false", "true"},
       "false",
       [](const Config& c) { return std::string(c.debug ? "true" : "false"); }},
      {"AUTH_TOKEN",
       "--auth-token",
       {"flag-token-0123456789", "env-token-0123456789",
        "dotenv-token-0123456789", "yml-token-0123456789"},
       "",
       [](const Config& c) { return c.auth_token; }},
      {"AUTH_PROTECT_ALL",
       "--auth-protect-all",
       {"true", "false", "true", "false"},
       "false",
       [](const Config& c) {
         return std::string(c.auth_protect_all ? "true" : "false");
       }},
      {"WORKERS",
       "--workers",
       {"3", "5", "7", "9"},
       std::to_string(std::min(NprocCount(), 256)),
       [](const Config& c) { return std::to_string(c.workers); }},
  };
}

TEST_F(ConfigTest, EachLayerBeatsTheOnesBelowIt) {
  for (const LayeredKey& key : Keys()) {
    for (int top = 0; top <= 4; ++top) {
      SCOPED_TRACE(key.env + " with layers from #" + std::to_string(top));
      env_.vars.clear();
      std::string dotenv, yml;
      std::vector<std::string> args;
      if (top <= 0) args.push_back(key.flag + "=" + key.values[0]);
      if (top <= 1) env_.vars[key.env] = key.values[1];
      if (top <= 2) dotenv = key.env + "=" + key.values[2] + "\n";
      if (top <= 3) yml = Lower(key.env) + ": " + key.values[3] + "\n";
      // AUTH_PROTECT_ALL=true needs a token.
      if (key.env == "AUTH_PROTECT_ALL") {
        env_.vars["AUTH_TOKEN"] = "a-good-token-0123456789";
      }
      Write(".env", dotenv);
      Write("config/config.yml", yml);
      const std::string want = top < 4 ? key.values[top] : key.default_value;
      EXPECT_EQ(key.get(Load(args)), want);
    }
  }
}

TEST_F(ConfigTest, NothingSetGivesTheDefaults) {
  const Config cfg = Load();
  ExpectDefaults(cfg);
  EXPECT_EQ(cfg.config_path, "");
}

TEST_F(ConfigTest, WorkersDefaultsToTheCpuCount) {
  const int cpus = NprocCount();
  ASSERT_GT(cpus, 0);
  EXPECT_EQ(Load().workers, std::min(cpus, 256));
}

TEST_F(ConfigTest, DebugSwitchWithoutValueMeansTrue) {
  EXPECT_TRUE(Load({"--debug"}).debug);
  env_.vars["DEBUG_ENABLED"] = "true";
  EXPECT_FALSE(Load({"--debug=false"}).debug);
}

TEST_F(ConfigTest, FlagsTakeSeparateOrJoinedValues) {
  const Config cfg = Load({"--port", "9000", "--host=::1", "--log-format",
                           "json", "--keep-alive-timeout", "30"});
  EXPECT_EQ(cfg.port, 9000);
  EXPECT_EQ(cfg.host, "::1");
  EXPECT_EQ(cfg.log_format, LogFormat::kJson);
  EXPECT_EQ(cfg.keep_alive_timeout_s, 30);
}

TEST_F(ConfigTest, EveryKeyHasAYmlNameAndAFlag) {
  const std::vector<std::string> flags = {"--port=1",
                                          "--host=h",
                                          "--workers=2",
                                          "--worker-cpu-affinity=OFF",
                                          "--range-size=3",
                                          "--pool-capacity=4",
                                          "--ns-pool-capacity=16",
                                          "--db-url=sqlite:x",
                                          "--shm-name=s",
                                          "--key-length=5",
                                          "--key-order=sequential",
                                          "--empty-wait-ms=0",
                                          "--max-batch=7",
                                          "--debug=yes",
                                          "--http-threads=8",
                                          "--keep-alive-max=9",
                                          "--keep-alive-timeout=10",
                                          "--listen-backlog=11",
                                          "--log-format=json",
                                          "--auth-token=0123456789abcdef",
                                          "--auth-tokens-file=tokens.txt",
                                          "--auth-protect-all=true"};
  Write("tokens.txt", "scoped-token-0123456789 invites,orders\n");
  const Config f = Load(flags);
  std::string yml;
  for (std::size_t i = 0; i < flags.size(); ++i) {
    yml += kYmlKeys[i] + ": " + flags[i].substr(flags[i].find('=') + 1) + "\n";
  }
  Write("config/config.yml", yml);
  for (const Config& c : {f, Load()}) {
    EXPECT_EQ(c.port, 1);
    EXPECT_EQ(c.host, "h");
    EXPECT_EQ(c.workers, 2);
    EXPECT_FALSE(c.worker_cpu_affinity);
    EXPECT_EQ(c.range_size, 3u);
    EXPECT_EQ(c.pool_capacity, 4u);
    EXPECT_EQ(c.ns_pool_capacity, 16u);
    EXPECT_EQ(c.db_url, "sqlite:x");
    EXPECT_EQ(c.shm_name, "s");
    EXPECT_EQ(c.key_length, 5);
    EXPECT_EQ(c.key_order, KeyOrder::kSequential);
    EXPECT_EQ(c.empty_wait_ms, 0);
    EXPECT_EQ(c.max_batch, 7);
    EXPECT_TRUE(c.debug);
    EXPECT_EQ(c.http_threads, 8);
    EXPECT_EQ(c.keep_alive_max, 9);
    EXPECT_EQ(c.keep_alive_timeout_s, 10);
    EXPECT_EQ(c.listen_backlog, 11);
    EXPECT_EQ(c.log_format, LogFormat::kJson);
    EXPECT_EQ(c.auth_token, "0123456789abcdef");
    EXPECT_EQ(c.auth_tokens_file, "tokens.txt");
    ASSERT_EQ(c.scoped_tokens.size(), 1u);
    EXPECT_EQ(c.scoped_tokens[0].token, "scoped-token-0123456789");
    EXPECT_EQ(c.scoped_tokens[0].namespaces,
              (std::vector<std::string>{"invites", "orders"}));
    EXPECT_TRUE(c.auth_protect_all);
  }
}

TEST_F(ConfigTest, ConfigPathFlagBeatsEnvBeatsDotEnvBeatsDefault) {
  const std::string f = Write("f.yml", "port: 1\n");
  const std::string e = Write("e.yml", "port: 2\n");
  Write("d.yml", "port: 3\n");
  const std::string def = Write("config/config.yml", "port: 4\n");
  Write(".env", "CONFIG_PATH=d.yml\n");  // relative to the working dir
  env_.vars["CONFIG_PATH"] = e;
  Config cfg = Load({"--config", f});
  EXPECT_EQ(cfg.port, 1);
  EXPECT_EQ(cfg.config_path, f);
  EXPECT_EQ(Load().port, 2);
  env_.vars.clear();
  cfg = Load();
  EXPECT_EQ(cfg.port, 3);
  EXPECT_EQ(cfg.config_path, Path("d.yml"));
  Write(".env", "");
  cfg = Load();
  EXPECT_EQ(cfg.port, 4);
  EXPECT_EQ(cfg.config_path, def);
}

TEST_F(ConfigTest, SeedNamesKeepWorking) {
  Write(".env",
        "PORT=8081\nRANGE_SIZE=500\nDEBUG_ENABLED=true\n"
        "CONFIG_PATH=./my/config.yml\n");
  Write("my/config.yml", "max_batch: 5\n");
  const Config cfg = Load();
  EXPECT_EQ(cfg.port, 8081);
  EXPECT_EQ(cfg.range_size, 500u);
  EXPECT_TRUE(cfg.debug);
  EXPECT_EQ(cfg.max_batch, 5);
}

TEST_F(ConfigTest, NullYmlValueMeansNotSet) {
  Write("config/config.yml", "port:\nhost: ~\nworkers: null\n");
  ExpectDefaults(Load());
}

}  // namespace
}  // namespace forge::config::test
