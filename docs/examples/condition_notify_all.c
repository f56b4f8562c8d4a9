/*
 * condition_notify_all.c - five waiters released by one notify_all.
 *
 * Python (threading.Condition):
 *     c = Condition()
 *     def testfn():
 *         with c:
 *             print(f"{current().name} is waiting")
 *             c.wait()
 *             print(f"{current().name} is done waiting")
 *     for i in range(5):
 *         Thread(target=testfn, name=f"Thread-{i}").start()
 *     ...
 *     with c:
 *         c.notify_all()
 *
 * In C the five threads wait on an mp_condition. Python's notebook waits
 * for the threads to be seen waiting before it notifies; here the main
 * thread knows instead: each waiter counts itself under the lock, and the
 * main thread waits on a second condition, bound to the same lock, until
 * all five are counted. A waiter waits with mp_condition_wait_for() on a
 * predicate ("released"), never with a bare mp_condition_wait(): a wait may
 * return for a notify meant for someone else, so the predicate is what
 * decides.
 *
 * The struct is plain static memory because the waiters are threads. Put
 * it in an mp_shm segment and the same code works between processes: the
 * lock and both conditions are in one mapping, as mp_condition_init_lock()
 * requires.
 *
 * Build: cc -std=c11 condition_notify_all.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <pthread.h>
#include <stdio.h>

#define WAITERS 5

static struct {
  mp_lock lock;             /* one lock ...                                 */
  mp_condition all_waiting; /* ... for "every waiter is waiting"            */
  mp_condition released;    /* ... and for "the waiters may go"             */
  int waiting;              /* protected by lock                            */
  int go;                   /* protected by lock                            */
} s;

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "condition_notify_all: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

static char failure; /* a waiter returns &failure when something failed */

static int go_set(void *ctx) {
  (void)ctx;
  return s.go;
}

static int all_waiting(void *ctx) {
  (void)ctx;
  return s.waiting == WAITERS;
}

/* One waiter thread: NULL on success, &failure otherwise. */
static void *waiter(void *arg) {
  int id = (int)(long)arg, failed = 0, rc;

  /* with c: (MP_EOWNERDEAD would mean a holder died: nobody dies here) */
  if ((rc = mp_condition_acquire(&s.released, MP_FOREVER)) != 0) {
    fail("acquire", rc);
    return &failure;
  }
  printf("Thread-%d is waiting\n", id);
  s.waiting++;
  if ((rc = mp_condition_notify(&s.all_waiting, 1)) < 0)
    failed = fail("notify", rc);
  /* c.wait(): releases the lock while it sleeps, holds it again after. */
  else if ((rc = mp_condition_wait_for(&s.released, go_set, NULL,
                                       MP_FOREVER)) != 0)
    failed = fail("wait_for", rc);
  else
    printf("Thread-%d is done waiting\n", id);
  if ((rc = mp_condition_release(&s.released)) < 0)
    failed = fail("release", rc);
  return failed ? &failure : NULL;
}

int main(void) {
  pthread_t threads[WAITERS];
  int started = 0, failed = 0, rc;

  if ((rc = mp_lock_init(&s.lock)) < 0)
    return fail("mp_lock_init", rc);
  if ((rc = mp_condition_init_lock(&s.all_waiting, &s.lock)) < 0 ||
      (rc = mp_condition_init_lock(&s.released, &s.lock)) < 0) {
    mp_condition_destroy(&s.all_waiting); /* MP_EINVAL if never initialised */
    mp_lock_destroy(&s.lock);
    return fail("mp_condition_init_lock", rc);
  }

  for (; started < WAITERS; started++)
    if (pthread_create(&threads[started], NULL, waiter,
                       (void *)(long)started) != 0) {
      fprintf(stderr, "condition_notify_all: pthread_create failed\n");
      failed = 1;
      break;
    }

  /* with c: wait until all are waiting, then c.notify_all() */
  if ((rc = mp_condition_acquire(&s.all_waiting, MP_FOREVER)) != 0)
    return fail("acquire", rc); /* cannot happen: the lock is fine */
  if (!failed && (rc = mp_condition_wait_for(&s.all_waiting, all_waiting,
                                             NULL, 5.0)) != 0)
    failed = fail("waiting for the waiters", rc);
  s.go = 1; /* even after a failure: the started waiters must finish */
  printf("notify_all\n");
  if ((rc = mp_condition_notify_all(&s.released)) < 0)
    failed = fail("notify_all", rc);
  if ((rc = mp_condition_release(&s.all_waiting)) < 0)
    failed = fail("release", rc);

  for (int i = 0; i < started; i++) {
    void *res;
    pthread_join(threads[i], &res);
    if (res)
      failed = 1;
  }

  /* Conditions first: they refer to the lock. */
  if ((rc = mp_condition_destroy(&s.released)) < 0 ||
      (rc = mp_condition_destroy(&s.all_waiting)) < 0 ||
      (rc = mp_lock_destroy(&s.lock)) < 0)
    failed = fail("destroy", rc);
  return failed;
}
