/*
 * process_terminate.c - terminate a process, and join one with a timeout.
 *
 * Python:
 *     p = multiprocessing.Process(target=slow_worker)
 *     print('BEFORE:', p, p.is_alive())
 *     p.start()
 *     print('DURING:', p, p.is_alive())
 *     p.terminate()
 *     print('TERMINATED:', p, p.is_alive())
 *     p.join()
 *     print('JOINED:', p, p.is_alive())    # exitcode == -signal.SIGTERM
 *
 *     d = multiprocessing.Process(target=sleeper)   # sleeps 2 s
 *     d.start()
 *     d.join(1)                           # returns, d.is_alive() is True
 *
 * The slow worker tells the parent it has started (an mp_event) and then
 * works until it is stopped, so the parent's terminate always finds it
 * running: its exit code is -SIGTERM. Right after terminate() it may still
 * be alive, as in Python: the signal takes a moment.
 *
 * The sleeper sleeps until the parent wakes it, here on an mp_event too, so
 * that the parent's join(0.1) always times out: Python's join returns in
 * silence and leaves the caller to ask is_alive(); mp_process_join() returns
 * MP_ETIMEDOUT. The parent also waits on the sleeper's sentinel with
 * mp_wait(), Python's multiprocessing.connection.wait().
 *
 * Build: cc -std=c11 process_terminate.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "process_terminate: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* Sets the event, then works until a signal ends it. */
static int slow_worker(void *arg) {
  printf("Starting worker\n");
  fflush(stdout);
  mp_event_set(arg);
  for (;;)
    pause(); /* the "work": only terminate() ends it */
  return 0;
}

/* Sleeps until the parent sets the event. */
static int sleeper(void *arg) { return mp_event_wait(arg, MP_FOREVER) != 0; }

static int terminate(mp_event *started) {
  mp_process *p;
  int rc, code = 0;
  if ((rc = mp_process_create(slow_worker, started, NULL, &p)) < 0)
    return fail("mp_process_create", rc);
  printf("BEFORE: %s is_alive=%d\n", mp_process_name(p),
         mp_process_is_alive(p));
  if ((rc = mp_process_start(p)) < 0) {
    mp_process_close(p);
    return fail("mp_process_start", rc);
  }
  if ((rc = mp_event_wait(started, 10.0)) < 0) /* it runs slow_worker now */
    fail("mp_event_wait", rc);
  printf("DURING: is_alive=%d\n", mp_process_is_alive(p));
  if ((rc = mp_process_terminate(p)) < 0)
    fail("mp_process_terminate", rc);
  printf("TERMINATED: is_alive=%d (0 or 1: the signal takes a moment)\n",
         mp_process_is_alive(p));
  if ((rc = mp_process_join(p, MP_FOREVER)) < 0)
    return fail("mp_process_join", rc);
  mp_process_exitcode(p, &code);
  printf("JOINED: is_alive=%d exitcode=%d\n", mp_process_is_alive(p), code);
  mp_process_close(p);
  return code == -SIGTERM ? 0 : 1;
}

static int join_timeout(mp_event *wake) {
  mp_process *d;
  int rc, code = 1, failed = 0;
  if ((rc = mp_process_create(sleeper, wake, NULL, &d)) < 0)
    return fail("mp_process_create", rc);
  if ((rc = mp_process_start(d)) < 0) {
    mp_process_close(d);
    return fail("mp_process_start", rc);
  }

  rc = mp_process_join(d, 0.1);
  printf("join(0.1): %s, is_alive=%d\n", mp_err_name(rc),
         mp_process_is_alive(d));
  if (rc != MP_ETIMEDOUT)
    failed = 1;
  if (mp_process_join(d, 0) != MP_EAGAIN ||         /* timeout 0: no wait */
      mp_process_exitcode(d, &code) != MP_EBUSY ||  /* no exit code yet   */
      mp_process_close(d) != MP_EBUSY)              /* still running      */
    failed = 1;

  mp_event_set(wake);
  int fd = mp_process_sentinel(d); /* readable once d has ended */
  if (fd >= 0 && mp_wait(&fd, 1, 10.0, NULL) != 1)
    failed = 1;
  if ((rc = mp_process_join(d, 10.0)) < 0)
    return fail("mp_process_join", rc);
  mp_process_exitcode(d, &code);
  printf("woken and joined: exitcode=%d\n", code);
  mp_process_close(d);
  return failed || code != 0;
}

int main(void) {
  mp_event *ev;
  int rc = mp_event_create(NULL, &ev);
  if (rc < 0)
    return fail("mp_event_create", rc);
  int failed = terminate(ev);
  mp_event_clear(ev);
  failed |= join_timeout(ev);
  mp_event_destroy(ev);
  return failed;
}
