// forge-frontend: serves keys over HTTP from the shared-memory ring.
// Configuration: docs/design.md §7; behaviour: frontend/supervisor.h.
#include <CLI/CLI.hpp>

#include "base/log.h"
#include "config/config.h"
#include "frontend/supervisor.h"

int main(int argc, char** argv) {
  CLI::App app{
      "forge-frontend: pre-forked HTTP workers handing out keys "
      "from the shared-memory ring"};
  const forge::config::Loader loader(app);
  int exit_code = 0;
  const auto cfg =
      forge::config::ParseArgs(app, loader, argc, argv, &exit_code);
  if (!cfg) return exit_code;
  forge::log::Init("forge-frontend", cfg->log_format, cfg->debug);
  return forge::frontend::RunSupervisor(*cfg);
}
