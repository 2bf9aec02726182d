// pq/libpq.cpp — see libpq.h for the contract.
#include "pq/libpq.h"

#include <dlfcn.h>

#include <string>
#include <variant>

#include "base/status.h"

namespace forge::pq {
namespace {

// What install gives libpq.so.5, for the message.
constexpr const char* kInstall =
    "install libpq (Debian: apt-get install libpq5) or use a sqlite: DB_URL";

// The table, or the one line saying why there is none.
using Loading = std::variant<Api, std::string>;

Loading Load(const char* file) {
  // RTLD_LOCAL: its symbols serve only this table. RTLD_NOW: a library
  // that cannot be bound fails here, once, not at some later call.
  void* handle = ::dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return std::string("DB_URL names a PostgreSQL store, but ") + file +
           " cannot be loaded (" + (why ? why : "unknown reason") + "); " +
           kInstall;
  }
  Api api;
#define FORGE_LIBPQ_RESOLVE(name)                                           \
  api.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name));   \
  if (api.name == nullptr) {                                                \
    ::dlclose(handle);                                                      \
    return std::string(file) + " has no " #name " (not a usable libpq); " + \
           kInstall;                                                        \
  }
  FORGE_LIBPQ_FUNCTIONS(FORGE_LIBPQ_RESOLVE)
#undef FORGE_LIBPQ_RESOLVE
  return api;
}

const Loading& Once() {
  static const Loading loading = Load(kLibpqFile);
  return loading;
}

}  // namespace

const Api& Lib() {
  const Loading& loading = Once();
  if (const auto* why = std::get_if<std::string>(&loading)) {
    throw Error(Code::kUnavailable, *why);
  }
  return std::get<Api>(loading);
}

bool Loaded() { return std::holds_alternative<Api>(Once()); }

Options ParseConninfo(const std::string& conninfo, std::string* why) {
  char* error = nullptr;
  Options options(Lib().PQconninfoParse(conninfo.c_str(), &error));
  if (options == nullptr) *why = error != nullptr ? error : "out of memory";
  Lib().PQfreemem(error);
  return options;
}

Status Probe(const char* file) {
  const Loading loading = Load(file);
  if (const auto* why = std::get_if<std::string>(&loading)) {
    return Status(Code::kUnavailable, *why);
  }
  return Status::Ok();
}

}  // namespace forge::pq
