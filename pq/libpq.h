// pq/libpq.h — libpq, loaded when a PostgreSQL store is first used.
//
// Why: linking libpq loads it and its ~20 libraries (OpenSSL, Kerberos,
// LDAP, GnuTLS…) at every exec of forge-broker, forge-frontend and
// forge-ctl, ~9 ms each on a 2-core guest, although the default store is
// SQLite. Loaded on demand, a SQLite deployment never maps it (and needs
// no libpq at all), and a broker's start, with it the first key, is that
// much sooner.
//
// Contract
//   * Lib() loads libpq.so.5 (the soname of every libpq since 8.3) and
//     resolves every function of kLibpqFunctions at its first call; later
//     calls return the same table. Thread-safe (a function-local static).
//   * When the library or a function cannot be found, Lib() throws
//     forge::Error(kUnavailable) with one line naming the file, dlerror()
//     and what to install. The outcome is kept: every later call throws
//     the same line (a libpq installed afterwards needs a restart).
//     Loaded() says whether Lib() returns.
//     The message for a missing library is the same whoever asks, so it
//     names DB_URL, what to install, and the SQLite alternative.
//   * The library stays loaded until the process ends (never dlclose'd:
//     libpq keeps OpenSSL state).
//   * Callers use the types of <libpq-fe.h> and call through the table
//     (pq::Lib().PQclear(r)); nothing of ours links libpq itself, the
//     test fixture that runs a PostgreSQL server included.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "base/status.h"

namespace forge::pq {

// The libpq functions mini-forge calls (the last four: only its test
// fixture, tests/support/postgres_server.cpp). One list, expanded into the
// table below and into the loader (libpq.cpp).
// clang-format off
#define FORGE_LIBPQ_FUNCTIONS(X) \
  X(PQclear) \
  X(PQcmdStatus) \
  X(PQconnectPoll) \
  X(PQconnectStartParams) \
  X(PQconninfoFree) \
  X(PQconninfoParse) \
  X(PQconsumeInput) \
  X(PQdb) \
  X(PQerrorMessage) \
  X(PQfinish) \
  X(PQflush) \
  X(PQfreemem) \
  X(PQgetResult) \
  X(PQgetvalue) \
  X(PQhost) \
  X(PQisBusy) \
  X(PQntuples) \
  X(PQport) \
  X(PQresultErrorField) \
  X(PQresultStatus) \
  X(PQsendQuery) \
  X(PQsendQueryParams) \
  X(PQsetNoticeProcessor) \
  X(PQsetnonblocking) \
  X(PQsocket) \
  X(PQstatus) \
  X(PQtransactionStatus) \
  X(PQuser) \
  X(PQconnectdb) \
  X(PQexec) \
  X(PQnfields) \
  X(PQping)
// clang-format on

struct Api {
#define FORGE_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  FORGE_LIBPQ_FUNCTIONS(FORGE_LIBPQ_MEMBER)
#undef FORGE_LIBPQ_MEMBER
};

// The shared object Lib() opens.
inline constexpr const char* kLibpqFile = "libpq.so.5";

// libpq's functions; throws forge::Error (see the contract).
const Api& Lib();

// True when Lib() returns (libpq is installed and complete).
bool Loaded();

// Owners of what libpq allocates (PQfinish, PQclear, PQconninfoFree). A
// non-null pointer came from Lib(), so freeing it never throws.
struct Free {
  void operator()(PGconn* conn) const { Lib().PQfinish(conn); }
  void operator()(PGresult* result) const { Lib().PQclear(result); }
  void operator()(PQconninfoOption* options) const {
    Lib().PQconninfoFree(options);
  }
};
using Conn = std::unique_ptr<PGconn, Free>;
using Result = std::unique_ptr<PGresult, Free>;
using Options = std::unique_ptr<PQconninfoOption, Free>;

// PQconninfoParse(conninfo): the options, or null with *why set to libpq's
// message ("out of memory" when it gave none). Throws as Lib() does.
Options ParseConninfo(const std::string& conninfo, std::string* why);

// What loading `file` instead would say: ok, or Lib()'s one line (for
// tests; the library, once found, stays loaded).
Status Probe(const char* file);

}  // namespace forge::pq
