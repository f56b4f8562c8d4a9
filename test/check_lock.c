/* test/check_lock.c - Lock and RLock across threads and processes. */
#include "tests.h"

#include <linux/filter.h>
#include <math.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- basics -------------------------------------------------------------- */

START_TEST(standalone_lifecycle) {
  mp_lock *lock, *again;
  ck_rc(mp_lock_create(NULL, &lock), 0);
  const char *name = mp_lock_name(lock);
  ck_assert_ptr_nonnull(name);
  ck_assert_int_eq(strncmp(name, "/mproc-", 7), 0);
  ck_rc(mp_lock_open(name, &again), 0);
  ck_rc(mp_lock_acquire(lock, MP_FOREVER), 0);
  ck_rc(mp_lock_is_owned(again), 1); /* same lock, other mapping */
  ck_rc(mp_lock_try_acquire(again), -EDEADLK);
  ck_rc(mp_lock_release(lock), 0);
  ck_rc(mp_lock_is_owned(lock), 0);
  ck_rc(mp_lock_close(again), 0);
  ck_rc(mp_lock_close(again), -EINVAL); /* closed twice: refused */
  char copy[MP_NAME_MAX + 1];
  snprintf(copy, sizeof copy, "%s", name);
  ck_rc(mp_lock_destroy(lock), 0);
  ck_assert(!t_shm_exists(copy));
  ck_rc(mp_lock_open(copy, &again), -ENOENT);
}
END_TEST

START_TEST(named_create_and_exists) {
  char name[64];
  snprintf(name, sizeof name, "/mproc-test-lock-%d", (int)getpid());
  mp_rlock *a, *b;
  ck_rc(mp_rlock_create(name, &a), 0);
  ck_rc(mp_rlock_create(name, &b), -EEXIST);
  ck_rc(mp_rlock_create("bad", &b), -EINVAL);
  ck_assert_str_eq(mp_rlock_name(a), name);
  ck_rc(mp_rlock_destroy(a), 0);
}
END_TEST

START_TEST(lock_rules) {
  mp_lock l;
  ck_rc(mp_lock_init(&l), 0);
  ck_assert_ptr_null(mp_lock_name(&l));
  ck_rc(mp_lock_release(&l), -EPERM);
  ck_rc(mp_lock_acquire(&l, 0), 0);
  ck_rc(mp_lock_acquire(&l, 0), -EDEADLK);
  ck_rc(mp_lock_acquire(&l, 1.0), -EDEADLK);
  ck_rc(mp_lock_acquire(&l, MP_FOREVER), -EDEADLK);
  ck_rc(mp_lock_destroy(&l), -EBUSY);
  ck_rc(mp_lock_close(&l), -EINVAL);
  ck_rc(mp_lock_release(&l), 0);
  ck_rc(mp_lock_release(&l), -EPERM);
  ck_rc(mp_lock_destroy(&l), 0);
  ck_rc(mp_lock_destroy(&l), -EINVAL); /* double destroy */
  ck_rc(mp_lock_acquire(&l, 0), -EINVAL);
}
END_TEST

START_TEST(rlock_recursion) {
  mp_rlock r;
  ck_rc(mp_rlock_init(&r), 0);
  for (int i = 0; i < 3; i++)
    ck_rc(mp_rlock_acquire(&r, i == 0 ? MP_FOREVER : 0), 0);
  ck_rc(mp_rlock_is_owned(&r), 1);
  ck_rc(mp_rlock_destroy(&r), -EBUSY);
  for (int i = 0; i < 3; i++)
    ck_rc(mp_rlock_release(&r), 0);
  ck_rc(mp_rlock_is_owned(&r), 0);
  ck_rc(mp_rlock_release(&r), -EPERM);
  ck_rc(mp_rlock_destroy(&r), 0);
}
END_TEST

