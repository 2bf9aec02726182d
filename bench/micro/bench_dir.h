// bench/micro/bench_dir.h — a scratch directory for benchmarks that need a
// store file.
//
// Contract
//   * BenchDir makes a fresh directory under $TMPDIR (else /tmp) and
//     removes it with everything in it when destroyed; db() is a store
//     path inside it. Throws std::runtime_error when mkdtemp fails.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace forge::bench {

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("TMPDIR");
    path_ = std::string(base && *base ? base : "/tmp") + "/forge-bench-XXXXXX";
    if (::mkdtemp(path_.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed: " + path_);
    }
  }
  ~BenchDir() { std::filesystem::remove_all(path_); }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  std::string db() const { return path_ + "/forge.db"; }

 private:
  std::string path_;
};

}  // namespace forge::bench
