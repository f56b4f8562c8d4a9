/*
 * test/check_timer.c - Timer (Python's threading.Timer): fires once after
 * its interval in a thread of its own, unless cancelled first; belongs to
 * the process that created it.
 */
#include "tests.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What fn saw. */
struct tick {
  _Atomic int calls;
  double at;        /* t_now() when called */
  pthread_t thread; /* where it ran */
  mp_event *ev;     /* set by fn, when not NULL */
  mp_timer *timer;  /* for calls made from fn itself */
  int join_rc, join_forever_rc, destroy_rc, fired_rc, cancel_rc;
};

static void tick(void *arg) {
  struct tick *t = arg;
  t->at = t_now();
  t->thread = pthread_self();
  atomic_fetch_add(&t->calls, 1);
  if (t->ev)
    mp_event_set(t->ev);
}

/* The seed's Timer(5, hello), with a shorter interval: fn runs once, in
 * another thread, no sooner than the interval after start. */
START_TEST(seed_timer_fires) {
  mp_event ev;
  ck_rc(mp_event_init(&ev), 0);
  struct tick t = {.ev = &ev};
  mp_timer *timer;
  ck_rc(mp_timer_create(0.1, tick, &t, &timer), 0);
  ck_rc(mp_timer_fired(timer), 0);
  double t0 = t_now();
  ck_rc(mp_timer_start(timer), 0);
  ck_rc(mp_event_wait(&ev, 5.0), 0);
  ck_rc(mp_timer_join(timer, 5.0), 0);
  ck_assert_msg(t.at - t0 >= 0.1, "fired after %.3f s", t.at - t0);
  ck_assert_msg(t.at - t0 < 1.0, "fired after %.3f s", t.at - t0);
  ck_rc(mp_timer_fired(timer), 1);
  ck_rc(atomic_load(&t.calls), 1);
  ck_assert(!pthread_equal(t.thread, pthread_self()));
  ck_rc(mp_timer_join(timer, 0), 0); /* finished: no wait */
  ck_rc(mp_timer_join(timer, MP_FOREVER), 0);
  ck_rc(mp_timer_cancel(timer), 0); /* after firing: harmless */
  ck_rc(mp_timer_fired(timer), 1);
  ck_rc(mp_timer_start(timer), -EALREADY);
  ck_rc(mp_timer_destroy(timer), 0);
  ck_rc(atomic_load(&t.calls), 1); /* once */
  ck_rc(mp_event_destroy(&ev), 0);
}
END_TEST

