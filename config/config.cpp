// The small public pieces of config.h: source names, the process
// environment and ParseArgs. The Loader is in loader.cpp.
#include "config/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <string>

#include "base/log.h"

extern char** environ;

namespace forge::config {
namespace {

void EnableFallthrough(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands(std::function<bool(CLI::App*)>())) {
    sub->fallthrough();
    EnableFallthrough(*sub);
  }
}

// One line on stderr: `text` as it is, or a JSON log line holding it
// (prog is the program's name without its directory, as log::Init has it).
void PrintError(const CLI::App& app, LogFormat format,
                const std::string& text) {
  const std::string& name = app.get_name();
  const std::string program = name.substr(name.rfind('/') + 1);
  const std::string line =
      format == LogFormat::kJson
          ? log::FormatLine(program, format, log::Level::kError, text)
          : text + "\n";
  std::fputs(line.c_str(), stderr);
}

// One line, whatever CLI11 put in the message.
std::string ParseErrorText(const CLI::App& app, const CLI::ParseError& e) {
  std::string what = e.what();
  for (char& c : what) {
    if (c == '\n') c = ' ';
  }
  return app.get_name() + ": " + what + "; run " + app.get_name() +
         " --help for the options";
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
    PrintError(app, loader.RequestedLogFormat(env), ParseErrorText(app, e));
    *exit_code = 2;
    return std::nullopt;
  }
  try {
    return loader.Load(env);
  } catch (const ConfigError& e) {
    PrintError(app, loader.RequestedLogFormat(env), e.what());
    *exit_code = 2;
    return std::nullopt;
  }
}

}  // namespace forge::config
