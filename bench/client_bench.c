/* bench/client_bench.c — pops per second through libforge-client, for
 * bench/clients.sh.
 *
 *   forge_client_bench single|batch SECONDS [BATCH]
 *
 * Pops from the default namespace of $SHM_NAME in one thread with
 * timeout 0, for SECONDS or until the ring runs dry (the broker does not
 * keep up), whichever comes first; prints one line:
 *   keys=N seconds=S keys_per_s=R calls_per_s=C dry=0|1
 * Exits 1 when the client cannot open or a pop fails for another reason
 * than an empty ring. */
#include <forge/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 3 || (strcmp(argv[1], "single") && strcmp(argv[1], "batch"))) {
    fprintf(stderr, "usage: %s single|batch SECONDS [BATCH]\n", argv[0]);
    return 2;
  }
  const int single = strcmp(argv[1], "single") == 0;
  const double seconds = atof(argv[2]);
  const size_t batch = argc > 3 ? (size_t)atol(argv[3]) : 1000;
  forge_client* c = NULL;
  int rc = forge_client_open(NULL, &c);
  if (rc != FORGE_OK) {
    fprintf(stderr, "open: %s: %s\n", forge_strerror(rc), forge_last_error());
    return 1;
  }
  size_t length = 0;
  forge_client_key_length(c, NULL, &length);
  const size_t cap = batch * (length + 1) + 1;
  char* buf = malloc(cap);
  if (buf == NULL) return 1;
  unsigned long long keys = 0, calls = 0;
  int dry = 0;
  const double start = now_s();
  double end = start;
  for (;;) {
    /* Look at the clock every 1024 calls only. */
    for (int i = 0; i < 1024; ++i) {
      size_t got = 1;
      rc = single ? forge_client_get_key(c, NULL, buf, cap, 0)
                  : forge_client_get_keys(c, NULL, batch, buf, cap, &got, 0);
      if (rc != FORGE_OK) break;
      keys += got;
      ++calls;
    }
    end = now_s();
    if (rc == FORGE_EEMPTY) {
      dry = 1;
      break;
    }
    if (rc != FORGE_OK) {
      fprintf(stderr, "pop: %s: %s\n", forge_strerror(rc), forge_last_error());
      return 1;
    }
    if (end - start >= seconds) break;
  }
  const double took = end - start;
  printf("keys=%llu seconds=%.3f keys_per_s=%.0f calls_per_s=%.0f dry=%d\n",
         keys, took, (double)keys / took, (double)calls / took, dry);
  free(buf);
  forge_client_close(c);
  return 0;
}