/* Cancelled in time: never fires, and join returns at once. */
START_TEST(seed_timer_cancelled) {
  struct tick t = {0};
  mp_timer *timer;
  ck_rc(mp_timer_create(3.0, tick, &t, &timer), 0);
  ck_rc(mp_timer_start(timer), 0);
  double t0 = t_now();
  ck_rc(mp_timer_cancel(timer), 0);
  ck_rc(mp_timer_cancel(timer), 0); /* twice: harmless */
  ck_rc(mp_timer_join(timer, 5.0), 0);
  double took = t_now() - t0;
  ck_assert_msg(took < 1.0, "join took %.3f s", took);
  ck_rc(mp_timer_fired(timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
  ck_rc(mp_timer_start(timer), -EALREADY);
  ck_rc(mp_timer_destroy(timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
}
END_TEST

START_TEST(timer_interval_zero) {
  struct tick t = {0};
  mp_timer *timer;
  ck_rc(mp_timer_create(0, tick, &t, &timer), 0);
  ck_rc(mp_timer_start(timer), 0);
  ck_rc(mp_timer_join(timer, 5.0), 0);
  ck_rc(mp_timer_fired(timer), 1);
  ck_rc(atomic_load(&t.calls), 1);
  ck_rc(mp_timer_destroy(timer), 0);
}
END_TEST

START_TEST(timer_join_timeout) {
  struct tick t = {0};
  mp_timer *timer;
  ck_rc(mp_timer_create(5.0, tick, &t, &timer), 0);
  ck_rc(mp_timer_start(timer), 0);
  ck_rc(mp_timer_join(timer, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_timer_join(timer, 0.2), -ETIMEDOUT);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "took %.3f s", took);
  ck_rc(mp_timer_join(timer, NAN), -EINVAL);
  ck_rc(mp_timer_fired(timer), 0);
  ck_rc(mp_timer_cancel(timer), 0);
  ck_rc(mp_timer_join(timer, MP_FOREVER), 0);
  ck_rc(mp_timer_fired(timer), 0);
  ck_rc(mp_timer_destroy(timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
}
END_TEST

/* Not started: join is refused; cancel first means it never fires. */
START_TEST(timer_before_start) {
  struct tick t = {0};
  mp_timer *timer;
  ck_rc(mp_timer_create(0.05, tick, &t, &timer), 0);
  ck_rc(mp_timer_join(timer, 0), -EINVAL);
  ck_rc(mp_timer_join(timer, 1.0), -EINVAL);
  ck_rc(mp_timer_fired(timer), 0);
  ck_rc(mp_timer_cancel(timer), 0);
  ck_rc(mp_timer_start(timer), 0);
  ck_rc(mp_timer_start(timer), -EALREADY);
  ck_rc(mp_timer_join(timer, 5.0), 0);
  ck_rc(mp_timer_fired(timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
  ck_rc(mp_timer_destroy(timer), 0);
  /* never started at all */
  ck_rc(mp_timer_create(0.05, tick, &t, &timer), 0);
  ck_rc(mp_timer_destroy(timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
}
END_TEST

static void from_fn(void *arg) {
  struct tick *t = arg;
  t->join_rc = mp_timer_join(t->timer, 0);
  t->join_forever_rc = mp_timer_join(t->timer, MP_FOREVER);
  t->destroy_rc = mp_timer_destroy(t->timer);
  t->fired_rc = mp_timer_fired(t->timer);
  t->cancel_rc = mp_timer_cancel(t->timer);
  atomic_fetch_add(&t->calls, 1);
}

/* fn calling join or destroy on its own timer: -EDEADLK, not a hang. */
START_TEST(timer_calls_from_fn) {
  struct tick t = {0};
  ck_rc(mp_timer_create(0.01, from_fn, &t, &t.timer), 0);
  ck_rc(mp_timer_start(t.timer), 0);
  ck_rc(mp_timer_join(t.timer, 5.0), 0);
  ck_rc(atomic_load(&t.calls), 1);
  ck_rc(t.join_rc, -EDEADLK);
  ck_rc(t.join_forever_rc, -EDEADLK);
  ck_rc(t.destroy_rc, -EDEADLK);
  ck_rc(t.fired_rc, 0); /* fn had not returned yet */
  ck_rc(t.cancel_rc, 0);
  ck_rc(mp_timer_fired(t.timer), 1);
  ck_rc(mp_timer_destroy(t.timer), 0);
}
END_TEST

/* destroy cancels a pending timer, joins its thread: fn never runs. */
START_TEST(timer_destroy_pending) {
  struct tick t = {0};
  mp_timer *timer;
  ck_rc(mp_timer_create(3.0, tick, &t, &timer), 0);
  ck_rc(mp_timer_start(timer), 0);
  double t0 = t_now();
  ck_rc(mp_timer_destroy(timer), 0);
  double took = t_now() - t0;
  ck_assert_msg(took < 1.0, "destroy took %.3f s", took);
  ck_rc(atomic_load(&t.calls), 0); /* and its thread is gone */
  /* forever: only cancel ends it */
  ck_rc(mp_timer_create(MP_TIMEOUT_MAX * 10, tick, &t, &timer), 0);
  ck_rc(mp_timer_start(timer), 0);
  ck_rc(mp_timer_join(timer, 0.01), -ETIMEDOUT);
  ck_rc(mp_timer_destroy(timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
}
END_TEST

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* Is thread tid asleep in the kernel (state S)? */
static bool tid_asleep(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  return p && p[1] == ' ' && p[2] == 'S';
}

struct joiner {
  mp_timer *timer;
  _Atomic pid_t tid;
  int rc;
};

static void *join_thread(void *arg) {
  struct joiner *j = arg;
  mp_timer_join(j->timer, 0); /* warm up */
  atomic_store(&j->tid, my_tid());
  j->rc = mp_timer_join(j->timer, 10.0);
  return NULL;
}

/* A cancel from one thread releases a join sleeping in another. */
START_TEST(timer_cancel_wakes_joiner) {
  struct tick t = {0};
  struct joiner j = {0};
  ck_rc(mp_timer_create(5.0, tick, &t, &j.timer), 0);
  ck_rc(mp_timer_start(j.timer), 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, join_thread, &j), 0);
  double end = t_now() + 10;
  while (atomic_load(&j.tid) == 0 || !tid_asleep(atomic_load(&j.tid))) {
    ck_assert_msg(t_now() < end, "the joiner never slept");
    usleep(200);
  }
  double t0 = t_now();
  ck_rc(mp_timer_cancel(j.timer), 0);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  ck_assert_msg(t_now() - t0 < 1.0, "join released after %.3f s",
                t_now() - t0);
  ck_rc(j.rc, 0);
  ck_rc(mp_timer_fired(j.timer), 0);
  ck_rc(mp_timer_destroy(j.timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
}
END_TEST

/* Several timers at once, each firing once; one of them cancelled. */
START_TEST(timer_several) {
  struct tick t[4];
  mp_timer *timer[4];
  memset(t, 0, sizeof t);
  for (int i = 0; i < 4; i++)
    ck_rc(mp_timer_create(i == 3 ? 3.0 : 0.02 * (i + 1), tick, &t[i],
                          &timer[i]),
          0);
  for (int i = 0; i < 4; i++)
    ck_rc(mp_timer_start(timer[i]), 0);
  ck_rc(mp_timer_cancel(timer[3]), 0);
  for (int i = 0; i < 4; i++)
    ck_rc(mp_timer_join(timer[i], 5.0), 0);
  for (int i = 0; i < 3; i++) {
    ck_rc(mp_timer_fired(timer[i]), 1);
    ck_rc(atomic_load(&t[i].calls), 1);
  }
  ck_rc(mp_timer_fired(timer[3]), 0);
  ck_rc(atomic_load(&t[3].calls), 0);
  for (int i = 0; i < 4; i++)
    ck_rc(mp_timer_destroy(timer[i]), 0);
}
END_TEST

/* In a forked child the parent's timer is refused (its thread does not
 * exist there); a timer the child creates itself works. */
static int child_refused(void *arg) {
  mp_timer *parents = arg;
  if (mp_timer_start(parents) != -EPERM)
    return 1;
  if (mp_timer_cancel(parents) != -EPERM)
    return 2;
  if (mp_timer_join(parents, 0) != -EPERM)
    return 3;
  if (mp_timer_join(parents, 0.1) != -EPERM)
    return 4;
  return mp_timer_destroy(parents) == -EPERM ? 0 : 5;
}

static int child_own_timer(void *arg) {
  if (child_refused(arg) != 0)
    return 1;
  struct tick t = {0};
  mp_timer *own;
  if (mp_timer_create(0.01, tick, &t, &own) != 0)
    return 6;
  if (mp_timer_start(own) != 0 || mp_timer_join(own, 5.0) != 0)
    return 7;
  if (mp_timer_fired(own) != 1 || atomic_load(&t.calls) != 1)
    return 8;
  return mp_timer_destroy(own) == 0 ? 0 : 9;
}

START_TEST(timer_other_process) {
  struct tick t = {0};
  mp_timer *timer;
  ck_rc(mp_timer_create(5.0, tick, &t, &timer), 0);
  /* forked while this process has one thread: the child may make its own */
  ck_assert_int_eq(t_wait(t_fork(child_own_timer, timer)), 0);
  ck_rc(mp_timer_start(timer), 0);
  ck_assert_int_eq(t_wait(t_fork(child_refused, timer)), 0);
  ck_rc(mp_timer_fired(timer), 0); /* the child's cancel did nothing */
  ck_rc(mp_timer_join(timer, 0), -EAGAIN);
  ck_rc(mp_timer_cancel(timer), 0);
  ck_rc(mp_timer_join(timer, 5.0), 0);
  ck_rc(mp_timer_destroy(timer), 0);
  ck_rc(atomic_load(&t.calls), 0);
}
END_TEST

START_TEST(timer_bad_input) {
  struct tick t = {0};
  mp_timer *timer;
  ck_rc(mp_timer_create(1.0, NULL, &t, &timer), -EINVAL);
  ck_rc(mp_timer_create(1.0, tick, &t, NULL), -EINVAL);
  ck_rc(mp_timer_create(-1.0, tick, &t, &timer), -EINVAL);
  ck_rc(mp_timer_create(-1e-9, tick, &t, &timer), -EINVAL);
  ck_rc(mp_timer_create(NAN, tick, &t, &timer), -EINVAL);
  ck_rc(mp_timer_start(NULL), -EINVAL);
  ck_rc(mp_timer_cancel(NULL), -EINVAL);
  ck_rc(mp_timer_join(NULL, 0), -EINVAL);
  ck_rc(mp_timer_join(NULL, 1.0), -EINVAL);
  ck_rc(mp_timer_fired(NULL), -EINVAL);
  ck_rc(mp_timer_destroy(NULL), 0);
  /* a NULL arg is fine: it is only passed to fn */
  ck_rc(mp_timer_create(1.0, tick, NULL, &timer), 0);
  ck_rc(mp_timer_join(timer, NAN), -EINVAL);
  ck_rc(mp_timer_destroy(timer), 0);
}
END_TEST

Suite *timer_suite(void) {
  Suite *s = suite_create("timer");
  TCase *tc = tcase_create("timer");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, seed_timer_fires);
  tcase_add_test(tc, seed_timer_cancelled);
  tcase_add_test(tc, timer_interval_zero);
  tcase_add_test(tc, timer_join_timeout);
  tcase_add_test(tc, timer_before_start);
  tcase_add_test(tc, timer_calls_from_fn);
  tcase_add_test(tc, timer_destroy_pending);
  tcase_add_test(tc, timer_cancel_wakes_joiner);
  tcase_add_test(tc, timer_several);
  tcase_add_test(tc, timer_other_process);
  tcase_add_test(tc, timer_bad_input);
  suite_add_tcase(s, tc);
  return s;
}
