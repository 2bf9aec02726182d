/* include/forge/client.h — libforge-client: pop mini-forge keys straight
 * from the broker's shared-memory ring, on the broker's host.
 *
 * Contract
 *   - A client is a consumer of the ring like an HTTP worker: every pop is
 *     a lock-free claim (one CAS), so a key is handed out once across all
 *     workers and clients, and a process killed mid-claim loses at most the
 *     keys it had claimed (gaps, never repeats). A client never blocks the
 *     broker or a worker.
 *   - One forge_client may be used from any number of threads at once.
 *     Do not use it in a child after fork(): open another one there.
 *   - The client needs the access a worker needs: the segment's owner, or
 *     a member of its group when the broker runs with SHM_MODE=0660.
 *   - Each namespace's segment is attached on its first use and followed
 *     across broker restarts (re-attached when replaced), as workers do.
 *     The client registers in each segment's stats slots (kind "client"),
 *     so forge-ctl stats and /metrics show its pid and served count.
 *   - Keys handed to the caller are the caller's: a key not used is a gap,
 *     never given back (a returned key could be one served to someone
 *     else).
 *   - ABI: the soname carries FORGE_CLIENT_ABI_VERSION; the calls below are
 *     never changed, only added to. The segment's layout version is
 *     checked when it is attached: a mismatch is FORGE_EBADSEGMENT with
 *     a one-line detail (forge_last_error).
 */
#ifndef FORGE_CLIENT_H_
#define FORGE_CLIENT_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FORGE_CLIENT_API __attribute__((visibility("default")))
#else
#define FORGE_CLIENT_API
#endif

#define FORGE_CLIENT_ABI_VERSION 1

/* Result codes: 0 is success, every other value a FORGE_E* code. */
enum {
  FORGE_OK = 0,
  FORGE_EEMPTY = 1,      /* no key came within timeout_ms (ring empty) */
  FORGE_EEXHAUSTED = 2,  /* the namespace's key space is used up, for good */
  FORGE_ENOBROKER = 3,   /* no segment under that name, or the ring is
                            empty and no broker is alive */
  FORGE_EBADSEGMENT = 4, /* not a mini-forge segment, another layout
                            version, damaged, or not ours to read */
  FORGE_ENONS = 5,       /* no such namespace (no segment for it) */
  FORGE_ERANGE = 6,      /* the buffer cannot hold what was asked: nothing
                            was taken from the ring */
  FORGE_EINVAL = 7,      /* a bad argument (NULL pointer, bad name, n 0) */
  FORGE_ENOMEM = 8       /* out of memory */
};

typedef struct forge_client forge_client;

/* shm_name NULL: $SHM_NAME, else "mini-forge". 0 on success, else a FORGE_E*
 * code. */
FORGE_CLIENT_API int forge_client_open(const char* shm_name,
                                       forge_client** out);

/* ns NULL or "": the default namespace. Writes one NUL-terminated key into buf.
 * timeout_ms: how long to wait on an empty ring; 0 never waits, a negative
 * value waits until a key comes (or the broker is gone / exhausted). */
FORGE_CLIENT_API int forge_client_get_key(forge_client* c, const char* ns,
                                          char* buf, size_t cap,
                                          int timeout_ms);

/* Up to n keys into buf, each followed by '\n', then a NUL; *got = how many.
 * FORGE_OK with *got < n when the wait ran out after some keys came;
 * FORGE_ERANGE (and nothing taken) unless cap holds n keys of the
 * namespace's length, their newlines and the NUL. */
FORGE_CLIENT_API int forge_client_get_keys(forge_client* c, const char* ns,
                                           size_t n, char* buf, size_t cap,
                                           size_t* got, int timeout_ms);

/* Releases the client's stats slots and mappings. NULL is ignored. */
FORGE_CLIENT_API void forge_client_close(forge_client* c);

/* One line, never NULL. */
FORGE_CLIENT_API const char* forge_strerror(int code);

/* Additions to the API. */

/* One line saying what went wrong in this thread's latest failing call
 * (which segment, which version, which namespace); "" when none did. Valid
 * until the thread's next call into the library. Never NULL. */
FORGE_CLIENT_API const char* forge_last_error(void);

/* Characters of one key of namespace ns (prefix and check included), for
 * sizing buffers: n keys need n * (length + 1) + 1 bytes. 0 on success. */
FORGE_CLIENT_API int forge_client_key_length(forge_client* c, const char* ns,
                                             size_t* length);

#ifdef __cplusplus
}
#endif

#endif /* FORGE_CLIENT_H_ */
