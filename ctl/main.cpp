// forge-ctl: operator views of a mini-forge deployment's segments and
// store, `namespace create`, `namespace blocklist`, `store advance` and
// `segment remove` (the commands that write: a namespace, a namespace's
// blocklist, a counter; remove unlinks a segment nobody uses).
// Exit codes: 0 ok; 1 no (usable) segment or store, a check failed, a
// segment to remove is in use, or the output could not be written (stdout
// on a full disk, closed);
// 2 bad flags, config, KEY, NUMBER, policy option, blocklist or namespace
// (a name breaking the rule, one the store lacks, a format conflict at
// create, a --to below the counter). check-key: 0 the key's check holds, 1 it
// does not (or no segment), 2 usage.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <streambuf>
#include <string>

#include "base/names.h"
#include "config/config.h"
#include "ctl/check.h"
#include "ctl/check_key.h"
#include "ctl/codec_command.h"
#include "ctl/namespace_command.h"
#include "ctl/segment_command.h"
#include "ctl/stats_command.h"
#include "ctl/store_command.h"

namespace {

namespace ctl = forge::ctl;
using std::chrono::milliseconds;

struct StatsFlags {
  CLI::App* cmd = nullptr;
  bool json = false;
  int interval_ms = 1000;
  CLI::Option* watch = nullptr;
  double watch_s = 2;
};

void AddStats(CLI::App& app, StatsFlags* f) {
  f->cmd = app.add_subcommand(
      "stats",
      "ring fill, rates, broker health, key space and per-worker counters");
  f->cmd->add_flag("--json", f->json,
                   "print one JSON object (with --watch: one per line)");
  CLI::Option* interval =
      f->cmd
          ->add_option("--interval", f->interval_ms,
                       "milliseconds between the two snapshots the rates "
                       "come from (0: no rates)")
          ->check(CLI::Range(0, 60000))
          ->default_val(1000);
  f->watch =
      f->cmd
          ->add_option("--watch", f->watch_s,
                       "refresh every SECONDS (default 2) until Ctrl-C; in "
                       "place on a terminal, one block per refresh otherwise")
          ->expected(0, 1)
          ->default_str("2")
          ->check(CLI::Range(0.1, 3600.0))
          ->excludes(interval);
}

ctl::StatsOptions ToOptions(const StatsFlags& f, const std::string& shm) {
  ctl::StatsOptions o;
  o.shm_name = shm;
  o.json = f.json;
  o.interval = milliseconds(f.interval_ms);
  if (f.watch->count() > 0) {
    o.watch = milliseconds(static_cast<long>(f.watch_s * 1000.0 + 0.5));
  }
  return o;
}

// std::cout's buffer in forge-ctl: writes to fd 1 and keeps the errno of
// the first write that failed, so the one error line can say why.
class StdoutBuffer final : public std::streambuf {
 public:
  StdoutBuffer() { Reset(); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (sync() != 0) return traits_type::eof();
    if (traits_type::eq_int_type(c, traits_type::eof())) return 0;
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
    return c;
  }

  int sync() override {
    const char* p = pbase();
    while (p < pptr()) {
      const ssize_t n = ::write(STDOUT_FILENO, p, std::size_t(pptr() - p));
      if (n > 0) {
        p += n;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        if (error_ == 0) error_ = n < 0 ? errno : EIO;
        Reset();  // the text is lost; later writes must not repeat it
        return -1;
      }
    }
    Reset();
    return 0;
  }

 private:
  void Reset() { setp(buffer_, buffer_ + sizeof buffer_); }

