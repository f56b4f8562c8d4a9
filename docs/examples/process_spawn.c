/*
 * process_spawn.c - the cubes of process_cubes.c, with the spawn and
 * forkserver start methods.
 *
 * Python:
 *     def cube(shm_name, go, i, n):
 *         shm = SharedMemory(shm_name)           # objects travel by name
 *         go.wait()
 *         shm.buf[...] = n ** 3
 *
 *     if __name__ == '__main__':             # the child re-imports this file
 *         multiprocessing.set_start_method('spawn')
 *         ...
 *
 * A spawned child is this program run again; a forkserver child is forked
 * by a server that is this program too. Neither shares the parent's memory,
 * so:
 *  - the target is registered under a name with MP_REGISTER, in parent and
 *    child alike. MP_REGISTER runs before main(), and a child runs its
 *    target right there and exits: it never reaches main(), which needs no
 *    "if __name__ == '__main__'" of its own;
 *  - the argument travels as bytes (arg_size of them): a struct of plain
 *    data, copied to the child, where the copy is 16-byte aligned: the
 *    child reads it in place;
 *  - shared objects travel by name: the child opens the segment with
 *    mp_shm_open() and the start event with mp_event_open().
 * The children wait for the event, so that all five compute at once. Each
 * one also checks its name and its parent's pid, which mproc passes along.
 *
 * Build: cc -std=c11 process_spawn.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NPROC 5

/* What a child gets: plain bytes, no pointers. */
struct job {
  char shm[MP_NAME_MAX + 1]; /* the results segment           */
  char go[MP_NAME_MAX + 1];  /* the event that starts the work */
  char name[32];             /* the name the child should have */
  pid_t parent;
  int index;
  long number;
};

/* The target. Its return value is the exit code: 0, or where it failed. */
static int cube(void *arg) {
  const struct job *job = arg; /* the child's own copy */
  if (mp_parent_pid() != job->parent ||
      strcmp(mp_current_process_name(), job->name) != 0)
    return 2;

  mp_event *go;
  if (mp_event_open(job->go, &go) < 0)
    return 3;
  int rc = mp_event_wait(go, 10.0);
  mp_event_close(go);
  if (rc < 0)
    return 4;

  mp_shm *shm;
  if (mp_shm_open(job->shm, &shm) < 0)
    return 5;
  long *result = mp_shm_buf(shm);
  result[job->index] = job->number * job->number * job->number;
  return mp_shm_close(shm) < 0 ? 6 : 0;
}
MP_REGISTER(cube)

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "process_spawn: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* Compute the cubes in NPROC children started with `method`; 0 if right. */
static int run(mp_start_method method, const char *label) {
  const long numbers[NPROC] = {2, 3, 5, 7, 11};
  struct job jobs[NPROC];
  mp_process *p[NPROC] = {NULL};
  mp_shm *shm;
  mp_event *go;
  int failed = 0, rc;

  if ((rc = mp_shm_create(NULL, NPROC * sizeof(long), &shm)) < 0)
    return fail("mp_shm_create", rc);
  if ((rc = mp_event_create(NULL, &go)) < 0) {
    mp_shm_destroy(shm);
    return fail("mp_event_create", rc);
  }

  for (int i = 0; i < NPROC; i++) {
    struct job *j = &jobs[i];
    memset(j, 0, sizeof *j);
    snprintf(j->shm, sizeof j->shm, "%s", mp_shm_name(shm));
    snprintf(j->go, sizeof j->go, "%s", mp_event_name(go));
    snprintf(j->name, sizeof j->name, "%s-%d", label, i);
    j->parent = getpid();
    j->index = i;
    j->number = numbers[i];
    /* method 0 (MP_START_DEFAULT): mp_get_start_method() */
    mp_process_options o = {.name = j->name, .method = method,
                            .arg_size = sizeof *j};
    if ((rc = mp_process_create(cube, j, &o, &p[i])) < 0 ||
        (rc = mp_process_start(p[i])) < 0)
      failed = fail("start", rc);
  }
  mp_event_set(go); /* all started: go */

  for (int i = 0; i < NPROC; i++) {
    int code = -1;
    if (!p[i])
      continue;
    if ((rc = mp_process_join(p[i], 20.0)) < 0)
      failed = fail("mp_process_join", rc);
    else if (mp_process_exitcode(p[i], &code) == 0 && code != 0) {
      fprintf(stderr, "process_spawn: %s exited with %d\n",
              mp_process_name(p[i]), code);
      failed = 1;
    }
    if (mp_process_close(p[i]) < 0) { /* still running: end it */
      mp_process_kill(p[i]);
      mp_process_join(p[i], MP_FOREVER);
      mp_process_close(p[i]);
    }
  }

  long *result = mp_shm_buf(shm);
  printf("%s: cubes", label);
  for (int i = 0; i < NPROC; i++) {
    printf(" %ld", result[i]);
    if (result[i] != numbers[i] * numbers[i] * numbers[i])
      failed = 1;
  }
  printf("\n");
  mp_event_destroy(go);
  mp_shm_destroy(shm);
  return failed;
}

int main(void) {
  /* The default for every process created from now on. */
  int rc = mp_set_start_method(MP_START_SPAWN);
  if (rc < 0)
    return fail("mp_set_start_method", rc);
  int failed = run(MP_START_DEFAULT, "spawn");
  /* Or per process, in the options. */
  failed |= run(MP_START_FORKSERVER, "forkserver");
  return failed;
}
