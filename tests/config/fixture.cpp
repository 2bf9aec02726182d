#include "tests/config/fixture.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace forge::config::test {

int NprocCount() {
  FILE* pipe = ::popen("nproc", "r");
  if (pipe == nullptr) return -1;
  int n = -1;
  if (std::fscanf(pipe, "%d", &n) != 1) n = -1;
  ::pclose(pipe);
  return n;
}

void ExpectDefaults(const Config& cfg) {
  EXPECT_EQ(cfg.host, "0.0.0.0");
  EXPECT_EQ(cfg.port, 8080);
  EXPECT_EQ(cfg.workers, std::min(NprocCount(), 256));
  EXPECT_TRUE(cfg.worker_cpu_affinity);
  EXPECT_EQ(cfg.empty_wait_ms, 100);
  EXPECT_EQ(cfg.max_batch, 10000);
  EXPECT_EQ(cfg.http_threads, 64);
  EXPECT_EQ(cfg.keep_alive_max, 1000);
  EXPECT_EQ(cfg.keep_alive_timeout_s, 5);
  EXPECT_EQ(cfg.listen_backlog, 4096);
  EXPECT_EQ(cfg.range_size, Config::kAutoRangeSize);
  EXPECT_EQ(cfg.range_size_min, 1000u);
  EXPECT_EQ(cfg.range_size_max, 1000000u);
  EXPECT_EQ(cfg.broker_nice, -10);
  EXPECT_EQ(cfg.pool_capacity, 65536u);
  EXPECT_EQ(cfg.db_url, "sqlite:./data/forge.db");
  EXPECT_EQ(cfg.key_length, 7);
  EXPECT_EQ(cfg.key_order, KeyOrder::kScrambled);
  EXPECT_EQ(cfg.store_timeout_ms, 2000);
  EXPECT_EQ(cfg.shm_name, "mini-forge");
  EXPECT_FALSE(cfg.debug);
  EXPECT_EQ(cfg.log_format, LogFormat::kText);
  EXPECT_EQ(cfg.auth_token, "");
  EXPECT_FALSE(cfg.auth_protect_all);
  EXPECT_EQ(cfg.ns_pool_capacity, 4096u);
  EXPECT_TRUE(cfg.namespaces.empty());
  EXPECT_TRUE(cfg.serve_namespaces.empty());
  EXPECT_EQ(cfg.auth_tokens_file, "");
  EXPECT_TRUE(cfg.scoped_tokens.empty());
}

Config ConfigTest::Load(const std::vector<std::string>& args) {
  CLI::App app{"config test", "prog"};
  Loader loader(app);
  std::vector<std::string> argv = {"prog"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> ptrs;
  for (auto& a : argv) ptrs.push_back(a.data());
  try {
    app.parse(static_cast<int>(ptrs.size()), ptrs.data());
  } catch (const CLI::ParseError& e) {
    ADD_FAILURE() << "CLI11 rejected the arguments: " << e.what();
  }
  return loader.Load(env_);
}

std::string ConfigTest::LoadError(const std::vector<std::string>& args) {
  try {
    Load(args);
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what.rfind("config: ", 0), 0u) << what;
    EXPECT_NE(what.find("; allowed: "), std::string::npos) << what;
    return what;
  }
  ADD_FAILURE() << "the config loaded, but an error was expected";
  return "";
}

std::string ConfigTest::Write(const std::string& name,
                              const std::string& text) {
  const std::string path = dir_ / name;
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace forge::config::test