  char buffer_[8192];
  int error_ = 0;
};

// `code`, unless something written to stdout was lost: then 1, with one
// line on stderr. A view nobody received is a failure, not a success.
int CheckedOutput(int code, const StdoutBuffer& buffer) {
  std::cout.flush();
  if (buffer.error() == 0 && std::cout) return code;
  const int err = buffer.error();
  std::cerr << "forge-ctl: cannot write to standard output"
            << (err != 0 ? std::string(" (") + std::strerror(err) + ")" : "")
            << "; the output is incomplete\n";
  return 1;
}

struct NamespaceFlags {
  CLI::App* cmd = nullptr;
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* blocklist = nullptr;
  ctl::CreateRequest request;  // create's NAME and options
  int key_length = 0;
  CLI::Option* key_length_option = nullptr;
  std::string blocklist_arg;  // create --blocklist
  CLI::Option* blocklist_option = nullptr;
  std::string list_arg;  // blocklist's LIST
};

void AddCreate(CLI::App& ns, NamespaceFlags* f) {
  CLI::App* c = f->create = ns.add_subcommand(
      "create",
      "create namespace NAME with --key-length and --key-order (KEY_LENGTH, "
      "KEY_ORDER) and the key policy options; an existing one with the same "
      "format is left alone");
  c->add_option("NAME", f->request.name, "the namespace's name")->required();
  f->key_length_option = c->add_option(
      "--key-length", f->key_length,
      "digits per key (default KEY_LENGTH; up to what --alphabet allows)");
  c->add_option("--alphabet", f->request.policy.alphabet,
                std::string(forge::keys::kAlphabetRule))
      ->default_str("base62");
  c->add_option("--check", f->request.policy.check,
                "check character: " + std::string(forge::keys::kCheckRule))
      ->default_str("none");
  c->add_option(
      "--prefix", f->request.policy.prefix,
      "prepended to every key: " + std::string(forge::keys::kPrefixRule));
  f->blocklist_option =
      c->add_option("--blocklist", f->blocklist_arg,
                    "words no key may contain: " +
                        std::string(forge::keys::kBlocklistRule))
          ->default_str("default");
}

void AddNamespace(CLI::App& app, NamespaceFlags* f) {
  CLI::App* ns = f->cmd = app.add_subcommand(
      "namespace",
      "create, list and show the namespaces of the store, set a blocklist");
  ns->require_subcommand(1);
  AddCreate(*ns, f);
  f->list = ns->add_subcommand(
      "list",
      "every namespace: length, order, policy, example key, key space, used, "
      "state");
  f->show = ns->add_subcommand("show", "one namespace in detail");
  f->show->add_option("NAME", f->request.name, "the namespace's name")
      ->required();
  f->blocklist = ns->add_subcommand(
      "blocklist", "replace namespace NAME's blocklist (keys not yet issued)");
  f->blocklist->add_option("NAME", f->request.name, "the namespace's name")
      ->required();
  f->blocklist
      ->add_option("LIST", f->list_arg,
                   "the new list: " + std::string(forge::keys::kBlocklistRule))
      ->required();
}

// Runs the namespace subcommand that was given.
int RunNamespace(NamespaceFlags& f, const forge::config::Config& cfg) {
  const std::string& name = f.request.name;
  if (f.create->parsed()) {
    if (f.key_length_option->count() > 0) f.request.key_length = f.key_length;
    if (f.blocklist_option->count() > 0) {
      f.request.policy.blocklist = f.blocklist_arg;
    }
    return ctl::RunNamespaceCreate(cfg, f.request, std::cout);
  }
  if (f.blocklist->parsed()) {
    return ctl::RunNamespaceBlocklist(cfg, name, f.list_arg, std::cout);
  }
  if (f.show->parsed()) return ctl::RunNamespaceShow(cfg, name, std::cout);
  return ctl::RunNamespaceList(cfg, std::cout);
}

struct SegmentFlags {
  CLI::App* cmd = nullptr;
  CLI::App* remove = nullptr;
  bool json = false;
  std::string name;
  std::optional<std::string> ns;
};

void AddSegment(CLI::App& app, SegmentFlags* f) {
  f->cmd = app.add_subcommand(
      "segment", "list the segments in /dev/shm, remove one nobody uses");
  f->cmd->require_subcommand(1);
  CLI::App* list = f->cmd->add_subcommand(
      "list",
      "every segment: name, size, broker pid and state, live workers, keys "
      "in the ring (or why it cannot be read)");
  list->add_flag("--json", f->json, "print one JSON object");
  f->remove = f->cmd->add_subcommand(
      "remove",
      "unlink segment NAME and its lock file (keys left in its ring become "
      "gaps); refused while its broker or a worker or client on it lives");
  f->remove
      ->add_option("NAME", f->name,
                   "SHM_NAME, or SHM_NAME@NAMESPACE as segment list shows it")
      ->required();
  f->remove->add_option("--ns", f->ns,
                        "the namespace whose segment under SHM_NAME NAME goes");
}

int RunSegment(const SegmentFlags& f) {
  if (f.remove->parsed()) {
    return ctl::RunSegmentRemove(f.name, f.ns, std::cout);
  }
  return ctl::RunSegmentList(f.json, std::cout);
}

int Run(int argc, char** argv) {
  CLI::App app{
      "forge-ctl: views of a mini-forge deployment's segments and "
      "store, and its namespaces",
      "forge-ctl"};
  forge::config::Loader loader(app);
  app.require_subcommand(1);
  StatsFlags stats;
  AddStats(app, &stats);
  std::string key, number, ns{forge::base::kDefaultNamespace};
  CLI::App* decode = app.add_subcommand(
      "decode",
      "print the number a KEY encodes (format from the store; the prefix "
      "may be left out, the check character is verified) and whether the "
      "namespace's blocklist would block it");
  decode->add_option("KEY", key, "a key as served, e.g. 0000A3x")->required();
  CLI::App* encode = app.add_subcommand(
      "encode", "print the key of a NUMBER (format from the store)");
  encode->add_option("NUMBER", number, "0 .. key space - 1")->required();
  CLI::App* check_key = app.add_subcommand(
      "check-key",
      "validate a typed KEY from the namespace's segment only (never the "
      "store): JSON as GET /check-key; exit 0 when its check holds, 1 not");
  check_key->add_option("KEY", key, "a key as typed")->required();
  for (CLI::App* codec : {decode, encode, check_key}) {
    codec->add_option("--ns", ns, "the namespace whose format is used")
        ->default_str(std::string(forge::base::kDefaultNamespace));
  }
  NamespaceFlags namespaces;
  AddNamespace(app, &namespaces);
  CLI::App* store = app.add_subcommand(
      "store", "operator steps on the store's counters (recovery runbook)");
  store->require_subcommand(1);
  CLI::App* advance = store->add_subcommand(
      "advance",
      "move namespace --ns's counter forward to --to N and drop its "
      "returned list (after restoring a backup; never backwards)");
  std::string advance_to;
  advance->add_option("--ns", ns, "the namespace whose counter moves")
      ->default_str(std::string(forge::base::kDefaultNamespace));
  advance->add_option("--to", advance_to, "the new counter, N >= the current")
      ->required();
  SegmentFlags segments;
  AddSegment(app, &segments);
  CLI::App* check = app.add_subcommand(
      "check",
      "verify the segment header, the broker lock and heartbeat, and the "
      "store (schema, format, counter >= every published number)");
  int exit_code = 0;
  const auto cfg =
      forge::config::ParseArgs(app, loader, argc, argv, &exit_code);
  if (!cfg) return exit_code;
  if (decode->parsed()) return ctl::RunDecode(*cfg, ns, key, std::cout);
  if (encode->parsed()) return ctl::RunEncode(*cfg, ns, number, std::cout);
  if (check_key->parsed()) {
    return ctl::RunCheckKey(cfg->shm_name, ns, key, std::cout);
  }
  if (namespaces.cmd->parsed()) return RunNamespace(namespaces, *cfg);
  if (segments.cmd->parsed()) return RunSegment(segments);
  if (check->parsed()) return ctl::RunCheck(*cfg, std::cout);
  if (advance->parsed()) {
    return ctl::RunStoreAdvance(*cfg, ns, advance_to, std::cout);
  }
  return ctl::RunStats(ToOptions(stats, cfg->shm_name), std::cout);
}

}  // namespace

int main(int argc, char** argv) {
  StdoutBuffer buffer;
  std::streambuf* const standard = std::cout.rdbuf(&buffer);
  const int code = CheckedOutput(Run(argc, argv), buffer);
  std::cout.rdbuf(standard);
  return code;
}
