// store/postgres_store.h — the RangeStore in a PostgreSQL database
// (docs/design.md §5), for many brokers on many hosts.
//
// Contract (in addition to RangeStore's)
//   * DB_URL is a libpq URI, "postgres://" or "postgresql://"
//     (user:password@host:port/db?param=...). libpq's PG* environment
//     variables and ~/.pgpass fill what the URL leaves out. Unless the URL
//     says otherwise, the store connects with application_name=forge-broker,
//     connect_timeout, TCP keepalives (idle and interval of
//     STORE_TIMEOUT_MS rounded up to seconds, count 3) and tcp_user_timeout
//     = STORE_TIMEOUT_MS.
//   * Time limits (STORE_TIMEOUT_MS = limits.timeout, store_limits.h):
//     every transaction starts with SET LOCAL lock_timeout and
//     idle_in_transaction_session_timeout of STORE_TIMEOUT_MS and
//     statement_timeout of 1.5 × STORE_TIMEOUT_MS, so the server ends a
//     lock wait, a frozen client's open transaction (releasing the counter
//     row) or a statement after that long; each is a transient error. The
//     client never blocks in libpq: it connects and runs statements
//     asynchronously and polls the socket, giving up on the whole call after 2
//     × STORE_TIMEOUT_MS without an answer (a blackholed network), or at once
//     when the stop signal comes during the call (store_limits.h). Giving
//     up drops the connection (transient StoreError; the next call
//     reconnects) rather than PQcancel, which blocks on a silent network;
//     the server rolls back when it sees the socket closed or when its own
//     timeouts fire. Giving up while COMMIT is in flight is an unknown
//     outcome, handled as below.
//   * Schema version 3, created on first use in one transaction that holds
//     pg_advisory_xact_lock(kSchemaLockKey), so brokers racing to create
//     one store all end up with the first one's format:
//       forge_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) holds
//         schema_version, key_length, key_order, secret, created_unix_s,
//         store_id (the store's random identity, range_store.h), and after
//         the first Return returned_total (numbers ever returned);
//       forge_counter(id INT PRIMARY KEY CHECK (id = 1),
//                     next BIGINT NOT NULL CHECK (next >= 0));
//       forge_returned(first BIGINT PRIMARY KEY CHECK (first >= 0),
//                      last BIGINT NOT NULL, CHECK (first < last)): numbers
//         given back, [first, last), never overlapping, all below next;
//       forge_namespaces(name TEXT PRIMARY KEY): the namespaces besides
//         "default" (whose key space is the three tables above). Namespace
//         x has tables of the same shape "forge_meta@x", "forge_counter@x"
//         and "forge_returned@x", created with its registry row in one
//         transaction under the same advisory lock (racing creators: one
//         creates, the others find its row and open it).
//     A version-1 or -2 store is upgraded under the same lock at open
//     (CREATE TABLE forge_returned for version 1, forge_namespaces,
//     schema_version set to 3), its tables becoming "default"'s untouched;
//     a store without forge_meta.store_id (made by an older build) gets
//     one the same way.
//     A newer schema
//     version or damaged metadata is refused with a non-transient
//     StoreError; so is a format that differs from `wanted`.
//   * Reserve and Return are each one READ COMMITTED transaction that
//     first locks the counter row (SELECT next ... FOR UPDATE). Reserve
//     then takes the lowest forge_returned row (DELETE it, or UPDATE its
//     first past what it took) or else advances the counter (UPDATE);
//     Return INSERTs its rows. The row lock serialises brokers, so every
//     statement after it sees the previous holder's commit; the commit
//     is durable under the server's synchronous_commit (if a session would
//     run with synchronous_commit=off, the store raises it to on for its
//     own transactions).
//   * Connection loss: a failed connect or a dropped connection throws a
//     transient StoreError and the next call reconnects (the caller backs
//     off). A connection found dead at the start of a Reserve, before
//     anything was written, is replaced right away (once). If the connection
//     breaks while COMMIT is in flight the outcome is unknown: Reserve
//     throws a transient StoreError saying so and the range is treated as
//     reserved and lost. It cannot be handed out again because the counter
//     lives only in the database and only moves forward: the retry reads it
//     afresh, so a range that did commit stays a gap. For Return the same
//     unknown outcome is a NON-transient error: a retry could record the
//     numbers twice (if they are recorded, they are handed out again once;
//     if not, they are a gap).
//   * On reconnect the store re-reads the metadata and refuses (non-
//     transient) a database whose format changed or whose schema vanished;
//     it never recreates a schema it once found, nor accepts a store
//     with another identity (another database behind the same URL). A counter
//     lower than one this object already reserved up to (a database restored
//     from an older backup) is refused too, instead of reissuing keys.
//   * Namespace objects (OpenNamespace) share their opener's session: one
//     libpq connection per broker however many namespaces, one call clock.
//     Whichever object's call finds the connection gone makes it again
//     and checks its own key space's metadata as above.
//   * Describe() is "postgres://user@host:port/db" of the server actually
//     reached, never a password. Error messages never carry the password.
//   * One thread at a time per object; open it after fork(), not before (a
//     connection must not be shared between processes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "store/range_store.h"

namespace forge::store {

// Key of the transaction-scoped advisory lock taken while the schema is
// checked or created ("forgeSCH" in ASCII).
inline constexpr std::int64_t kSchemaLockKey = 0x666f726765534348;

// Opens (creating if needed) the store at `url`; see OpenStore for how
// `wanted` is used. Throws StoreError (transient when the server could not
// be reached).
std::unique_ptr<RangeStore> OpenPostgresStore(const std::string& url,
                                              const StoreFormat& wanted,
                                              const StoreLimits& limits = {});

}  // namespace forge::store
