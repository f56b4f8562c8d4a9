/*
 * barrier_runners.c - seven runners line up at a Barrier(7) and start
 * together, while a commentator reports how many are waiting.
 *
 * Python (threading.Barrier):
 *     def runner():
 *         b.wait()
 *         print("Run")
 *
 *     def commentator():
 *         for _ in range(10):
 *             print("Ready:", b.n_waiting)
 *             time.sleep(1)
 *
 *     b = Barrier(7)
 *     Thread(target=commentator).start()
 *     for _ in range(7):
 *         Thread(target=runner).start()
 *         time.sleep(1)
 *
 * The notebook spaces the runners a second apart so that the commentator
 * sees 0, 1, ..., 6 runners waiting. Here the main thread is the
 * commentator: it starts one runner at a time and, before starting the
 * next, watches mp_barrier_n_waiting() until that runner has arrived. The
 * seventh completes the barrier, so the count goes back to 0.
 *
 * Each runner passes an action to mp_barrier_wait_action(); the last to
 * arrive runs it once, before anyone is released (Python's Barrier(7,
 * action=...)). The last arrival also gets index 6.
 *
 * The barrier is standalone (it has a name); threads are used as in the
 * notebook, but forked processes could use the same pointer, and other
 * programs could mp_barrier_open() the name.
 *
 * Build: cc -std=c11 barrier_runners.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

#define RUNNERS 7

static mp_barrier *b;
static int actions;                /* how many times the action ran */
static int results[RUNNERS];       /* each runner's result */
static unsigned index_of[RUNNERS]; /* its index: 0..6, in arrival order */

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "barrier_runners: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* Runs in the last runner to arrive, while the others still wait. */
static int start_gun(void *ctx) {
  (void)ctx;
  actions++;
  printf("Bang!\n");
  return 0; /* non-zero would break the barrier: MP_EBROKEN for everyone */
}

static void *runner(void *arg) {
  int i = (int)(long)arg;
  /* A bounded wait: if a runner never came, the others would not hang;
   * the timeout would break the barrier and all would get MP_EBROKEN. */
  results[i] = mp_barrier_wait_action(b, 5.0, start_gun, NULL, &index_of[i]);
  if (results[i] == 0)
    printf("Run\n");
  else
    fail("mp_barrier_wait_action", results[i]);
  return NULL;
}

/* Wait until n runners wait at the barrier; 0, or -1 after 5 s. */
static int until_waiting(int n) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (mp_barrier_n_waiting(b) < n) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec > 5)
      return -1;
    sched_yield(); /* the runner is on its way */
  }
  return 0;
}

int main(void) {
  pthread_t threads[RUNNERS];
  int started = 0, failed = 0, rc;

  if ((rc = mp_barrier_create(NULL, RUNNERS, &b)) < 0)
    return fail("mp_barrier_create", rc);

  for (; started < RUNNERS; started++) {
    printf("Ready: %d\n", mp_barrier_n_waiting(b));
    if (pthread_create(&threads[started], NULL, runner,
                       (void *)(long)started) != 0) {
      fprintf(stderr, "barrier_runners: pthread_create failed\n");
      failed = 1;
      break;
    }
    if (started < RUNNERS - 1 && until_waiting(started + 1) < 0) {
      fprintf(stderr, "barrier_runners: runner %d did not arrive\n", started);
      failed = 1;
      started++;
      break;
    }
  }
  if (failed && (rc = mp_barrier_abort(b)) < 0) /* release the started ones */
    fail("mp_barrier_abort", rc);

  unsigned seen = 0; /* a bit per index: each runner got its own */
  for (int i = 0; i < started; i++) {
    pthread_join(threads[i], NULL);
    if (results[i] != 0)
      failed = 1;
    else
      seen |= 1u << index_of[i];
  }
  printf("Ready: %d\n", mp_barrier_n_waiting(b)); /* a new cycle: 0 */
  if (!failed && (actions != 1 || seen != (1u << RUNNERS) - 1))
    failed = 1;

  if ((rc = mp_barrier_destroy(b)) < 0) /* the creator removes the name */
    failed = fail("mp_barrier_destroy", rc);
  return failed;
}
