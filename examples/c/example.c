/* examples/c/example.c — pop three keys from the broker's shared memory
 * (libforge-client), then show what an error looks like.
 *
 *   SHM_NAME=mini-forge ./forge-client-example
 *
 * Build against an installed client:
 *   cc example.c $(pkg-config --cflags --libs forge-client)
 * or with CMake: find_package(ForgeClient) (see CMakeLists.txt here). */
#include <forge/client.h>
#include <stdio.h>

int main(void) {
  forge_client* client = NULL;
  int rc = forge_client_open(NULL, &client); /* $SHM_NAME, else mini-forge */
  if (rc != FORGE_OK) {
    fprintf(stderr, "open: %s: %s\n", forge_strerror(rc), forge_last_error());
    return 1;
  }
  char keys[3 * 16 + 1];
  size_t got = 0;
  /* Up to 3 keys of the default namespace, waiting up to 2 s for them. */
  rc = forge_client_get_keys(client, NULL, 3, keys, sizeof keys, &got, 2000);
  if (rc != FORGE_OK) {
    fprintf(stderr, "get_keys: %s: %s\n", forge_strerror(rc),
            forge_last_error());
    forge_client_close(client);
    return 1;
  }
  printf("%s", keys); /* one key per line */

  /* An error path: a namespace the broker does not serve. */
  char key[64];
  rc = forge_client_get_key(client, "no-such-namespace", key, sizeof key, 0);
  printf("error %d: %s (%s)\n", rc, forge_strerror(rc), forge_last_error());

  forge_client_close(client);
  return rc == FORGE_ENONS ? 0 : 1;
}