START_TEST(bad_input) {
  mp_lock *lp = NULL;
  mp_rlock *rp = NULL;
  ck_rc(mp_lock_create(NULL, NULL), -EINVAL);
  ck_rc(mp_lock_open(NULL, &lp), -EINVAL);
  ck_rc(mp_lock_open("/mproc-x", NULL), -EINVAL);
  ck_rc(mp_lock_init(NULL), -EINVAL);
  ck_rc(mp_lock_acquire(NULL, 1), -EINVAL);
  ck_rc(mp_lock_try_acquire(NULL), -EINVAL);
  ck_rc(mp_lock_release(NULL), -EINVAL);
  ck_rc(mp_lock_is_owned(NULL), -EINVAL);
  ck_assert_ptr_null(mp_lock_name(NULL));
  ck_rc(mp_lock_close(NULL), 0);
  ck_rc(mp_lock_destroy(NULL), 0);
  ck_rc(mp_rlock_create(NULL, NULL), -EINVAL);
  ck_rc(mp_rlock_open(NULL, &rp), -EINVAL);
  ck_rc(mp_rlock_init(NULL), -EINVAL);
  ck_rc(mp_rlock_acquire(NULL, 1), -EINVAL);
  ck_rc(mp_rlock_release(NULL), -EINVAL);
  ck_rc(mp_rlock_is_owned(NULL), -EINVAL);
  ck_rc(mp_rlock_close(NULL), 0);
  ck_rc(mp_rlock_destroy(NULL), 0);
  /* Memory that was never initialised is refused, not used. */
  mp_lock zero;
  memset(&zero, 0, sizeof zero);
  ck_rc(mp_lock_acquire(&zero, 0), -EINVAL);
  ck_rc(mp_lock_release(&zero), -EINVAL);
  ck_rc(mp_lock_destroy(&zero), -EINVAL);
  /* A Lock is not an RLock. */
  mp_lock l;
  ck_rc(mp_lock_init(&l), 0);
  ck_rc(mp_rlock_acquire((mp_rlock *)&l, 0), -EINVAL);
  ck_rc(mp_lock_acquire(&l, NAN), -EINVAL);
  ck_rc(mp_lock_is_owned(&l), 0); /* the NaN call did not take it */
  ck_rc(mp_lock_acquire(&l, 0), 0);
  ck_rc(mp_lock_acquire(&l, NAN), -EINVAL); /* not EDEADLK: NaN first */
  ck_rc(mp_lock_release(&l), 0);
  mp_rlock r;
  ck_rc(mp_rlock_init(&r), 0);
  ck_rc(mp_rlock_acquire(&r, 0), 0);
  ck_rc(mp_rlock_acquire(&r, NAN), -EINVAL); /* depth unchanged */
  ck_rc(mp_rlock_release(&r), 0);
  ck_rc(mp_rlock_is_owned(&r), 0);
  ck_rc(mp_rlock_destroy(&r), 0);
  ck_rc(mp_lock_destroy(&l), 0);
}
END_TEST

/* ---- threads ------------------------------------------------------------- */

struct shared {
  mp_lock lock;
  mp_rlock rlock;
  long counter;
  long a, b; /* invariant under the lock: a == b */
};

static void *thread_try(void *arg) {
  mp_rlock *r = arg;
  intptr_t rc = mp_rlock_try_acquire(r);
  if (rc == 0)
    rc = 100 + mp_rlock_release(r);
  return (void *)rc;
}

static void *thread_release(void *arg) {
  return (void *)(intptr_t)mp_rlock_release(arg);
}

static intptr_t run_thread(void *(*fn)(void *), void *arg) {
  pthread_t t;
  void *ret;
  ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
  ck_assert_int_eq(pthread_join(t, &ret), 0);
  return (intptr_t)ret;
}

START_TEST(other_thread_excluded_and_cannot_release) {
  mp_rlock r;
  ck_rc(mp_rlock_init(&r), 0);
  ck_rc(mp_rlock_acquire(&r, MP_FOREVER), 0);
  ck_rc(mp_rlock_acquire(&r, MP_FOREVER), 0);
  ck_assert_int_eq(run_thread(thread_try, &r), -EAGAIN);
  ck_assert_int_eq(run_thread(thread_release, &r), -EPERM);
  ck_rc(mp_rlock_release(&r), 0);
  ck_assert_int_eq(run_thread(thread_try, &r), -EAGAIN); /* still held once */
  ck_rc(mp_rlock_release(&r), 0);
  ck_assert_int_eq(run_thread(thread_try, &r), 100); /* free now */
  ck_rc(mp_rlock_destroy(&r), 0);
}
END_TEST

