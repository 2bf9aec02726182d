// `forge-ctl stats --watch`: redraws in place on a terminal (a real
// pseudo-terminal here), degrades to plain blocks or JSON lines on a pipe,
// measures rates between refreshes, and ends with exit 0 on Ctrl-C.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/names.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "shm/workers.h"
#include "tests/ctl/mini_json.h"
#include "tests/support/process.h"

namespace forge::testing {
namespace {

using std::chrono::milliseconds;

constexpr auto kDeadline = milliseconds(10000);
constexpr const char* kTitle = "forge-ctl stats ";

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

// A child process on the slave side of a pseudo-terminal (forkpty); the
// test reads the terminal's output from the master side. The destructor
// SIGKILLs and reaps the child if it is still running.
class PtyProcess {
 public:
  PtyProcess(std::vector<std::string> argv, std::vector<std::string> env) {
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
  }
  ~PtyProcess() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  bool started() const { return pid_ > 0; }

  // Reads what the terminal shows until `done(output)` or the deadline.
  bool ReadUntil(const std::function<bool(const std::string&)>& done,
                 milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(output_)) {
      const auto left = std::chrono::duration_cast<milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(master_, buf, sizeof(buf));
      if (n <= 0) return done(output_);  // EIO: the child closed the tty
      output_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  // Types Ctrl-C: the terminal sends SIGINT to its foreground process.
  void CtrlC() { ASSERT_EQ(::write(master_, "\x03", 1), 1); }

  std::optional<int> Wait(milliseconds timeout) {
    const bool exited = WaitUntil(
        [&] {
          int st = 0;
          if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
          status_ = st;
          return true;
        },
        timeout);
    if (!exited) return std::nullopt;
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_)
                               : 128 + WTERMSIG(*status_);
  }

  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  std::optional<int> status_;
  std::string output_;
};

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shm::SegmentSpec spec;
    spec.capacity = 64;
    spec.key_space = keys::KeySpace(7);
    spec.store = "sqlite:/srv/forge.db";
    producer_.emplace(shm::Segment::OpenProducer(shm_.str(), spec));
    producer_->broker().pid.store(::getpid());
    slot_ = *shm::ClaimWorkerSlot(*producer_, ::getpid(), ::getppid());
  }

  // `stats --watch 0.1 --json`, once its first line is out.
  Process StartJsonWatch() {
    Process p = Process::Start(Argv({"--watch", "0.1", "--json"}),
                               {{"SHM_NAME", shm_.str()}});
    EXPECT_TRUE(
        WaitUntil([&] { return Count(p.Stdout(), "\n") >= 1; }, kDeadline))
        << p.Stderr();
    return p;
  }

  // Polls until a JSON line of `p` satisfies `pred` (`each` runs before
  // every look); that line, or "" at the deadline.
  static std::string WaitForLine(
      Process& p, const std::function<bool(const json::Value&)>& pred,
      const std::function<void()>& each = [] {}) {
    std::string found;
    WaitUntil(
        [&] {
          each();
          std::istringstream in(p.Stdout());
          for (std::string line; std::getline(in, line);) {
            const auto v = json::Parse(line);
            if (v && pred(*v)) {
              found = line;
              return true;
            }
          }
          return false;
        },
        kDeadline);
    return found;
  }

