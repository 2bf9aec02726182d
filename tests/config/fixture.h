// tests/config/fixture.h — helpers for the config tests.
//
// Contract
//   * ConfigTest gives each test a fresh working directory (TempDir) and an
//     empty injected environment, so nothing from the real process
//     environment or cwd leaks into a test.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "tests/support/capture_fd.h"
#include "tests/support/process.h"

namespace forge::config::test {

// Every key as it is named in config.yml, in docs/design.md order.
inline const std::vector<std::string> kYmlKeys = {"port",
                                                  "host",
                                                  "workers",
                                                  "worker_cpu_affinity",
                                                  "range_size",
                                                  "pool_capacity",
                                                  "ns_pool_capacity",
                                                  "db_url",
                                                  "shm_name",
                                                  "key_length",
                                                  "key_order",
                                                  "empty_wait_ms",
                                                  "max_batch",
                                                  "debug_enabled",
                                                  "http_threads",
                                                  "keep_alive_max",
                                                  "keep_alive_timeout",
                                                  "listen_backlog",
                                                  "log_format",
                                                  "auth_token",
                                                  "auth_tokens_file",
                                                  "auth_protect_all",
                                                  "range_size_min",
                                                  "range_size_max",
                                                  "encode_threads",
                                                  "broker_nice"};

// Every field of a namespace under config.yml's `namespaces:`.
inline const std::vector<std::string> kYmlNamespaceFields = {
    "key_length", "key_order", "pool_capacity", "alphabet",
    "check",      "prefix",    "blocklist"};

// The number of CPUs as `nproc` (coreutils) reports it.
int NprocCount();

// Expects every field of `cfg` to hold its documented default (workers:
// the CPU count).
void ExpectDefaults(const Config& cfg);

using forge::testing::CaptureFd;

class ConfigTest : public ::testing::Test {
 protected:
  // Parses `args` (argv[1..]) with a fresh CLI::App and Loader, then loads
  // with env_. CLI11 errors fail the test.
  Config Load(const std::vector<std::string>& args = {});
  // The ConfigError message of Load(args); fails the test if it loads, or
  // if the message is not one line starting with "config: ".
  std::string LoadError(const std::vector<std::string>& args = {});
  // Writes `text` to `name` under the working directory (creating dirs);
  // returns the full path.
  std::string Write(const std::string& name, const std::string& text);
  std::string Path(const std::string& name) const { return dir_ / name; }

  forge::testing::TempDir dir_;
  Environment env_{{}, dir_.path()};
};

}  // namespace forge::config::test