/* ---- processes ----------------------------------------------------------- */

static mp_shm *shared_create(struct shared **out) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, sizeof(struct shared), &shm), 0);
  struct shared *s = mp_shm_buf(shm);
  ck_rc(mp_lock_init(&s->lock), 0);
  ck_rc(mp_rlock_init(&s->rlock), 0);
  *out = s;
  return shm;
}

static void shared_destroy(mp_shm *shm) {
  struct shared *s = mp_shm_buf(shm);
  ck_rc(mp_lock_destroy(&s->lock), 0);
  ck_rc(mp_rlock_destroy(&s->rlock), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}

struct bank {
  struct shared *s;
  mp_lock *lock; /* which lock guards the balance */
  int delta;
};

static int bank_worker(void *arg) {
  struct bank *b = arg;
  for (int i = 0; i < 100000; i++) {
    if (mp_lock_acquire(b->lock, MP_FOREVER) != 0)
      return 1;
    b->s->counter += b->delta;
    if (mp_lock_release(b->lock) != 0)
      return 2;
  }
  return 0;
}

/* The seeds' race demo: 100 000 deposits and withdrawals on a balance of
 * 100 end at exactly 100, with an embedded and with a standalone lock. */
START_TEST(bank_balance_exact) {
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  mp_lock *standalone;
  ck_rc(mp_lock_create(NULL, &standalone), 0);
  mp_lock *locks[] = {&s->lock, standalone};
  for (int k = 0; k < 2; k++) {
    s->counter = 100;
    struct bank w = {s, locks[k], -1}, d = {s, locks[k], +1};
    pid_t p1 = t_fork(bank_worker, &w), p2 = t_fork(bank_worker, &d);
    ck_assert_int_eq(t_wait(p1), 0);
    ck_assert_int_eq(t_wait(p2), 0);
    ck_assert_int_eq(s->counter, 100);
  }
  ck_rc(mp_lock_destroy(standalone), 0);
  shared_destroy(shm);
}
END_TEST

struct mixed {
  mp_lock *lock;
  long *counter;
};

static void *mixed_thread(void *arg) {
  struct mixed *m = arg;
  for (int i = 0; i < 20000; i++) {
    if (mp_lock_acquire(m->lock, 10.0) != 0)
      return (void *)1;
    ++*m->counter;
    if (mp_lock_release(m->lock) != 0)
      return (void *)2;
  }
  return NULL;
}

static int mixed_process(void *arg) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, mixed_thread, arg))
      return 10;
  int bad = 0;
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad |= r != NULL;
  }
  return bad;
}

