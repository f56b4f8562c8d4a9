/*
 * process_workers.c - Python's first Process examples, in C: five workers,
 * named processes, and a daemon next to a non-daemon.
 *
 * Python:
 *     def worker():
 *         print('Worker')
 *
 *     for i in range(5):
 *         Process(target=worker).start()
 *
 *     service = Process(name='my_service', target=my_service)
 *     worker_1 = Process(name='worker 1', target=worker)
 *     worker_2 = Process(target=worker)           # default name
 *
 *     d = Process(name='daemon', target=daemon)
 *     d.daemon = True
 *     n = Process(name='non-daemon', target=non_daemon)
 *     n.start(); d.start()                        # and main just ends
 *
 * In Python the main program ends without joining the last two: at exit it
 * terminates the daemon and waits for the non-daemon. To show that here, a
 * 'launcher' process plays that main program: it starts both and returns.
 * The daemon would wait for ever, holding a lock; the non-daemon finishes
 * only when it gets that lock, which happens once the launcher's exit has
 * ended the daemon (MP_EOWNERDEAD). That the non-daemon finished before the
 * launcher was gone shows that the launcher's exit waited for it. The
 * notebook's sleeps are replaced by a lock and events.
 *
 * The fork start method (the default): children use the parent's pointers.
 *
 * Build: cc -std=c11 process_workers.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <stdio.h>
#include <string.h>

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "process_workers: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* Start fn(arg) in a new process; 0 and the handle in *out, or a code. */
static int start(mp_target fn, void *arg, const char *name, int daemon,
                 mp_process **out) {
  mp_process_options o = {.name = name, .daemon = daemon};
  int rc = mp_process_create(fn, arg, &o, out);
  if (rc == 0 && (rc = mp_process_start(*out)) < 0) {
    mp_process_close(*out);
    *out = NULL;
  }
  return rc;
}

/* Wait for p, then free it; 1 when it exited with code 0. */
static int join_ok(mp_process *p) {
  int code = -1;
  if (!p || mp_process_join(p, MP_FOREVER) < 0 ||
      mp_process_exitcode(p, &code) < 0)
    return 0;
  mp_process_close(p);
  return code == 0;
}

/* ---- five workers, named processes ---------------------------------------- */

/* arg: NULL, or where the parent put the name this process should have. */
static int worker(void *arg) {
  const char *me = mp_current_process_name();
  const char *const *expect = arg;
  printf("%s: Worker\n", me);
  return expect && strcmp(me, *expect) != 0; /* exit code 1: wrong name */
}

static int five_workers(void) {
  mp_process *p[5];
  int failed = 0, rc;
  for (int i = 0; i < 5; i++)
    if ((rc = start(worker, NULL, NULL, 0, &p[i])) < 0)
      failed = fail("start", rc);
  for (int i = 0; i < 5; i++)
    if (!join_ok(p[i]))
      failed = 1;
  return failed;
}

static int named(void) {
  const char *names[3] = {"my_service", "worker 1", NULL}; /* NULL: default */
  const char *expect[3];
  mp_process *p[3];
  int failed = 0, rc;
  for (int i = 0; i < 3; i++) {
    mp_process_options o = {.name = names[i]};
    p[i] = NULL;
    if ((rc = mp_process_create(worker, &expect[i], &o, &p[i])) < 0) {
      failed = fail("mp_process_create", rc);
      continue;
    }
    /* The handle's copy of the name ("Process-N" for the third), valid
     * until close; the forked child reads it through the same pointer. */
    expect[i] = mp_process_name(p[i]);
    if ((rc = mp_process_start(p[i])) < 0) {
      failed = fail("mp_process_start", rc);
      mp_process_close(p[i]);
      p[i] = NULL;
    }
  }
  for (int i = 0; i < 3; i++)
    if (!join_ok(p[i]))
      failed = 1;
  return failed;
}

/* ---- daemon and non-daemon -------------------------------------------------- */

struct board {
  mp_lock held;            /* the daemon holds it until it is ended    */
  mp_event daemon_started; /* set by the daemon once it holds the lock  */
  mp_event never;          /* nobody sets it: the daemon waits for ever */
  int non_daemon_done;     /* 1: the non-daemon saw the daemon end      */
};

static int daemon_fn(void *arg) {
  struct board *b = arg;
  printf("Starting: %s\n", mp_current_process_name());
  fflush(stdout);
  if (mp_lock_acquire(&b->held, MP_FOREVER) != 0)
    return 1;
  mp_event_set(&b->daemon_started);
  mp_event_wait(&b->never, MP_FOREVER); /* until the launcher's exit ends it */
  printf("Exiting : %s\n", mp_current_process_name()); /* never printed */
  return 1;
}

static int non_daemon_fn(void *arg) {
  struct board *b = arg;
  printf("Starting: %s\n", mp_current_process_name());
  fflush(stdout);
  /* Still working when the launcher returns: it finishes only once the
   * daemon has died holding the lock (MP_EOWNERDEAD: the lock is ours). */
  int rc = mp_lock_acquire(&b->held, 10.0);
  if (!MP_ACQUIRED(rc))
    return 1;
  b->non_daemon_done = rc == MP_EOWNERDEAD;
  mp_lock_release(&b->held);
  printf("Exiting : %s\n", mp_current_process_name());
  return 0;
}

/* The notebook's main program: start both, join neither, return. */
static int launcher(void *arg) {
  struct board *b = arg;
  mp_process *n, *d;
  if (start(daemon_fn, b, "daemon", 1, &d) < 0 ||
      mp_event_wait(&b->daemon_started, 10.0) != 0 ||
      start(non_daemon_fn, b, "non-daemon", 0, &n) < 0)
    return 1;
  return 0; /* and now: SIGTERM to the daemon, join the non-daemon */
}

static int daemons(void) {
  mp_shm *shm;
  int rc = mp_shm_create(NULL, sizeof(struct board), &shm);
  if (rc < 0)
    return fail("mp_shm_create", rc);
  struct board *b = mp_shm_buf(shm);
  int failed = 0;
  if ((rc = mp_lock_init(&b->held)) < 0 ||
      (rc = mp_event_init(&b->daemon_started)) < 0 ||
      (rc = mp_event_init(&b->never)) < 0) {
    mp_shm_destroy(shm);
    return fail("init", rc);
  }

  mp_process *l;
  if ((rc = start(launcher, b, "launcher", 0, &l)) < 0)
    failed = fail("start launcher", rc);
  else if (!join_ok(l))
    failed = 1;
  /* The launcher has ended: its exit ended the daemon, then waited for the
   * non-daemon, which saw the daemon die. */
  if (!b->non_daemon_done) {
    fprintf(stderr, "process_workers: daemon not ended, or non-daemon not "
                    "waited for\n");
    failed = 1;
  }

  mp_event_destroy(&b->never);
  mp_event_destroy(&b->daemon_started);
  mp_lock_destroy(&b->held);
  mp_shm_destroy(shm);
  return failed;
}

int main(void) {
  int failed = five_workers();
  failed |= named();
  failed |= daemons();
  return failed;
}
