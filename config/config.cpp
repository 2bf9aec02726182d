// The small public pieces of config.h: source names, the process
// environment, DB_URL masking and ParseArgs. The Loader is in loader.cpp.
#include "config/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <functional>
#include <string>

extern char** environ;

namespace forge::config {
namespace {

// Replaces the password of [scheme://]user:password@host with ***. The
// userinfo ends at the last '@' before any '?', so a password holding
// '@' or '/' is still hidden (over-masking is fine, leaking is not).
void MaskUserInfo(std::string& url) {
  const auto scheme_end = url.find("://");
  const auto start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto query = url.find_first_of("?#", start);
  const auto at =
      url.rfind('@', query == std::string::npos ? query : query - 1);
  if (at == std::string::npos || at < start) return;
  const auto colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return;
  url.replace(colon + 1, at - colon - 1, "***");
}

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// Finds "password=" in any case, from `from`.
std::size_t FindPasswordKey(const std::string& s, std::size_t from) {
  constexpr std::string_view kKey = "password=";
  for (std::size_t i = from; i + kKey.size() <= s.size(); ++i) {
    std::size_t k = 0;
    while (k < kKey.size() && Lower(s[i + k]) == kKey[k]) ++k;
    if (k == kKey.size()) return i;
  }
  return std::string::npos;
}

// Replaces the value of every password=... (URL query parameter or
// libpq keyword) with ***.
void MaskPasswordParams(std::string& url) {
  for (auto key = FindPasswordKey(url, 0); key != std::string::npos;) {
    const auto start = key + 9;
    auto end = url.find_first_of("& \t", start);
    if (end == std::string::npos) end = url.size();
    url.replace(start, end - start, "***");
    key = FindPasswordKey(url, start + 3);
  }
}

void EnableFallthrough(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands(std::function<bool(CLI::App*)>())) {
    sub->fallthrough();
    EnableFallthrough(*sub);
  }
}

// One line on stderr, whatever CLI11 put in the message.
void PrintParseError(const CLI::App& app, const CLI::ParseError& e) {
  std::string what = e.what();
  for (char& c : what) {
    if (c == '\n') c = ' ';
  }
  const std::string line = app.get_name() + ": " + what + "; run " +
                           app.get_name() + " --help for the options\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace

const char* SourceName(Source s) {
  switch (s) {
    case Source::kDefault:
      return "default";
    case Source::kYaml:
      return "config.yml";
    case Source::kDotEnv:
      return ".env";
    case Source::kEnv:
      return "environment";
    case Source::kFlag:
      return "flag";
  }
  return "unknown";
}

Environment Environment::FromProcess() {
  Environment env;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    const std::string_view entry(*p);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.vars.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  char buf[4096];
  if (::getcwd(buf, sizeof buf) != nullptr) env.cwd = buf;
  return env;
}

std::string MaskDbUrl(std::string_view url) {
  std::string out(url);
  MaskUserInfo(out);
  MaskPasswordParams(out);
  return out;
}

std::optional<Config> ParseArgs(CLI::App& app, const Loader& loader, int argc,
                                char** argv, int* exit_code,
                                const Environment& env) {
  *exit_code = 0;
  EnableFallthrough(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --help-all, --version
      *exit_code = app.exit(e);
      return std::nullopt;
    }
    PrintParseError(app, e);
    *exit_code = 2;
    return std::nullopt;
  }
  try {
    return loader.Load(env);
  } catch (const ConfigError& e) {
    std::fputs((std::string(e.what()) + "\n").c_str(), stderr);
    *exit_code = 2;
    return std::nullopt;
  }
}

}  // namespace forge::config