  std::vector<std::string> Argv(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv{Bin("forge-ctl"), "stats"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  ShmName shm_;
  std::optional<shm::Segment> producer_;
  std::uint32_t slot_ = 0;
};

TEST_F(WatchTest, RedrawsInPlaceOnATerminalUntilCtrlC) {
  PtyProcess p(Argv({"--watch", "0.1"}),
               {"SHM_NAME=" + shm_.str(), "PATH=/usr/bin:/bin"});
  ASSERT_TRUE(p.started());
  // Two refreshes: the screen is cleared once, then redrawn from home.
  ASSERT_TRUE(p.ReadUntil(
      [](const std::string& out) { return Count(out, kTitle) >= 3; },
      kDeadline))
      << p.output();
  EXPECT_EQ(p.output().rfind("\x1b[2J\x1b[H", 0), 0u) << "clears first";
  EXPECT_GE(Count(p.output(), "\x1b[H"), 3u);
  EXPECT_GE(Count(p.output(), "\x1b[K"), 3u) << "lines cleared to the end";
  EXPECT_NE(p.output().find("ring fill"), std::string::npos);
  EXPECT_NE(p.output().find("over the last 0.1"), std::string::npos)
      << "later frames have rates between refreshes";
  p.CtrlC();
  EXPECT_EQ(p.Wait(kDeadline), 0) << p.output();
}

TEST_F(WatchTest, PlainBlocksWithoutEscapeCodesOnAPipe) {
  Process p =
      Process::Start(Argv({"--watch", "0.1"}), {{"SHM_NAME", shm_.str()}});
  ASSERT_TRUE(
      WaitUntil([&] { return Count(p.Stdout(), kTitle) >= 3; }, kDeadline))
      << p.Stdout() << p.Stderr();
  p.Signal(SIGINT);
  EXPECT_EQ(p.Wait(kDeadline), 0) << p.Stderr();
  EXPECT_EQ(p.Stdout().find('\x1b'), std::string::npos) << p.Stdout();
  EXPECT_GE(Count(p.Stdout(), "\nsegment          "), 3u);
}

TEST_F(WatchTest, JsonLinesWithRatesBetweenRefreshes) {
  Process p = StartJsonWatch();
  // Serve 500 keys after the first frame: a later frame's rate shows it.
  producer_->worker(slot_).served.fetch_add(500);
  const std::string served_line = WaitForLine(p, [](const json::Value& v) {
    const json::Value* rate = v.At("rates.served_per_s");
    return rate && rate->kind == json::Value::Kind::kNumber && rate->number > 0;
  });
  ASSERT_FALSE(served_line.empty()) << p.Stdout();
  p.Signal(SIGINT);
  EXPECT_EQ(p.Wait(kDeadline), 0) << p.Stderr();
  const auto v = json::Parse(served_line);
  EXPECT_GT(v->At("workers")->items[0].At("served_per_s")->number, 0);
  EXPECT_EQ(p.Stdout().find('\x1b'), std::string::npos);
  // Every line is one complete JSON object.
  std::istringstream in(p.Stdout());
  for (std::string line; std::getline(in, line);) {
    EXPECT_TRUE(json::Parse(line).has_value()) << line;
  }
}

// A namespace whose segment appears while watching is in a later frame,
// with its own rates between frames.
TEST_F(WatchTest, NamespaceServedLaterJoinsTheFrames) {
  Process p = StartJsonWatch();
  shm::SegmentSpec spec;
  spec.capacity = 16;
  spec.key_length = 10;
  spec.key_space = keys::KeySpace(10);
  shm::Segment invites = shm::Segment::OpenProducer(
      base::NamespaceSegmentName(shm_.str(), "invites"), spec);
  const std::string line = WaitForLine(
      p,
      [](const json::Value& v) {
        const json::Value* ns = v.At("namespaces");
        return ns && ns->items.size() == 2 &&
               ns->items[1].At("name")->text == "invites" &&
               ns->items[1].At("rates")->kind == json::Value::Kind::kObject &&
               ns->items[1].At("rates.produced_per_s")->number > 0;
      },
      [&] { invites.broker().keys_produced.fetch_add(1); });  // a rate
  EXPECT_FALSE(line.empty()) << p.Stdout();
  p.Signal(SIGINT);
  EXPECT_EQ(p.Wait(kDeadline), 0) << p.Stderr();
}

TEST_F(WatchTest, SigtermEndsWatchCleanlyToo) {
  Process p =
      Process::Start(Argv({"--watch", "0.1"}), {{"SHM_NAME", shm_.str()}});
  ASSERT_TRUE(
      WaitUntil([&] { return Count(p.Stdout(), kTitle) >= 1; }, kDeadline));
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(kDeadline), 0) << p.Stderr();
}

TEST_F(WatchTest, SegmentThatVanishesIsShownAndWatchGoesOn) {
  Process p =
      Process::Start(Argv({"--watch", "0.1"}), {{"SHM_NAME", shm_.str()}});
  ASSERT_TRUE(
      WaitUntil([&] { return Count(p.Stdout(), kTitle) >= 1; }, kDeadline));
  producer_.reset();
  ::unlink(("/dev/shm/mini-forge." + shm_.str()).c_str());
  ASSERT_TRUE(WaitUntil(
      [&] { return p.Stdout().find("no segment") != std::string::npos; },
      kDeadline))
      << p.Stdout();
  EXPECT_TRUE(p.Running());
  p.Signal(SIGINT);
  EXPECT_EQ(p.Wait(kDeadline), 0);
}

TEST(WatchMissingSegment, Exits1AtStart) {
  ShmName shm;
  const auto r = testing::Run({Bin("forge-ctl"), "stats", "--watch", "0.1"},
                              {{"SHM_NAME", shm.str()}}, kDeadline);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no segment"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace forge::testing