START_TEST(threads_and_processes_mixed) {
  mp_lock *lock;
  mp_shm *shm;
  ck_rc(mp_lock_create(NULL, &lock), 0);
  ck_rc(mp_shm_create(NULL, sizeof(long), &shm), 0);
  struct mixed m = {lock, mp_shm_buf(shm)};
  pid_t p1 = t_fork(mixed_process, &m), p2 = t_fork(mixed_process, &m);
  ck_assert_int_eq(mixed_process(&m), 0);
  ck_assert_int_eq(t_wait(p1), 0);
  ck_assert_int_eq(t_wait(p2), 0);
  ck_assert_int_eq(*m.counter, 6 * 20000);
  ck_rc(mp_lock_destroy(lock), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

struct holder {
  struct shared *s;
  int fds[2]; /* child -> parent: "I hold it" */
  int back[2]; /* parent -> child: "let go" */
  int depth;  /* RLock depth, 0 for the Lock */
};

static int hold_until_told(void *arg) {
  struct holder *h = arg;
  int rc;
  for (int i = 0; i < (h->depth ? h->depth : 1); i++) {
    rc = h->depth ? mp_rlock_acquire(&h->s->rlock, MP_FOREVER)
                  : mp_lock_acquire(&h->s->lock, MP_FOREVER);
    if (rc != 0)
      return 1;
  }
  h->s->a++; /* a half-done update: b is not updated yet */
  t_send(h->fds[1]);
  if (!t_recv(h->back[0]))
    return 2;
  for (int i = 0; i < (h->depth ? h->depth : 1); i++) {
    rc = h->depth ? mp_rlock_release(&h->s->rlock) : mp_lock_release(&h->s->lock);
    if (rc != 0)
      return 3;
  }
  return 0;
}

static pid_t start_holder(struct holder *h) {
  t_pipe(h->fds);
  t_pipe(h->back);
  pid_t pid = t_fork(hold_until_told, h);
  ck_assert(t_recv(h->fds[0]));
  return pid;
}

static void close_holder(struct holder *h) {
  close(h->fds[0]);
  close(h->fds[1]);
  close(h->back[0]);
  close(h->back[1]);
}

START_TEST(timeout_honoured) {
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  struct holder h = {.s = s};
  pid_t pid = start_holder(&h);
  ck_rc(mp_lock_try_acquire(&s->lock), -EAGAIN);
  ck_rc(mp_lock_acquire(&s->lock, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_lock_acquire(&s->lock, 0.2), -ETIMEDOUT);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "took %.3f s", took);
  t_send(h.back[1]);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_lock_acquire(&s->lock, 0.2), 0); /* free again */
  ck_rc(mp_lock_release(&s->lock), 0);
  close_holder(&h);
  shared_destroy(shm);
}
END_TEST

static void on_alarm(int sig) { (void)sig; }

START_TEST(timeout_survives_signals) {
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  struct holder h = {.s = s, .depth = 2};
  pid_t pid = start_holder(&h);
  struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 20000}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, NULL);
  double t0 = t_now();
  ck_rc(mp_rlock_acquire(&s->rlock, 0.3), -ETIMEDOUT);
  double took = t_now() - t0;
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  ck_assert_msg(took >= 0.3 && took < 1.0, "took %.3f s", took);
  t_send(h.back[1]);
  ck_assert_int_eq(t_wait(pid), 0);
  close_holder(&h);
  shared_destroy(shm);
}
END_TEST

START_TEST(holder_killed_lock) {
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  struct holder h = {.s = s};
  t_kill(start_holder(&h));
  ck_assert_int_eq(s->a, 1);
  ck_rc(mp_lock_acquire(&s->lock, 1.0), MP_EOWNERDEAD);
  ck_rc(mp_lock_is_owned(&s->lock), 1);
  s->b = s->a; /* repair */
  ck_rc(mp_lock_release(&s->lock), 0);
  ck_rc(mp_lock_acquire(&s->lock, 0), 0); /* healthy again */
  ck_rc(mp_lock_release(&s->lock), 0);
  close_holder(&h);
  shared_destroy(shm);
}
END_TEST

START_TEST(holder_killed_rlock_resets_depth) {
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  struct holder h = {.s = s, .depth = 3};
  t_kill(start_holder(&h));
  ck_rc(mp_rlock_acquire(&s->rlock, 0), MP_EOWNERDEAD);
  ck_rc(mp_rlock_release(&s->rlock), 0); /* depth restarted at 1 */
  ck_rc(mp_rlock_is_owned(&s->rlock), 0);
  ck_assert_int_eq(run_thread(thread_try, &s->rlock), 100);
  close_holder(&h);
  shared_destroy(shm);
}
END_TEST

struct waiter {
  struct shared *s;
  int ready[2];
};

static int wait_for_lock(void *arg) {
  struct waiter *w = arg;
  t_send(w->ready[1]);
  int rc = mp_lock_acquire(&w->s->lock, 10.0);
  if (!MP_ACQUIRED(rc))
    return 10;
  if (rc == MP_EOWNERDEAD)
    w->s->b = w->s->a; /* repair */
  if (mp_lock_release(&w->s->lock) != 0)
    return 20;
  return rc == MP_EOWNERDEAD ? 0 : 11;
}

