#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace forge::testing {
namespace {

namespace fs = std::filesystem;

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " +
                             std::strerror(errno));
  }
  return pattern;
}

// Builds "KEY=VALUE" strings, inheriting a few variables a child needs.
std::vector<std::string> EnvStrings(Env env) {
  for (const char* keep : {"PATH", "HOME", "TMPDIR", "ASAN_OPTIONS",
                           "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"}) {
    const char* v = std::getenv(keep);
    if (v != nullptr && env.find(keep) == env.end()) env[keep] = v;
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string BinDir() {
  const char* dir = std::getenv("FORGE_BIN_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  // Test binaries and programs all land in build/bin/.
  return self.parent_path().string();
}

std::string Bin(const std::string& program) { return BinDir() + "/" + program; }

TempDir::TempDir() : path_(MakeTempDir("forge-test-")) {}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool MapsLibrary(pid_t pid, const std::string& soname) {
  return ReadFile("/proc/" + std::to_string(pid) + "/maps")
             .find("/" + soname) != std::string::npos;
}

std::optional<std::string> ProcStatField(const std::string& stat_path, int n) {
  const std::string stat = ReadFile(stat_path);
  const std::size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos || n < 3) return std::nullopt;
  std::istringstream rest(stat.substr(name_end + 1));
  std::string field;
  for (int i = 3; i <= n; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  return field;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

ShmName::ShmName() {
  static std::atomic<int> counter{0};
  name_ = "test-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter.fetch_add(1));
}

// The segment, its lock file, and every namespace's ("name@ns", and
// its lock file).
ShmName::~ShmName() {
  std::error_code ec;
  fs::remove("/dev/shm/mini-forge." + name_, ec);
  fs::remove("/dev/shm/mini-forge." + name_ + ".lock", ec);
  const std::string ns_prefix = "mini-forge." + name_ + "@";
  for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
    if (entry.path().filename().string().starts_with(ns_prefix)) {
      fs::remove(entry.path(), ec);
    }
  }
}

bool WaitUntil(const std::function<bool()>& pred, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // The one polling pause of the test suite: a condition is re-checked
    // until its deadline, never slept on blindly.
    std::this_thread::sleep_for(milliseconds(2));
  }
}

Process Process::Start(const std::vector<std::string>& argv, Env env,
                       const std::string& cwd) {
  if (argv.empty()) throw std::invalid_argument("Process::Start: empty argv");
  Process p;
  p.dir_ = MakeTempDir("forge-proc-");
  p.out_path_ = p.dir_ + "/stdout";
  p.err_path_ = p.dir_ + "/stderr";
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = EnvStrings(std::move(env));
  std::vector<char*> arg_ptrs = Pointers(args);
  std::vector<char*> env_ptrs = Pointers(envs);
  const int out = ::open(p.out_path_.c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = ::open(p.err_path_.c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0 || err < 0) throw std::runtime_error("open capture files");
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  p.pid_ = pid;
  return p;
}

Process Process::Fork(const std::function<int()>& body) {
  Process p;
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    int rc = 3;
    try {
      rc = body();
    } catch (const std::exception& e) {  // say why, for the test's log
      std::fprintf(stderr, "forked child %d: %s\n", ::getpid(), e.what());
    } catch (...) {
      std::fprintf(stderr, "forked child %d: unknown exception\n", ::getpid());
    }
    ::_exit(rc);
  }
  p.pid_ = pid;
  return p;
}

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) Kill();
    pid_ = other.pid_;
    status_ = other.status_;
    out_path_ = std::move(other.out_path_);
    err_path_ = std::move(other.err_path_);
    dir_ = std::move(other.dir_);
    other.pid_ = -1;
    other.status_.reset();
    other.dir_.clear();
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) Kill();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool Process::Running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = DecodeStatus(status);
    return false;
  }
  return true;
}

void Process::Signal(int sig) {
  if (pid_ > 0 && Running()) ::kill(pid_, sig);
}

std::optional<int> Process::Wait(milliseconds timeout) {
  WaitUntil([this] { return !Running(); }, timeout);
  return status_;
}

void Process::Kill() {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = DecodeStatus(status);
}

std::string Process::Stdout() const {
  return out_path_.empty() ? "" : ReadFile(out_path_);
}
std::string Process::Stderr() const {
  return err_path_.empty() ? "" : ReadFile(err_path_);
}

RunResult Run(const std::vector<std::string>& argv, Env env,
              milliseconds timeout, const std::string& cwd) {
  Process p = Process::Start(argv, std::move(env), cwd);
  RunResult r;
  const std::optional<int> code = p.Wait(timeout);
  if (!code) p.Kill();
  r.exit_code = code.value_or(-1);
  r.out = p.Stdout();
  r.err = p.Stderr();
  return r;
}

}  // namespace forge::testing
