/*
 * shm_names.c - segment names, listing, and removal by name.
 *
 * Creates a segment under a name of its own choosing, shows that the name
 * is exclusive, finds the segment with mp_shm_list() (what `mproc shm ls`
 * prints), removes it by name with mp_shm_remove() (what `mproc shm rm`
 * does), and then closes the handle that is still mapped.
 *
 * Build: cc -std=c11 shm_names.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* mp_shm_list() callback: print our own segment, count it. */
static int show(const mp_shm_info *info, void *ctx) {
  const char *wanted = ctx;
  if (strcmp(info->name, wanted) != 0)
    return 0; /* someone else's: skip */
  printf("%s kind=%s size=%llu creator=%d alive=%d\n", info->name, info->kind,
         (unsigned long long)info->size, (int)info->creator_pid,
         info->creator_alive);
  return 1; /* found: stop the walk; mp_shm_list() returns 1 */
}

/* Print a failed call's code; returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "shm_names: %s: %s (%s)\n", what, mp_err_name(rc),
          mp_strerror(rc));
  return 1;
}

int main(void) {
  char name[64];
  /* "/" + up to 254 characters, no other '/'. Naming it after the program
   * and pid keeps it unique and recognisable in `mproc shm ls`. */
  snprintf(name, sizeof name, "/mproc-example-shm_names-%d", (int)getpid());

  mp_shm *shm, *dup;
  int rc = mp_shm_create(name, 4096, &shm);
  if (rc < 0)
    return fail("mp_shm_create", rc);

  int failed = 0;
  if ((rc = mp_shm_create(name, 4096, &dup)) != MP_EEXIST) { /* exclusive */
    failed = fail("create the same name twice", rc);
    if (rc == 0)
      mp_shm_close(dup);
  }
  if ((rc = mp_shm_create("no-slash", 4096, &dup)) != MP_EINVAL) {
    failed = fail("create a bad name", rc);
    if (rc == 0)
      mp_shm_destroy(dup);
  }

  if ((rc = mp_shm_list(show, name)) != 1)
    failed = fail("mp_shm_list did not find the segment", rc);

  /* Remove the name, as `mproc shm rm NAME` would. The mapping stays. */
  if ((rc = mp_shm_remove(name)) < 0)
    failed = fail("mp_shm_remove", rc);
  ((char *)mp_shm_buf(shm))[0] = 'x'; /* still mapped, still usable */

  /* destroy = unlink + close: the name is already gone, so it reports
   * MP_ENOENT, and the handle is closed all the same. */
  if ((rc = mp_shm_destroy(shm)) != MP_ENOENT)
    failed = fail("mp_shm_destroy after remove", rc);
  return failed;
}
