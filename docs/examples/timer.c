/*
 * timer.c - one timer fires, another is cancelled before it does.
 *
 * Python (threading.Timer):
 *     def hello():
 *         print("hello, world")
 *
 *     t = Timer(5, hello)
 *     t.start()              # "hello, world" five seconds later
 *
 *     u = Timer(60, hello)
 *     u.start()
 *     u.cancel()             # in time: hello() never runs
 *
 * An mp_timer calls its function once, in a thread of its own, after the
 * interval, unless mp_timer_cancel() came first. mp_timer_join() waits until
 * it is done (fired, or cancelled). The intervals here are 0.05 s and 60 s;
 * the program ends in about 0.05 s because the second timer is cancelled.
 *
 * A timer belongs to the process that created it. A C program does not wait
 * for pending timers when main() returns, as Python waits for its
 * non-daemon Timer threads: join or destroy them first. mp_timer_destroy()
 * cancels, joins and frees.
 *
 * Build: cc -std=c11 timer.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <stdio.h>

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "timer: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* Runs in the timer's thread. */
static void hello(void *arg) {
  const char *who = arg;
  printf("hello, %s\n", who);
}

int main(void) {
  static char world[] = "world", nobody[] = "nobody";
  mp_timer *t = NULL, *u = NULL;
  int failed = 0, rc;

  if ((rc = mp_timer_create(0.05, hello, world, &t)) < 0 ||
      (rc = mp_timer_create(60.0, hello, nobody, &u)) < 0) {
    failed = fail("mp_timer_create", rc);
    goto out;
  }
  if ((rc = mp_timer_start(t)) < 0 || (rc = mp_timer_start(u)) < 0) {
    failed = fail("mp_timer_start", rc);
    goto out;
  }

  /* u: cancelled long before its 60 s are up; join returns at once. */
  if ((rc = mp_timer_cancel(u)) < 0)
    failed = fail("mp_timer_cancel", rc);
  else if ((rc = mp_timer_join(u, 5.0)) < 0)
    failed = fail("mp_timer_join (cancelled)", rc);

  /* t: wait until hello() has run. */
  if ((rc = mp_timer_join(t, 5.0)) < 0)
    failed = fail("mp_timer_join", rc);

  printf("t fired: %d, u fired: %d\n", mp_timer_fired(t), mp_timer_fired(u));
  if (mp_timer_fired(t) != 1 || mp_timer_fired(u) != 0)
    failed = 1;

  /* A timer starts once: Python's RuntimeError is MP_EALREADY. */
  if ((rc = mp_timer_start(t)) != MP_EALREADY)
    failed = fail("second mp_timer_start", rc);

out:
  /* Cancel, join and free; NULL is harmless. */
  if ((rc = mp_timer_destroy(t)) < 0)
    failed = fail("mp_timer_destroy", rc);
  if ((rc = mp_timer_destroy(u)) < 0)
    failed = fail("mp_timer_destroy", rc);
  return failed;
}