/* A waiter blocked on the lock is handed it when the holder is killed. */
START_TEST(holder_killed_while_others_wait) {
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  struct holder h = {.s = s};
  pid_t holder = start_holder(&h);
  struct waiter w = {.s = s};
  t_pipe(w.ready);
  pid_t waiters[3];
  for (int i = 0; i < 3; i++) {
    waiters[i] = t_fork(wait_for_lock, &w);
    ck_assert(t_recv(w.ready[0]));
  }
  t_kill(holder);
  /* Exactly one waiter sees the death; the others get a healthy lock. */
  int deaths = 0;
  for (int i = 0; i < 3; i++) {
    int st = t_wait(waiters[i]);
    ck_assert_msg(st == 0 || st == 11, "waiter exit %d", st);
    deaths += st == 0;
  }
  ck_assert_int_eq(deaths, 1);
  ck_assert_int_eq(s->a, s->b);
  close(w.ready[0]);
  close(w.ready[1]);
  close_holder(&h);
  shared_destroy(shm);
}
END_TEST

static int churn(void *arg) {
  struct shared *s = arg;
  for (;;) {
    int rc = mp_lock_acquire(&s->lock, MP_FOREVER);
    if (!MP_ACQUIRED(rc))
      return 1;
    s->a++;
    s->b++;
    mp_lock_release(&s->lock);
  }
}

/* Kill a busy locker at random instants: the lock is never wedged, and
 * owner death is reported exactly when the invariant may be broken. */
START_TEST(killed_at_random_moments) {
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  srand((unsigned)getpid());
  int deaths = 0;
  for (int round = 0; round < 30; round++) {
    pid_t pid = t_fork(churn, s);
    usleep((useconds_t)(rand() % 3000));
    t_kill(pid);
    int rc = mp_lock_acquire(&s->lock, 5.0);
    ck_assert_msg(MP_ACQUIRED(rc), "round %d: %s", round, mp_err_name(rc));
    if (rc == MP_EOWNERDEAD) {
      deaths++;
      s->b = s->a; /* repair the possibly half-done update */
    }
    ck_assert_int_eq(s->a, s->b);
    ck_rc(mp_lock_release(&s->lock), 0);
  }
  (void)deaths; /* how many kills hit the critical section varies */
  shared_destroy(shm);
}
END_TEST

/* ---- unrelated processes ------------------------------------------------- */

/* helper lock-try LOCK SHM: the parent holds LOCK; report "busy", then wait
 * for it, increment the counter in SHM under it. */
int helper_lock_try(int argc, char **argv) {
  mp_lock *lock;
  mp_shm *shm;
  if (argc != 2 || mp_lock_open(argv[0], &lock) || mp_shm_open(argv[1], &shm))
    return 1;
  if (mp_lock_try_acquire(lock) != -EAGAIN)
    return 2;
  if (write(STDOUT_FILENO, "b", 1) != 1)
    return 3;
  if (mp_lock_acquire(lock, 10.0) != 0)
    return 4;
  ++*(long *)mp_shm_buf(shm);
  if (mp_lock_release(lock) || mp_lock_close(lock) || mp_shm_close(shm))
    return 5;
  return 0;
}

/* helper lock-hold RLOCK: take it twice, say so, wait to be killed. */
int helper_lock_hold(int argc, char **argv) {
  mp_rlock *r;
  if (argc != 1 || mp_rlock_open(argv[0], &r))
    return 1;
  if (mp_rlock_acquire(r, 5.0) || mp_rlock_acquire(r, 5.0))
    return 2;
  if (write(STDOUT_FILENO, "h", 1) != 1)
    return 3;
  pause();
  return 4;
}

