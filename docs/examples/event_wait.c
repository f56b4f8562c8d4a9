/*
 * event_wait.c - one process waits for an Event without a limit, another
 * with a timeout that runs out first.
 *
 * Python (multiprocessing.Event):
 *     def wait_for_event(e):
 *         print('wait_for_event: starting')
 *         e.wait()
 *         print('wait_for_event: e.is_set()->', e.is_set())
 *
 *     def wait_for_event_timeout(e, t):
 *         print('wait_for_event_timeout: starting')
 *         e.wait(t)
 *         print('wait_for_event_timeout: e.is_set()->', e.is_set())
 *
 *     e = multiprocessing.Event()
 *     Process(name='block', target=wait_for_event, args=(e,)).start()
 *     Process(name='nonblock', target=wait_for_event_timeout,
 *             args=(e, 2)).start()
 *     print('main: waiting before calling Event.set()')
 *     time.sleep(3)
 *     e.set()
 *     print('main: event is set')
 *
 * Where Python's wait(t) returns False at the timeout, mp_event_wait()
 * returns MP_ETIMEDOUT. Python sleeps 3 s so that the 2 s wait runs out
 * first; here the parent simply waits for that process to end before it
 * sets the event, and the timeout is 0.1 s.
 *
 * The processes are named mp_process children started with fork (the
 * default start method): each uses the parent's mp_event pointer as it is.
 * Another program, or a spawned child, would mp_event_open() it by name.
 *
 * Build: cc -std=c11 event_wait.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "event_wait: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* Child 'block': wait without a limit; exit status 0 if the event was set. */
static int wait_for_event(mp_event *e) {
  printf("wait_for_event: starting\n");
  fflush(stdout);
  int rc = mp_event_wait(e, MP_FOREVER);
  if (rc != 0)
    return fail("wait_for_event: mp_event_wait", rc);
  printf("wait_for_event: is_set -> %d\n", mp_event_is_set(e));
  return mp_event_is_set(e) == 1 ? 0 : 1;
}

/* Child 'nonblock': wait at most t seconds; status 0 if that timed out. */
static int wait_for_event_timeout(mp_event *e, double t) {
  printf("wait_for_event_timeout: starting\n");
  fflush(stdout);
  int rc = mp_event_wait(e, t);
  if (rc != MP_ETIMEDOUT) /* the parent sets the event only after we end */
    return fail("wait_for_event_timeout: expected a timeout", rc);
  printf("wait_for_event_timeout: %s, is_set -> %d\n", mp_strerror(rc),
         mp_event_is_set(e));
  return mp_event_is_set(e) == 0 ? 0 : 1;
}

/* The two targets; a target's return value is its process's exit code. */
static int block(void *e) { return wait_for_event(e); }
static int nonblock(void *e) { return wait_for_event_timeout(e, 0.1); }

/* Start fn(e) in a process called name; the handle, or NULL. */
static mp_process *start(mp_target fn, mp_event *e, const char *name) {
  mp_process *p;
  mp_process_options o = {.name = name};
  int rc = mp_process_create(fn, e, &o, &p);
  if (rc == 0 && (rc = mp_process_start(p)) < 0)
    mp_process_close(p);
  if (rc < 0) {
    fail("start", rc);
    return NULL;
  }
  return p;
}

/* Wait for p and free it; 1 when it exited with code 0. */
static int joined_ok(mp_process *p) {
  int code = -1;
  if (!p)
    return 0;
  if (mp_process_join(p, MP_FOREVER) == 0)
    mp_process_exitcode(p, &code);
  mp_process_close(p);
  return code == 0;
}

int main(void) {
  mp_event *e;
  int failed = 0, rc;

  if ((rc = mp_event_create(NULL, &e)) < 0) /* clear at first */
    return fail("mp_event_create", rc);

  mp_process *b = start(block, e, "block");
  mp_process *n = start(nonblock, e, "nonblock");

  printf("main: waiting for 'nonblock' to time out before calling set\n");
  fflush(stdout);
  if (!joined_ok(n))
    failed = 1;
  if ((rc = mp_event_set(e)) < 0) /* wakes 'block' in any case */
    failed = fail("mp_event_set", rc);
  printf("main: event is set\n");
  if (!joined_ok(b))
    failed = 1;

  if ((rc = mp_event_destroy(e)) < 0) /* the creator removes the name */
    failed = fail("mp_event_destroy", rc);
  return failed;
}
