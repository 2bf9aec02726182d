#include "tests/frontend/python_tools.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/support/process.h"

namespace forge::testing {
namespace {

constexpr milliseconds kPythonDeadline{30000};

// argv[1]: a file with the scrape. Prints "family NAME TYPE" and
// "sample NAME{LABELS} VALUE" lines; exits non-zero with the reason.
constexpr const char* kParseExposition = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding="utf-8").read()
seen = set()
for f in text_string_to_metric_families(text):
    if f.name in seen:
        sys.exit("family %s appears twice" % f.name)
    seen.add(f.name)
    if f.type == "unknown":
        sys.exit("family %s has no # TYPE" % f.name)
    if not f.documentation:
        sys.exit("family %s has no # HELP" % f.name)
    print("family", f.name, f.type)
    for s in f.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("sample", s.name + ("{%s}" % labels if labels else ""),
              repr(s.value))
)";

// argv[1]: a file of log lines. Prints how many lines it checked.
constexpr const char* kCheckJsonLines = R"(
import json, sys
n = 0
for n, line in enumerate(open(sys.argv[1], encoding="utf-8").read()
                         .splitlines(), 1):
    try:
        obj = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))
    if not isinstance(obj, dict):
        sys.exit("line %d is not a JSON object: %r" % (n, line))
    for key in ("ts", "level", "msg"):
        if not isinstance(obj.get(key), str):
            sys.exit("line %d has no string %r: %r" % (n, key, line))
    if obj["level"] not in ("debug", "info", "warn", "error"):
        sys.exit("line %d has level %r" % (n, obj["level"]))
print(n)
)";

bool CanImportPrometheusClient(const std::string& python) {
  if (::access(python.c_str(), X_OK) != 0) return false;
  return Run({python, "-c", "import prometheus_client"}, {}, kPythonDeadline)
             .exit_code == 0;
}

// Runs `script` on a file holding `text`.
RunResult RunOnText(const char* script, const std::string& text) {
  const std::string python = Python3();
  if (python.empty()) {
    return {1, "",
            "no python3 with prometheus_client: install python3 and "
            "python3-prometheus-client (scripts/install-deps.sh test)"};
  }
  TempDir dir;
  const std::string path = dir / "input";
  std::ofstream(path, std::ios::binary) << text;
  return Run({python, "-c", script, path}, {}, kPythonDeadline);
}

// True for `name` and `name{...}`.
bool NamedAs(std::string_view key, std::string_view name) {
  return key.starts_with(name) &&
         (key.size() == name.size() || key[name.size()] == '{');
}

}  // namespace

std::string Python3() {
  static const std::string found = [] {
    std::vector<std::string> candidates = {"/usr/bin/python3"};
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty()) candidates.push_back(dir + "/python3");
    }
    for (const std::string& c : candidates) {
      if (CanImportPrometheusClient(c)) return c;
    }
    return std::string();
  }();
  return found;
}

double Exposition::Sum(std::string_view name) const {
  double sum = 0;
  for (const auto& [key, value] : samples) {
    if (NamedAs(key, name)) sum += value;
  }
  return sum;
}

std::size_t Exposition::Count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& [key, value] : samples) n += NamedAs(key, name) ? 1 : 0;
  return n;
}

Exposition ParseExposition(const std::string& text) {
  Exposition e;
  const RunResult r = RunOnText(kParseExposition, text);
  if (r.exit_code != 0) {
    e.error = "prometheus_client rejected the scrape (exit " +
              std::to_string(r.exit_code) + "): " + r.err;
    return e;
  }
  std::istringstream in(r.out);
  for (std::string kind, name, value; in >> kind >> name >> value;) {
    if (kind == "family") {
      e.families[name] = value;
    } else {
      e.samples[name] = std::stod(value);
    }
  }
  return e;
}

std::string CheckJsonLogLines(const std::string& text, std::size_t* lines) {
  *lines = 0;
  const RunResult r = RunOnText(kCheckJsonLines, text);
  if (r.exit_code != 0) return r.err.empty() ? "python failed" : r.err;
  *lines = std::stoul(r.out);
  return "";
}

}  // namespace forge::testing