START_TEST(unrelated_process_opens_by_name) {
  mp_lock *lock;
  mp_shm *shm;
  ck_rc(mp_lock_create(NULL, &lock), 0);
  ck_rc(mp_shm_create(NULL, sizeof(long), &shm), 0);
  ck_rc(mp_lock_acquire(lock, MP_FOREVER), 0);
  int out[2];
  t_pipe(out);
  const char *args[] = {mp_lock_name(lock), mp_shm_name(shm), NULL};
  pid_t pid = t_spawn_helper("lock-try", args, out[1]);
  ck_assert(t_recv(out[0])); /* it found the lock busy */
  *(long *)mp_shm_buf(shm) = 41;
  ck_rc(mp_lock_release(lock), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_assert_int_eq(*(long *)mp_shm_buf(shm), 42);
  close(out[0]);
  close(out[1]);
  ck_rc(mp_lock_destroy(lock), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

START_TEST(unrelated_holder_killed) {
  mp_rlock *r;
  ck_rc(mp_rlock_create(NULL, &r), 0);
  int out[2];
  t_pipe(out);
  const char *args[] = {mp_rlock_name(r), NULL};
  pid_t pid = t_spawn_helper("lock-hold", args, out[1]);
  ck_assert(t_recv(out[0]));
  ck_rc(mp_rlock_try_acquire(r), -EAGAIN);
  t_kill(pid);
  ck_rc(mp_rlock_acquire(r, 2.0), MP_EOWNERDEAD);
  ck_rc(mp_rlock_release(r), 0);
  ck_rc(mp_rlock_is_owned(r), 0);
  close(out[0]);
  close(out[1]);
  ck_rc(mp_rlock_destroy(r), 0);
}
END_TEST

/* ---- fast path ----------------------------------------------------------- */

/* After warming up, uncontended acquire/release run under a seccomp filter
 * that kills the process at its first system call other than exit. */
static int no_syscalls(void *arg) {
  struct shared *s = arg;
  mp_lock_acquire(&s->lock, 0); /* warm up: thread token, lazy binding */
  mp_lock_release(&s->lock);
  mp_rlock_acquire(&s->rlock, 0);
  mp_rlock_release(&s->rlock);
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
    return 10;
  int bad = 0;
  for (int i = 0; i < 1000; i++) {
    bad |= mp_lock_acquire(&s->lock, i % 2 ? MP_FOREVER : 1.0);
    bad |= mp_lock_release(&s->lock);
    bad |= mp_rlock_acquire(&s->rlock, MP_FOREVER);
    bad |= mp_rlock_acquire(&s->rlock, 0);
    bad |= mp_rlock_release(&s->rlock);
    bad |= mp_rlock_release(&s->rlock);
  }
  syscall(SYS_exit_group, bad ? 1 : 0);
  return 2;
}

START_TEST(uncontended_makes_no_syscall) {
  if (t_instrumented())
    return; /* valgrind makes system calls of its own */
  struct shared *s;
  mp_shm *shm = shared_create(&s);
  ck_assert_int_eq(t_wait(t_fork(no_syscalls, s)), 0);
  shared_destroy(shm);
}
END_TEST

Suite *lock_suite(void) {
  Suite *s = suite_create("lock");
  TCase *tc = tcase_create("basics");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, standalone_lifecycle);
  tcase_add_test(tc, named_create_and_exists);
  tcase_add_test(tc, lock_rules);
  tcase_add_test(tc, rlock_recursion);
  tcase_add_test(tc, bad_input);
  tcase_add_test(tc, other_thread_excluded_and_cannot_release);
  tcase_add_test(tc, uncontended_makes_no_syscall);
  suite_add_tcase(s, tc);
  TCase *tp = tcase_create("processes");
  tcase_set_timeout(tp, T_TIMEOUT);
  tcase_add_test(tp, bank_balance_exact);
  tcase_add_test(tp, threads_and_processes_mixed);
  tcase_add_test(tp, timeout_honoured);
  tcase_add_test(tp, timeout_survives_signals);
  tcase_add_test(tp, unrelated_process_opens_by_name);
  suite_add_tcase(s, tp);
  TCase *tr = tcase_create("robustness");
  tcase_set_timeout(tr, T_TIMEOUT);
  tcase_add_test(tr, holder_killed_lock);
  tcase_add_test(tr, holder_killed_rlock_resets_depth);
  tcase_add_test(tr, holder_killed_while_others_wait);
  tcase_add_test(tr, killed_at_random_moments);
  tcase_add_test(tr, unrelated_holder_killed);
  suite_add_tcase(s, tr);
  return s;
}
