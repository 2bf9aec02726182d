// tests/store/store_test_util.cpp — see store_test_util.h.
#include "tests/store/store_test_util.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/process.h"

namespace forge::store::store_test {

using forge::testing::TempDir;
using forge::testing::WaitUntil;

namespace {

// In the child: waits for the gate to close, runs the body, writes its
// text to `file` and leaves without running the parent's destructors.
[[noreturn]] void RunChild(int gate, int i, const std::string& file,
                           const std::function<std::string(int)>& body) {
  for (;;) {  // until EOF: the parent released everyone
    char c;
    const ssize_t got = ::read(gate, &c, 1);
    if (got == 0 || (got < 0 && errno != EINTR)) break;
  }
  int code = 0;
  std::string text;
  try {
    text = body(i);
  } catch (const std::exception& e) {
    text = std::string("error: ") + e.what();
    code = 1;
  }
  std::ofstream(file) << text;
  std::fflush(nullptr);
  ::_exit(code);
}

}  // namespace

std::vector<std::string> InChildren(int n,
                                    const std::function<std::string(int)>& body,
                                    std::chrono::milliseconds deadline) {
  TempDir out;
  int gate[2];
  if (::pipe(gate) != 0) {
    ADD_FAILURE() << "pipe failed";
    return {};
  }
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      RunChild(gate[0], i, out / std::to_string(i), body);
    }
    if (pid < 0) ADD_FAILURE() << "fork failed";
    pids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  std::vector<std::string> results;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    int status = -1;
    if (pids[i] > 0 &&
        !WaitUntil(
            [&] { return ::waitpid(pids[i], &status, WNOHANG) == pids[i]; },
            deadline)) {
      ::kill(pids[i], SIGKILL);
      ::waitpid(pids[i], &status, 0);
      ADD_FAILURE() << "child " << i << " did not finish in time";
    }
    std::ifstream in(out / std::to_string(i));
    std::ostringstream text;
    text << in.rdbuf();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child " << i << ": " << text.str();
    results.push_back(text.str());
  }
  return results;
}

std::string Serialize(const std::vector<Range>& ranges) {
  std::ostringstream out;
  for (const Range& r : ranges) out << r.first << ' ' << r.last << '\n';
  return out.str();
}

void SplitPairs(const std::vector<Range>& ranges, std::vector<Range>* even,
                std::vector<Range>* odd) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    (i % 2 == 0 ? even : odd)->push_back(ranges[i]);
  }
}

std::vector<Range> Parse(const std::vector<std::string>& texts) {
  std::vector<Range> ranges;
  for (const std::string& text : texts) {
    std::istringstream in(text);
    Range r;
    while (in >> r.first >> r.last) ranges.push_back(r);
  }
  return ranges;
}

void ExpectTiles(std::vector<Range> ranges, std::uint64_t end) {
  std::erase_if(ranges, [](const Range& r) { return r.empty(); });
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  std::uint64_t expected = 0;
  for (const Range& r : ranges) {
    ASSERT_EQ(r.first, expected) << "overlap or hole at " << r.first;
    expected = r.last;
  }
  EXPECT_EQ(expected, end);
}

StoreError ErrorFrom(const std::function<void()>& work) {
  try {
    work();
  } catch (const StoreError& e) {
    return e;
  }
  ADD_FAILURE() << "no StoreError thrown";
  return StoreError("", false);
}

StoreFormat Format(int length, keys::KeyOrder order, std::uint64_t secret) {
  StoreFormat f;
  f.key_length = length;
  f.order = order;
  f.secret = secret;
  return f;
}

std::unique_ptr<RangeStore> OpenSpace(RangeStore& store,
                                      const std::string& name,
                                      const StoreFormat* create) {
  std::unique_ptr<RangeStore> space = store.OpenNamespace(name, create);
  if (space == nullptr) throw std::runtime_error("no namespace " + name);
  return space;
}

StoreLimits Limits(std::chrono::milliseconds timeout,
                   const std::atomic<bool>* stop,
                   std::chrono::milliseconds stop_budget) {
  StoreLimits limits;
  limits.timeout = timeout;
  limits.stop = stop;
  limits.stop_budget = stop_budget;
  return limits;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

forge::testing::PostgresServer* BothStoresTest::server_ = nullptr;

void BothStoresTest::TearDownTestSuite() {
  delete server_;
  server_ = nullptr;
}

std::string BothStoresTest::NewUrl() {
  static std::atomic<int> next{0};
  const std::string name = "store" + std::to_string(next++);
  if (GetParam() == Backend::kSqlite)
    return "sqlite:" + (dir_ / (name + ".db"));
  if (server_ == nullptr) {
    server_ = new forge::testing::PostgresServer();  // one per run
  }
  return server_->CreateDatabase(name);
}

std::string BothStoresTest::DatabaseOf(const std::string& url) {
  return url.substr(url.rfind('/') + 1);
}

void BothStoresTest::RawSql(const std::string& url,
                            const std::string& sql) const {
  if (GetParam() == Backend::kSqlite) {
    SQLite::Database db(url.substr(std::string("sqlite:").size()),
                        SQLite::OPEN_READWRITE);
    db.exec(sql);
  } else {
    server_->Query(sql, DatabaseOf(url));
  }
}

NamespaceTables BothStoresTest::TablesHere(const std::string& name) const {
  return TablesOf(GetParam() == Backend::kSqlite ? "" : "forge_", name);
}

std::string BackendTestName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

}  // namespace forge::store::store_test
