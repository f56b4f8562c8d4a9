/*
 * shm_basics.c - a named shared-memory segment, Python's
 * multiprocessing.shared_memory.SharedMemory:
 *
 *     shm = SharedMemory(create=True, size=64)     mp_shm_create(NULL, 64, &shm)
 *     shm.buf[:5] = b'hello'                       memcpy(mp_shm_buf(shm), ...)
 *     other = SharedMemory(name=shm.name)          mp_shm_open(name, &other)
 *     other.close()                                mp_shm_close(other)
 *     shm.close(); shm.unlink()                    mp_shm_destroy(shm)
 *
 * The parent creates a segment (mproc generates its name), writes into it,
 * and a child opens it again by name, as an unrelated process would, reads
 * the message and writes a reply. The parent reads the reply and destroys
 * the segment; after that the name no longer opens.
 *
 * Build: cc -std=c11 shm_basics.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE 64

/* The child: open the segment by name only, check the message, reply. */
static int child(const char *name) {
  mp_shm *shm;
  int rc = mp_shm_open(name, &shm);
  if (rc < 0) {
    fprintf(stderr, "shm_basics: child: mp_shm_open(%s): %s\n", name,
            mp_strerror(rc));
    return 1;
  }
  char *buf = mp_shm_buf(shm);
  int ok = mp_shm_size(shm) == SIZE && strcmp(buf, "hello") == 0;
  if (ok)
    strcpy(buf, "hello back");
  if ((rc = mp_shm_close(shm)) < 0) { /* unmaps; the name stays */
    fprintf(stderr, "shm_basics: child: mp_shm_close: %s\n", mp_strerror(rc));
    return 1;
  }
  return ok ? 0 : 1;
}

int main(void) {
  mp_shm *shm;
  int rc = mp_shm_create(NULL, SIZE, &shm); /* NULL: "/mproc-<uuid>" */
  if (rc < 0) {
    fprintf(stderr, "shm_basics: mp_shm_create: %s\n", mp_strerror(rc));
    return 1;
  }
  /* Copy the name: mp_shm_name() is valid only until the handle goes. */
  char name[MP_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", mp_shm_name(shm));
  printf("created %s, %zu bytes\n", name, mp_shm_size(shm));

  char *buf = mp_shm_buf(shm); /* zero-filled, 64-byte aligned */
  strcpy(buf, "hello");

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(child(name)); /* _exit: never the parent's atexit handlers */
  int status = 0, failed = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "shm_basics: the child failed\n");
    failed = 1;
  } else {
    printf("the child replied: %s\n", buf);
    failed = strcmp(buf, "hello back") != 0;
  }

  /* The creator removes the name and unmaps. */
  if ((rc = mp_shm_destroy(shm)) < 0) {
    fprintf(stderr, "shm_basics: mp_shm_destroy: %s\n", mp_strerror(rc));
    failed = 1;
  }
  mp_shm *again;
  rc = mp_shm_open(name, &again);
  if (rc != MP_ENOENT) {
    fprintf(stderr, "shm_basics: open after destroy: %s (%s)\n",
            mp_err_name(rc), mp_strerror(rc));
    if (rc == 0)
      mp_shm_close(again);
    failed = 1;
  } else {
    printf("after destroy: %s\n", mp_err_name(rc));
  }
  return failed;
}
