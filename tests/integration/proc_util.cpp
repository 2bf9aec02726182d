#include "tests/integration/proc_util.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/process.h"

namespace forge::testing {
namespace {

namespace fs = std::filesystem;

// The one-letter state in /proc/.../stat ('R', 'S', 'T', ...), or 0.
char StateOf(const fs::path& stat_file) {
  const std::optional<std::string> state = ProcStatField(stat_file, 3);
  return state && !state->empty() ? state->front() : 0;
}

bool AllThreadsStopped(pid_t pid) {
  std::error_code ec;
  fs::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", ec);
  if (ec) return false;
  bool any = false;
  for (const auto& task : tasks) {
    const char s = StateOf(task.path() / "stat");
    if (s != 'T' && s != 't') return false;
    any = true;
  }
  return any;
}

// Inodes of the sockets open in `pid` ("socket:[123]" links in fd/).
std::set<unsigned long> SocketInodes(pid_t pid) {
  std::set<unsigned long> inodes;
  std::error_code ec;
  fs::directory_iterator fds("/proc/" + std::to_string(pid) + "/fd", ec);
  if (ec) return inodes;
  for (const auto& fd : fds) {
    const std::string link = fs::read_symlink(fd.path(), ec).string();
    if (!ec && link.rfind("socket:[", 0) == 0) {
      inodes.insert(std::stoul(link.substr(8)));
    }
  }
  return inodes;
}

// "0100007F:1F90" -> 0x1F90.
unsigned PortOf(const std::string& address) {
  return static_cast<unsigned>(
      std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
}

}  // namespace

bool FreezeProcess(pid_t pid, std::chrono::milliseconds timeout) {
  if (::kill(pid, SIGSTOP) != 0) return false;
  return WaitUntil([&] { return AllThreadsStopped(pid); }, timeout);
}

std::set<std::uint16_t> PeerPortsOf(pid_t pid, int server_port) {
  const std::set<unsigned long> inodes = SocketInodes(pid);
  std::set<std::uint16_t> ports;
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // column titles
  while (std::getline(table, line)) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    std::istringstream fields(line);
    std::string sl, local, remote, skip;
    unsigned long inode = 0;
    fields >> sl >> local >> remote;
    for (int i = 0; i < 6; ++i) fields >> skip;
    fields >> inode;
    if (!fields || inodes.count(inode) == 0) continue;
    if (PortOf(local) == static_cast<unsigned>(server_port) &&
        PortOf(remote) != 0) {
      ports.insert(static_cast<std::uint16_t>(PortOf(remote)));
    }
  }
  return ports;
}

}  // namespace forge::testing
