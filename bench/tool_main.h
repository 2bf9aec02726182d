// bench/tool_main.h — the main() of a bench tool with CLI11 options
// (forge_store_load, forge_paced_drain).
//
// Contract
//   * ToolMain parses argv with `app`: --help prints the help and answers
//     0; a bad option prints CLI11's one line and answers 2. Then it
//     answers run(); an exception out of run() is one line on stderr,
//     "<app name>: <what>", and 1.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

namespace forge::bench {

template <typename Run>
int ToolMain(CLI::App& app, int argc, char** argv, Run run) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the error in one line
    return code == 0 ? 0 : 2;
  }
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), e.what());
    return 1;
  }
}

}  // namespace forge::bench
