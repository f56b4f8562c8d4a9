/*
 * test/check_sync_kill.c - robustness of Event, Semaphore, Condition and
 * Barrier: processes killed with SIGKILL while sleeping in a wait, while
 * holding a Condition's lock, or at random moments of a Barrier cycle. The
 * survivors must finish with the right results and nothing may hang.
 */
#include "tests.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct objs {
  mp_event event;
  mp_semaphore sem;
  mp_condition cond;
  mp_barrier barrier;
  int ready; /* condition predicate */
};

static mp_shm *objs_create(struct objs **out, unsigned parties) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, sizeof(struct objs), &shm), 0);
  struct objs *o = mp_shm_buf(shm);
  ck_rc(mp_event_init(&o->event), 0);
  ck_rc(mp_semaphore_init(&o->sem, 0, 0), 0);
  ck_rc(mp_condition_init(&o->cond), 0);
  ck_rc(mp_barrier_init(&o->barrier, parties), 0);
  *out = o;
  return shm;
}

static void objs_destroy(mp_shm *shm) {
  struct objs *o = mp_shm_buf(shm);
  ck_rc(mp_event_destroy(&o->event), 0);
  ck_rc(mp_semaphore_destroy(&o->sem), 0);
  ck_rc(mp_condition_destroy(&o->cond), 0);
  ck_rc(mp_barrier_destroy(&o->barrier), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}

/* Start n children running fn(o) and wait until each sleeps in the kernel
 * (a futex wait), so a kill hits a sleeper. */
static void start_sleepers(pid_t *pids, int n, int (*fn)(void *),
                           struct objs *o) {
  for (int i = 0; i < n; i++) {
    pids[i] = t_fork(fn, o);
    ck_assert_msg(t_wait_sleeping(pids[i]), "child %d never slept", i);
  }
}

static int wait_event(void *arg) {
  return mp_event_wait(&((struct objs *)arg)->event, 10.0) == 0 ? 0 : 1;
}

START_TEST(event_waiter_killed) {
  struct objs *o;
  mp_shm *shm = objs_create(&o, 1);
  pid_t p[3];
  start_sleepers(p, 3, wait_event, o);
  t_kill(p[1]);
  double t0 = t_now();
  ck_rc(mp_event_set(&o->event), 0);
  ck_assert_int_eq(t_wait(p[0]), 0);
  ck_assert_int_eq(t_wait(p[2]), 0);
  ck_assert(t_now() - t0 < 5.0);
  /* The dead sleeper left nothing behind: the next cycle works too. */
  ck_rc(mp_event_clear(&o->event), 0);
  start_sleepers(p, 2, wait_event, o);
  ck_rc(mp_event_set(&o->event), 0);
  ck_assert_int_eq(t_wait(p[0]), 0);
  ck_assert_int_eq(t_wait(p[1]), 0);
  objs_destroy(shm);
}
END_TEST

static int acquire_sem(void *arg) {
  return mp_semaphore_acquire(&((struct objs *)arg)->sem, 10.0) == 0 ? 0 : 1;
}

START_TEST(semaphore_waiter_killed) {
  struct objs *o;
  mp_shm *shm = objs_create(&o, 1);
  pid_t p[3];
  start_sleepers(p, 3, acquire_sem, o);
  t_kill(p[0]);
  ck_rc(mp_semaphore_release(&o->sem, 2), 0);
  ck_assert_int_eq(t_wait(p[1]), 0);
  ck_assert_int_eq(t_wait(p[2]), 0);
  ck_rc(mp_semaphore_value(&o->sem), 0); /* no unit lost, none invented */
  start_sleepers(p, 1, acquire_sem, o);
  ck_rc(mp_semaphore_release(&o->sem, 1), 0);
  ck_assert_int_eq(t_wait(p[0]), 0);
  ck_rc(mp_semaphore_release(&o->sem, 1), 0);
  ck_rc(mp_semaphore_value(&o->sem), 1);
  objs_destroy(shm);
}
END_TEST

static int ready(void *arg) { return ((struct objs *)arg)->ready; }

static int wait_cond(void *arg) {
  struct objs *o = arg;
  if (mp_condition_acquire(&o->cond, 10.0) != 0)
    return 1;
  int rc = mp_condition_wait_for(&o->cond, ready, o, 10.0);
  mp_condition_release(&o->cond);
  return rc == 0 ? 0 : 2;
}

START_TEST(condition_waiter_killed) {
  struct objs *o;
  mp_shm *shm = objs_create(&o, 1);
  pid_t p[3];
  start_sleepers(p, 3, wait_cond, o);
  t_kill(p[2]);
  ck_rc(mp_condition_acquire(&o->cond, 5.0), 0);
  o->ready = 1;
  /* notify(1) twice reaches both live waiters: the dead one is no longer
   * in the kernel's queue, so it cannot swallow a wake-up. */
  ck_rc(mp_condition_notify(&o->cond, 1), 0);
  ck_rc(mp_condition_notify(&o->cond, 1), 0);
  ck_rc(mp_condition_release(&o->cond), 0);
  ck_assert_int_eq(t_wait(p[0]), 0);
  ck_assert_int_eq(t_wait(p[1]), 0);
  objs_destroy(shm);
}
END_TEST

struct holder {
  struct objs *o;
  int fds[2];
};

static int hold_cond_lock(void *arg) {
  struct holder *h = arg;
  if (mp_condition_acquire(&h->o->cond, 5.0) != 0)
    return 1;
  t_send(h->fds[1]);
  pause();
  return 2;
}

START_TEST(condition_lock_holder_killed) {
  struct objs *o;
  mp_shm *shm = objs_create(&o, 1);
  struct holder h = {.o = o};
  t_pipe(h.fds);
  pid_t holder = t_fork(hold_cond_lock, &h);
  ck_assert(t_recv(h.fds[0]));
  t_kill(holder);
  ck_rc(mp_condition_acquire(&o->cond, 5.0), MP_EOWNERDEAD);
  ck_rc(mp_condition_release(&o->cond), 0);
  /* The condition keeps working: a waiter is notified. */
  pid_t w;
  start_sleepers(&w, 1, wait_cond, o);
  ck_rc(mp_condition_acquire(&o->cond, 5.0), 0);
  o->ready = 1;
  ck_rc(mp_condition_notify_all(&o->cond), 0);
  ck_rc(mp_condition_release(&o->cond), 0);
  ck_assert_int_eq(t_wait(w), 0);
  close(h.fds[0]);
  close(h.fds[1]);
  objs_destroy(shm);
}
END_TEST

static int barrier_short(void *arg) {
  int rc = mp_barrier_wait(&((struct objs *)arg)->barrier, 0.3, NULL);
  return rc == MP_EBROKEN ? 0 : 1;
}

static int barrier_long(void *arg) {
  int rc = mp_barrier_wait(&((struct objs *)arg)->barrier, 20.0, NULL);
  return rc == MP_EBROKEN ? 0 : 1;
}

static int barrier_ok(void *arg) {
  unsigned idx;
  int rc = mp_barrier_wait(&((struct objs *)arg)->barrier, 10.0, &idx);
  return rc == 0 ? (int)idx + 10 : 1;
}

/* A party dies inside the barrier: the others are released by a timeout
 * with MP_EBROKEN (long before their own timeouts), and reset heals it. */
START_TEST(barrier_party_killed) {
  struct objs *o;
  mp_shm *shm = objs_create(&o, 4);
  pid_t dead, longer, shorter;
  start_sleepers(&dead, 1, barrier_long, o);
  start_sleepers(&longer, 1, barrier_long, o);
  t_kill(dead);
  double t0 = t_now();
  shorter = t_fork(barrier_short, o);
  ck_assert_int_eq(t_wait(shorter), 0);
  ck_assert_int_eq(t_wait(longer), 0);
  ck_assert(t_now() - t0 < 5.0);
  ck_rc(mp_barrier_broken(&o->barrier), 1);
  ck_rc(mp_barrier_wait(&o->barrier, 1.0, NULL), MP_EBROKEN);
  ck_rc(mp_barrier_reset(&o->barrier), 0);
  ck_rc(mp_barrier_broken(&o->barrier), 0);
  ck_rc(mp_barrier_n_waiting(&o->barrier), 0);
  pid_t p[3];
  for (int i = 0; i < 3; i++)
    p[i] = t_fork(barrier_ok, o);
  unsigned idx;
  ck_rc(mp_barrier_wait(&o->barrier, 10.0, &idx), 0);
  int seen = 1 << idx;
  for (int i = 0; i < 3; i++) {
    int st = t_wait(p[i]);
    ck_assert_int_ge(st, 10);
    seen |= 1 << (st - 10);
  }
  ck_assert_int_eq(seen, 0xf);
  objs_destroy(shm);
}
END_TEST

static int barrier_cycles(void *arg) {
  for (;;)
    if (mp_barrier_wait(&((struct objs *)arg)->barrier, 5.0, NULL) != 0)
      return 1;
}

/* A partner killed at a random instant of its barrier cycles - perhaps
 * inside the barrier's own lock - never wedges the barrier. */
START_TEST(barrier_partner_killed_at_random) {
  struct objs *o;
  mp_shm *shm = objs_create(&o, 2);
  srand((unsigned)getpid());
  for (int round = 0; round < 20; round++) {
    pid_t pid = t_fork(barrier_cycles, o);
    for (int i = rand() % 200; i > 0; i--)
      ck_rc(mp_barrier_wait(&o->barrier, 5.0, NULL), 0);
    usleep((useconds_t)(rand() % 200));
    t_kill(pid);
    /* Our side now either completes the cycle the partner had entered or
     * is told the barrier broke; never hangs. */
    int rc = mp_barrier_wait(&o->barrier, 0.2, NULL);
    ck_assert_msg(rc == 0 || rc == MP_EBROKEN, "round %d: %s", round,
                  mp_err_name(rc));
    if (rc == 0)
      ck_rc(mp_barrier_wait(&o->barrier, 0.05, NULL), MP_EBROKEN);
    ck_rc(mp_barrier_reset(&o->barrier), 0);
  }
  objs_destroy(shm);
}
END_TEST

Suite *sync_kill_suite(void) {
  Suite *s = suite_create("sync-kill");
  TCase *tc = tcase_create("killed");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, event_waiter_killed);
  tcase_add_test(tc, semaphore_waiter_killed);
  tcase_add_test(tc, condition_waiter_killed);
  tcase_add_test(tc, condition_lock_holder_killed);
  tcase_add_test(tc, barrier_party_killed);
  tcase_add_test(tc, barrier_partner_killed_at_random);
  suite_add_tcase(s, tc);
  return s;
}
