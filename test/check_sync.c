/*
 * test/check_sync.c - Event, Semaphore, BoundedSemaphore, Condition and
 * Barrier across threads and processes: the seeds' examples ported to C,
 * then the semantics, standalone objects and bad input. (Killing waiters
 * and holders is check_sync_kill.c's business.)
 *
 * Workers run as forked processes or as threads of the test; either way
 * they report through their return value (a process's exit status), never
 * through ck_assert. Steps are ordered with pipes, locks and the objects'
 * own observable state (mp_barrier_n_waiting, a waiter seen asleep in
 * /proc), never with sleeps.
 */
#include "tests.h"

#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CYCLES_MAX 1000
#define WORKERS_MAX 8

/* Everything the workers share, in one mp_shm segment. */
struct sy {
  mp_lock lock;
  mp_rlock rlock;
  mp_condition cond;   /* with an RLock of its own */
  mp_condition cond_l; /* bound to lock */
  mp_condition cond_r; /* bound to rlock */
  mp_event ev;
  mp_semaphore sem, sem2;
  mp_barrier bar;
  int rep[2]; /* workers -> test: one byte per step */
  int go[2];  /* test -> workers */
  int flag, round, items, consumed, done; /* under a lock */
  _Atomic int actions;
  _Atomic pid_t tid[WORKERS_MAX];
  char slot;
  char text[32];
  unsigned idx[CYCLES_MAX][WORKERS_MAX];
};

static struct sy *sy_open(mp_shm **shm) {
  ck_rc(mp_shm_create(NULL, sizeof(struct sy), shm), 0);
  struct sy *s = mp_shm_buf(*shm);
  ck_rc(mp_lock_init(&s->lock), 0);
  ck_rc(mp_rlock_init(&s->rlock), 0);
  ck_rc(mp_condition_init(&s->cond), 0);
  ck_rc(mp_condition_init_lock(&s->cond_l, &s->lock), 0);
  ck_rc(mp_condition_init_rlock(&s->cond_r, &s->rlock), 0);
  ck_rc(mp_event_init(&s->ev), 0);
  ck_rc(mp_semaphore_init(&s->sem, 0, 0), 0);
  ck_rc(mp_semaphore_init(&s->sem2, 0, 0), 0);
  ck_rc(mp_barrier_init(&s->bar, 2), 0);
  t_pipe(s->rep);
  t_pipe(s->go);
  return s;
}

static void sy_close(mp_shm *shm) {
  struct sy *s = mp_shm_buf(shm);
  ck_rc(mp_condition_destroy(&s->cond_l), 0);
  ck_rc(mp_condition_destroy(&s->cond_r), 0);
  ck_rc(mp_condition_destroy(&s->cond), 0);
  ck_rc(mp_lock_destroy(&s->lock), 0);
  ck_rc(mp_rlock_destroy(&s->rlock), 0);
  ck_rc(mp_event_destroy(&s->ev), 0);
  ck_rc(mp_semaphore_destroy(&s->sem), 0);
  ck_rc(mp_semaphore_destroy(&s->sem2), 0);
  ck_rc(mp_barrier_destroy(&s->bar), 0);
  close(s->rep[0]);
  close(s->rep[1]);
  close(s->go[0]);
  close(s->go[1]);
  ck_rc(mp_shm_destroy(shm), 0);
}

static void sem_reinit(mp_semaphore *sem, int value, unsigned flags) {
  ck_rc(mp_semaphore_destroy(sem), 0);
  ck_rc(mp_semaphore_init(sem, value, flags), 0);
}

static void bar_reinit(mp_barrier *b, unsigned parties) {
  ck_rc(mp_barrier_destroy(b), 0);
  ck_rc(mp_barrier_init(b, parties), 0);
}

/* ---- workers: a process or a thread -------------------------------------- */

struct who {
  struct sy *s;
  int i;     /* worker number */
  int n;     /* rounds, cycles, ... */
  void *obj; /* the object to work on, when not implied */
};

struct party {
  pid_t pid; /* > 0: a process; else a thread */
  pthread_t thread;
  int (*fn)(void *);
  void *arg;
  int ret;
};

static void *party_thread(void *arg) {
  struct party *p = arg;
  p->ret = p->fn(p->arg);
  return NULL;
}

static void party_start(struct party *p, bool thread, int (*fn)(void *),
                        void *arg) {
  p->fn = fn;
  p->arg = arg;
  p->pid = 0;
  if (thread)
    ck_assert_int_eq(pthread_create(&p->thread, NULL, party_thread, p), 0);
  else
    p->pid = t_fork(fn, arg);
}

/* The worker's return value (exit status for a process). */
static int party_join(struct party *p) {
  if (p->pid > 0)
    return t_wait(p->pid);
  ck_assert_int_eq(pthread_join(p->thread, NULL), 0);
  return p->ret;
}

static const char *mode_name(bool thread) {
  return thread ? "threads" : "processes";
}

/* Start n workers fn(&w[i]), w[i] = {s, i, rounds, obj}: threads or
 * processes. */
static void parties_start(struct party *p, struct who *w, int n, bool thread,
                          int (*fn)(void *), struct sy *s, int rounds,
                          void *obj) {
  for (int i = 0; i < n; i++) {
    w[i] = (struct who){s, i, rounds, obj};
    party_start(&p[i], thread, fn, &w[i]);
  }
}

/* Join n workers; each must have returned 0 (`what`: who they are). */
static void parties_join(struct party *p, int n, bool thread,
                         const char *what) {
  for (int i = 0; i < n; i++)
    ck_assert_msg(party_join(&p[i]) == 0, "%s: %s %d failed",
                  mode_name(thread), what, i);
}

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* Is the thread tid (of any process) asleep in the kernel (state S)? */
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

/* Wait (at most 10 s) until a worker that announced it is about to block
 * really sleeps: a wake-up sent now must find it asleep. */
static void await_asleep(pid_t tid) {
  double end = t_now() + 10;
  while (!tid_asleep(tid)) {
    ck_assert_msg(t_now() < end, "thread %d never went to sleep", (int)tid);
    usleep(200);
  }
}

/* Wait (at most 10 s) until n parties wait at the barrier. */
static void await_n_waiting(mp_barrier *b, int n) {
  double end = t_now() + 10;
  int got;
  while ((got = mp_barrier_n_waiting(b)) != n && t_now() < end)
    usleep(200);
  ck_assert_msg(got == n, "n_waiting %d, expected %d", got, n);
}

/* Is there a byte to read on fd right now? */
static bool pending(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1;
}

/* ==== the seeds' examples ================================================= */

/* Condition: five waiters, each waiting three times (the seed's 3-round
 * variant); every round is released by one notify_all. A waiter announces
 * itself while holding the lock, so once the test holds the lock, all five
 * are inside wait. */
static int cond_waiter(void *arg) {
  struct who *w = arg;
  mp_condition *c = w->obj;
  for (int r = 1; r <= w->n; r++) {
    if (mp_condition_acquire(c, 10.0) != 0)
      return 1;
    t_send(w->s->rep[1]);
    while (w->s->round < r)
      if (mp_condition_wait(c, 10.0) != 0)
        return 2;
    w->s->done++;
    if (mp_condition_release(c) != 0)
      return 3;
  }
  return 0;
}

START_TEST(seed_condition_five_waiters_notify_all) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  mp_condition *standalone;
  ck_rc(mp_condition_create(NULL, &standalone), 0);
  for (int mode = 0; mode < 2; mode++) {
    bool thread = mode == 1;
    /* processes share a standalone Condition, threads an embedded one */
    mp_condition *c = thread ? &s->cond : standalone;
    s->round = s->done = 0;
    struct who w[5];
    struct party p[5];
    parties_start(p, w, 5, thread, cond_waiter, s, 3, c);
    for (int r = 1; r <= 3; r++) {
      for (int i = 0; i < 5; i++)
        ck_assert_msg(t_recv(s->rep[0]), "%s round %d", mode_name(thread), r);
      ck_rc(mp_condition_acquire(c, 10.0), 0); /* all five now wait */
      ck_assert_int_eq(s->done, 5 * (r - 1));
      s->round = r;
      ck_rc(mp_condition_notify_all(c), 0);
      ck_rc(mp_condition_release(c), 0);
    }
    parties_join(p, 5, thread, "waiter");
    ck_assert_int_eq(s->done, 15);
  }
  ck_rc(mp_condition_destroy(standalone), 0);
  sy_close(shm);
}
END_TEST

/* Event: the seed's five waiters, three waits each, all released by one
 * set(); then Python's wait_for_event / wait_for_event_timeout pair. */
static int event_waiter_rounds(void *arg) {
  struct who *w = arg;
  for (int r = 0; r < w->n; r++) {
    t_send(w->s->rep[1]);
    if (mp_event_wait(&w->s->ev, 10.0) != 0)
      return 1;
  }
  return 0;
}

static int wait_for_event(void *arg) {
  struct who *w = arg;
  t_send(w->s->rep[1]);
  if (mp_event_wait(&w->s->ev, MP_FOREVER) != 0)
    return 1;
  return mp_event_is_set(&w->s->ev) == 1 ? 0 : 2;
}

static int wait_for_event_timeout(void *arg) {
  struct who *w = arg;
  int timeouts = 0;
  while (mp_event_is_set(&w->s->ev) != 1) {
    int rc = mp_event_wait(&w->s->ev, 0.05);
    if (rc == -ETIMEDOUT) {
      if (timeouts++ == 0)
        t_send(w->s->rep[1]); /* "doing other things" */
      if (timeouts > 200)
        return 1; /* 10 s */
    } else if (rc != 0) {
      return 2;
    }
  }
  return timeouts >= 1 ? 0 : 3; /* the test sets it only after a timeout */
}

START_TEST(seed_event_waiters) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  for (int mode = 0; mode < 2; mode++) {
    bool thread = mode == 1;
    ck_rc(mp_event_clear(&s->ev), 0);
    struct who w[5];
    struct party p[5];
    parties_start(p, w, 5, thread, event_waiter_rounds, s, 3, NULL);
    for (int i = 0; i < 5; i++)
      ck_assert(t_recv(s->rep[0]));
    ck_rc(mp_event_is_set(&s->ev), 0);
    ck_rc(mp_event_set(&s->ev), 0);
    for (int i = 0; i < 10; i++) /* rounds 2 and 3 pass at once */
      ck_assert(t_recv(s->rep[0]));
    parties_join(p, 5, thread, "waiter");

    ck_rc(mp_event_clear(&s->ev), 0);
    struct who one = {s, 0, 0, NULL};
    struct party a, b;
    party_start(&a, thread, wait_for_event, &one);
    party_start(&b, thread, wait_for_event_timeout, &one);
    ck_assert(t_recv(s->rep[0]));
    ck_assert(t_recv(s->rep[0])); /* b has timed out at least once */
    ck_rc(mp_event_set(&s->ev), 0);
    ck_assert_msg(party_join(&a) == 0, "%s: wait_for_event",
                  mode_name(thread));
    ck_assert_msg(party_join(&b) == 0, "%s: wait_for_event_timeout",
                  mode_name(thread));
  }
  sy_close(shm);
}
END_TEST

/* Semaphores: the seed's writer/reader. write_sem (sem) starts at 1,
 * read_sem (sem2) at 0; characters go through one shared slot, '\0' ends. */
static int sem_writer(void *arg) {
  struct sy *s = ((struct who *)arg)->s;
  const char *phrase = "Hello world";
  for (size_t i = 0; i <= strlen(phrase); i++) {
    if (mp_semaphore_acquire(&s->sem, 10.0) != 0)
      return 1;
    s->slot = phrase[i];
    if (mp_semaphore_release(&s->sem2, 1) != 0)
      return 2;
  }
  return 0;
}

static int sem_reader(void *arg) {
  struct sy *s = ((struct who *)arg)->s;
  for (size_t n = 0;; n++) {
    if (mp_semaphore_acquire(&s->sem2, 10.0) != 0)
      return 1;
    char c = s->slot;
    if (c == '\0')
      return 0;
    if (n + 1 >= sizeof s->text)
      return 3;
    s->text[n] = c;
    if (mp_semaphore_release(&s->sem, 1) != 0)
      return 2;
  }
}

START_TEST(seed_semaphore_hello_world) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  for (int mode = 0; mode < 2; mode++) {
    bool thread = mode == 1;
    sem_reinit(&s->sem, 1, 0);
    sem_reinit(&s->sem2, 0, 0);
    memset(s->text, 0, sizeof s->text);
    s->slot = 'x';
    struct who w = {s, 0, 0, NULL};
    struct party wr, rd;
    /* the seed starts the writer first; the reader waits on read_sem */
    party_start(&rd, thread, sem_reader, &w);
    party_start(&wr, thread, sem_writer, &w);
    ck_assert_int_eq(party_join(&wr), 0);
    ck_assert_int_eq(party_join(&rd), 0);
    ck_assert_str_eq(s->text, "Hello world");
    ck_rc(mp_semaphore_value(&s->sem), 0);
    ck_rc(mp_semaphore_value(&s->sem2), 0);
  }
  sy_close(shm);
}
END_TEST

/* Semaphore(0): five waiters acquire three times each; every release lets
 * exactly one more acquire through. */
static int sem_taker(void *arg) {
  struct who *w = arg;
  for (int r = 0; r < w->n; r++) {
    if (mp_semaphore_acquire(&w->s->sem, 10.0) != 0)
      return 1;
    t_send(w->s->rep[1]);
  }
  return 0;
}

START_TEST(seed_semaphore_zero_one_by_one) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  for (int mode = 0; mode < 2; mode++) {
    bool thread = mode == 1;
    struct who w[5];
    struct party p[5];
    parties_start(p, w, 5, thread, sem_taker, s, 3, NULL);
    ck_rc(mp_semaphore_value(&s->sem), 0);
    ck_assert(!pending(s->rep[0])); /* nobody got through a Semaphore(0) */
    for (int k = 0; k < 15; k++) {
      ck_rc(mp_semaphore_release(&s->sem, 1), 0);
      ck_assert_msg(t_recv(s->rep[0]), "%s: release %d let nobody through",
                    mode_name(thread), k);
      ck_rc(mp_semaphore_value(&s->sem), 0);
      ck_assert_msg(!pending(s->rep[0]), "%s: release %d let two through",
                    mode_name(thread), k);
    }
    parties_join(p, 5, thread, "waiter");
    ck_rc(mp_semaphore_value(&s->sem), 0);
  }
  sy_close(shm);
}
END_TEST

/* Barrier(7): six runners arrive, the test (the "commentator") sees
 * n_waiting reach 6 and arrives as the seventh, for three cycles. */
static int count_action(void *ctx) {
  struct sy *s = ctx;
  atomic_fetch_add(&s->actions, 1);
  return 0;
}

static int barrier_runner(void *arg) {
  struct who *w = arg;
  struct sy *s = w->s;
  for (int c = 0; c < w->n; c++) {
    unsigned idx = 99;
    if (mp_barrier_wait_action(&s->bar, 10.0, count_action, s, &idx) != 0)
      return 1;
    if (atomic_load(&s->actions) != c + 1)
      return 2; /* the action runs before anyone is released */
    s->idx[c][w->i] = idx;
  }
  return 0;
}

/* Indices of cycle c over n parties are 0..n-1, each once. */
static void check_indices(struct sy *s, int c, int n) {
  unsigned seen = 0;
  for (int i = 0; i < n; i++) {
    ck_assert_msg(s->idx[c][i] < (unsigned)n, "cycle %d: index %u", c,
                  s->idx[c][i]);
    seen |= 1u << s->idx[c][i];
  }
  ck_assert_msg(seen == (1u << n) - 1, "cycle %d: indices not distinct", c);
}

START_TEST(seed_barrier_seven_runners) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  enum { CYCLES = 3 };
  for (int mode = 0; mode < 2; mode++) {
    bool thread = mode == 1;
    bar_reinit(&s->bar, 7);
    atomic_store(&s->actions, 0);
    ck_rc(mp_barrier_parties(&s->bar), 7);
    ck_rc(mp_barrier_n_waiting(&s->bar), 0);
    struct who w[6];
    struct party p[6];
    parties_start(p, w, 6, thread, barrier_runner, s, CYCLES, NULL);
    for (int c = 0; c < CYCLES; c++) {
      await_n_waiting(&s->bar, 6);
      ck_rc(atomic_load(&s->actions), c);
      unsigned idx = 99;
      ck_rc(mp_barrier_wait_action(&s->bar, 10.0, count_action, s, &idx), 0);
      ck_assert_uint_eq(idx, 6); /* the last to arrive */
      s->idx[c][6] = idx;
    }
    parties_join(p, 6, thread, "runner");
    for (int c = 0; c < CYCLES; c++)
      check_indices(s, c, 7);
    ck_rc(atomic_load(&s->actions), CYCLES);
    ck_rc(mp_barrier_n_waiting(&s->bar), 0);
    ck_rc(mp_barrier_broken(&s->bar), 0);
  }
  sy_close(shm);
}
END_TEST

/* ==== Condition =========================================================== */

/* Takes the condition's lock - free only once the test waits - notifies
 * and keeps the lock a little: the waiter cannot return before release. */
static int cond_notifier(void *arg) {
  struct who *w = arg;
  mp_condition *c = w->obj;
  if (mp_condition_acquire(c, 10.0) != 0)
    return 1;
  w->s->flag = 1;
  if (mp_condition_notify(c, 1) != 0)
    return 2;
  w->s->round = 1;
  if (mp_condition_release(c) != 0)
    return 3;
  return 0;
}

/* Own RLock, embedded RLock and standalone Condition: held 3 deep, wait
 * releases it all (a process can take it) and restores depth 3. */
START_TEST(condition_wait_restores_rlock_depth) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  mp_condition *standalone;
  ck_rc(mp_condition_create(NULL, &standalone), 0);
  mp_condition *conds[] = {&s->cond, &s->cond_r, standalone};
  for (int k = 0; k < 3; k++) {
    mp_condition *c = conds[k];
    s->flag = s->round = 0;
    for (int i = 0; i < 3; i++)
      ck_rc(mp_condition_acquire(c, i ? 0 : MP_FOREVER), 0);
    struct who w = {s, 0, 0, c};
    pid_t pid = t_fork(cond_notifier, &w);
    while (!s->flag)
      ck_rc(mp_condition_wait(c, 10.0), 0);
    ck_assert_int_eq(s->round, 1); /* re-taken after the notifier let go */
    if (c == &s->cond_r)
      ck_rc(mp_rlock_is_owned(&s->rlock), 1);
    for (int i = 0; i < 3; i++)
      ck_rc(mp_condition_release(c), 0);
    ck_rc(mp_condition_release(c), -EPERM);
    ck_assert_int_eq(t_wait(pid), 0);
  }
  ck_rc(mp_condition_destroy(standalone), 0);
  sy_close(shm);
}
END_TEST

START_TEST(condition_wait_releases_lock) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  mp_condition *c = &s->cond_l;
  ck_rc(mp_lock_acquire(&s->lock, 0), 0); /* the bound lock itself */
  struct who w = {s, 0, 0, c};
  pid_t pid = t_fork(cond_notifier, &w);
  while (!s->flag)
    ck_rc(mp_condition_wait(c, 10.0), 0);
  ck_assert_int_eq(s->round, 1);
  ck_rc(mp_lock_is_owned(&s->lock), 1);
  ck_rc(mp_lock_release(&s->lock), 0);
  ck_rc(mp_lock_release(&s->lock), -EPERM);
  ck_assert_int_eq(t_wait(pid), 0);
  sy_close(shm);
}
END_TEST

/* Timed out or not, wait gives the lock back at the same depth. */
START_TEST(condition_wait_timeout) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  ck_rc(mp_condition_acquire(&s->cond_r, 0), 0);
  ck_rc(mp_condition_acquire(&s->cond_r, 0), 0);
  ck_rc(mp_condition_wait(&s->cond_r, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_condition_wait(&s->cond_r, 0.2), -ETIMEDOUT);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "took %.3f s", took);
  ck_rc(mp_rlock_is_owned(&s->rlock), 1);
  ck_rc(mp_condition_release(&s->cond_r), 0);
  ck_rc(mp_condition_release(&s->cond_r), 0);
  ck_rc(mp_condition_release(&s->cond_r), -EPERM);

  ck_rc(mp_condition_acquire(&s->cond_l, 0), 0);
  ck_rc(mp_condition_wait(&s->cond_l, 0), -EAGAIN);
  ck_rc(mp_condition_wait(&s->cond_l, 0.05), -ETIMEDOUT);
  ck_rc(mp_lock_is_owned(&s->lock), 1);
  ck_rc(mp_condition_release(&s->cond_l), 0);
  ck_rc(mp_lock_is_owned(&s->lock), 0);
  sy_close(shm);
}
END_TEST

struct pred_ctx {
  struct sy *s;
  int want;
  int calls;
  int unlocked; /* calls made without the lock held */
};

static int enough_items(void *arg) {
  struct pred_ctx *p = arg;
  p->calls++;
  if (mp_lock_is_owned(&p->s->lock) != 1)
    p->unlocked++;
  return p->s->items >= p->want;
}

/* Adds an item three times, each under the lock and with a notify_all. */
static int item_adder(void *arg) {
  struct who *w = arg;
  for (int i = 0; i < 3; i++) {
    if (mp_condition_acquire(&w->s->cond_l, 10.0) != 0)
      return 1;
    w->s->items++;
    if (mp_condition_notify_all(&w->s->cond_l) != 0)
      return 2;
    if (mp_condition_release(&w->s->cond_l) != 0)
      return 3;
  }
  return 0;
}

START_TEST(condition_wait_for) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  mp_condition *c = &s->cond_l;
  struct pred_ctx p = {.s = s, .want = 1};
  ck_rc(mp_condition_wait_for(c, enough_items, &p, 1.0), -EPERM);
  ck_rc(mp_condition_acquire(c, 0), 0);
  s->items = 1; /* true at once: no wait, whatever the timeout */
  ck_rc(mp_condition_wait_for(c, enough_items, &p, 0), 0);
  ck_rc(mp_condition_wait_for(c, enough_items, &p, 0.2), 0);
  ck_rc(mp_condition_wait_for(c, enough_items, &p, MP_FOREVER), 0);
  ck_assert_int_eq(p.calls, 3);
  s->items = 0; /* stays false */
  ck_rc(mp_condition_wait_for(c, enough_items, &p, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_condition_wait_for(c, enough_items, &p, 0.2), -ETIMEDOUT);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "took %.3f s", took);
  ck_rc(mp_lock_is_owned(&s->lock), 1);
  /* becomes true in another process, which can only start adding once the
   * lock is released by the wait */
  p.want = 3;
  struct who w = {s, 0, 0, NULL};
  pid_t pid = t_fork(item_adder, &w);
  ck_rc(mp_condition_wait_for(c, enough_items, &p, 10.0), 0);
  ck_assert_int_eq(s->items, 3);
  ck_rc(mp_condition_release(c), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_assert_int_eq(p.unlocked, 0);
  sy_close(shm);
}
END_TEST

/* One wait each (no predicate loop), then report. */
static int cond_wait_once(void *arg) {
  struct who *w = arg;
  mp_condition *c = w->obj;
  if (mp_condition_acquire(c, 10.0) != 0)
    return 1;
  atomic_store(&w->s->tid[w->i], my_tid());
  t_send(w->s->rep[1]);
  int rc = mp_condition_wait(c, 10.0);
  w->s->done++;
  t_send(w->s->go[1]);
  if (mp_condition_release(c) != 0)
    return 3;
  return rc == 0 ? 0 : 2;
}

/* notify(2) with four sleeping waiters wakes at least two (wait may return
 * spuriously, so not "exactly"); notify_all wakes the rest. */
START_TEST(condition_notify_n) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  mp_condition *c = &s->cond_r;
  struct who w[4];
  pid_t pid[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (struct who){s, i, 0, c};
    pid[i] = t_fork(cond_wait_once, &w[i]);
  }
  for (int i = 0; i < 4; i++)
    ck_assert(t_recv(s->rep[0]));
  ck_rc(mp_condition_acquire(c, 10.0), 0); /* all four inside wait */
  for (int i = 0; i < 4; i++)
    await_asleep(atomic_load(&s->tid[i]));
  ck_assert_int_eq(s->done, 0);
  ck_rc(mp_condition_notify(c, 2), 0);
  ck_rc(mp_condition_release(c), 0);
  ck_assert(t_recv(s->go[0]));
  ck_assert(t_recv(s->go[0]));
  ck_rc(mp_condition_acquire(c, 10.0), 0);
  ck_assert_int_ge(s->done, 2);
  ck_rc(mp_condition_notify_all(c), 0);
  ck_rc(mp_condition_release(c), 0);
  ck_assert(t_recv(s->go[0]));
  ck_assert(t_recv(s->go[0]));
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(t_wait(pid[i]), 0);
  ck_assert_int_eq(s->done, 4);
  ck_rc(mp_condition_acquire(c, 0), 0);
  ck_rc(mp_condition_notify(c, 1), 0); /* nobody waits: harmless */
  ck_rc(mp_condition_notify(c, INT_MAX), 0);
  ck_rc(mp_condition_notify_all(c), 0);
  ck_rc(mp_condition_release(c), 0);
  sy_close(shm);
}
END_TEST

/* Producer / consumers: an item at a time with notify(1). */
static int have_item_or_done(void *arg) {
  struct sy *s = arg;
  return s->items > 0 || s->done;
}

static int consumer(void *arg) {
  struct who *w = arg;
  struct sy *s = w->s;
  mp_condition *c = w->obj;
  if (mp_condition_acquire(c, 10.0) != 0)
    return 1;
  for (;;) {
    if (mp_condition_wait_for(c, have_item_or_done, s, 10.0) != 0)
      return 2;
    if (s->items == 0)
      break; /* done */
    s->items--;
    s->consumed++;
  }
  return mp_condition_release(c) == 0 ? 0 : 3;
}

/* A Condition with its own RLock, one bound to an embedded Lock and one
 * bound to an embedded RLock of the same segment all carry a
 * producer/consumer between processes. */
START_TEST(condition_lock_kinds) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  mp_condition *conds[] = {&s->cond, &s->cond_l, &s->cond_r};
  /* the binding is visible from both sides */
  ck_rc(mp_condition_acquire(&s->cond_l, 0), 0);
  ck_rc(mp_lock_is_owned(&s->lock), 1);
  ck_rc(mp_condition_acquire(&s->cond_l, 0), -EDEADLK); /* a Lock */
  ck_rc(mp_lock_release(&s->lock), 0);
  ck_rc(mp_condition_release(&s->cond_l), -EPERM);
  ck_rc(mp_rlock_acquire(&s->rlock, 0), 0);
  ck_rc(mp_condition_acquire(&s->cond_r, 0), 0); /* an RLock */
  ck_rc(mp_condition_release(&s->cond_r), 0);
  ck_rc(mp_condition_release(&s->cond_r), 0);
  ck_rc(mp_rlock_is_owned(&s->rlock), 0);
  for (int k = 0; k < 3; k++) {
    mp_condition *c = conds[k];
    s->items = s->consumed = s->done = 0;
    struct who w[2] = {{s, 0, 0, c}, {s, 1, 0, c}};
    pid_t pid[2] = {t_fork(consumer, &w[0]), t_fork(consumer, &w[1])};
    for (int i = 0; i < 100; i++) {
      ck_rc(mp_condition_acquire(c, 10.0), 0);
      s->items++;
      ck_rc(mp_condition_notify(c, 1), 0);
      ck_rc(mp_condition_release(c), 0);
    }
    ck_rc(mp_condition_acquire(c, 10.0), 0);
    s->done = 1;
    ck_rc(mp_condition_notify_all(c), 0);
    ck_rc(mp_condition_release(c), 0);
    ck_assert_msg(t_wait(pid[0]) == 0 && t_wait(pid[1]) == 0, "kind %d", k);
    ck_assert_int_eq(s->consumed, 100);
    ck_assert_int_eq(s->items, 0);
  }
  sy_close(shm);
}
END_TEST

/* The bound lock must live in the condition's mapping (the binding is an
 * offset): a lock in another segment is refused. */
START_TEST(condition_lock_in_other_mapping) {
  mp_shm *a, *b;
  ck_rc(mp_shm_create(NULL, sizeof(mp_condition), &a), 0);
  ck_rc(mp_shm_create(NULL, sizeof(mp_lock) + sizeof(mp_rlock), &b), 0);
  mp_condition *c = mp_shm_buf(a);
  mp_lock *l = mp_shm_buf(b);
  mp_rlock *r = (mp_rlock *)(l + 1);
  ck_rc(mp_lock_init(l), 0);
  ck_rc(mp_rlock_init(r), 0);
  int rc_l = mp_condition_init_lock(c, l);
  if (rc_l == 0)
    ck_rc(mp_condition_destroy(c), 0);
  int rc_r = mp_condition_init_rlock(c, r);
  if (rc_r == 0)
    ck_rc(mp_condition_destroy(c), 0);
  ck_rc(mp_lock_destroy(l), 0);
  ck_rc(mp_rlock_destroy(r), 0);
  ck_rc(mp_shm_destroy(a), 0);
  ck_rc(mp_shm_destroy(b), 0);
  ck_rc(rc_l, -EINVAL);
  ck_rc(rc_r, -EINVAL);
}
END_TEST

static void *thread_notify(void *arg) {
  return (void *)(intptr_t)mp_condition_notify(arg, 1);
}
static void *thread_notify_all(void *arg) {
  return (void *)(intptr_t)mp_condition_notify_all(arg);
}
static void *thread_wait(void *arg) {
  return (void *)(intptr_t)mp_condition_wait(arg, 0.1);
}

static intptr_t run_thread(void *(*fn)(void *), void *arg) {
  pthread_t t;
  void *ret;
  ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
  ck_assert_int_eq(pthread_join(t, &ret), 0);
  return (intptr_t)ret;
}

static int never(void *ctx) {
  (void)ctx;
  return 0;
}

/* Python raises RuntimeError: here -EPERM, also when another thread holds
 * the lock. */
START_TEST(condition_needs_the_lock) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  mp_condition *conds[] = {&s->cond, &s->cond_l, &s->cond_r};
  for (int k = 0; k < 3; k++) {
    mp_condition *c = conds[k];
    ck_rc(mp_condition_notify(c, 1), -EPERM);
    ck_rc(mp_condition_notify_all(c), -EPERM);
    ck_rc(mp_condition_wait(c, 0), -EPERM);
    ck_rc(mp_condition_wait(c, 0.1), -EPERM);
    ck_rc(mp_condition_wait(c, MP_FOREVER), -EPERM);
    ck_rc(mp_condition_wait_for(c, never, NULL, 0.1), -EPERM);
    ck_rc(mp_condition_release(c), -EPERM);
    ck_rc(mp_condition_acquire(c, 0), 0);
    ck_assert_int_eq(run_thread(thread_notify, c), -EPERM);
    ck_assert_int_eq(run_thread(thread_notify_all, c), -EPERM);
    ck_assert_int_eq(run_thread(thread_wait, c), -EPERM);
    ck_rc(mp_condition_notify(c, 0), -EINVAL);
    ck_rc(mp_condition_notify(c, -1), -EINVAL);
    ck_rc(mp_condition_notify(c, INT_MIN), -EINVAL);
    ck_rc(mp_condition_wait(c, NAN), -EINVAL);
    ck_rc(mp_condition_wait_for(c, never, NULL, NAN), -EINVAL);
    ck_rc(mp_condition_wait_for(c, NULL, NULL, 0.1), -EINVAL);
    ck_rc(mp_condition_release(c), 0);
  }
  sy_close(shm);
}
END_TEST

/* ==== Event =============================================================== */

START_TEST(event_basics) {
  mp_event e;
  ck_rc(mp_event_init(&e), 0);
  ck_assert_ptr_null(mp_event_name(&e));
  ck_rc(mp_event_is_set(&e), 0);
  ck_rc(mp_event_wait(&e, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_event_wait(&e, 0.2), -ETIMEDOUT);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "took %.3f s", took);
  ck_rc(mp_event_set(&e), 0);
  ck_rc(mp_event_is_set(&e), 1);
  ck_rc(mp_event_set(&e), 0); /* idempotent */
  ck_rc(mp_event_is_set(&e), 1);
  t0 = t_now();
  ck_rc(mp_event_wait(&e, 0), 0);
  ck_rc(mp_event_wait(&e, 0.2), 0);
  ck_rc(mp_event_wait(&e, MP_FOREVER), 0);
  ck_rc(mp_event_wait(&e, 2 * MP_TIMEOUT_MAX), 0);
  ck_assert(t_now() - t0 < 0.5); /* none of those waited */
  ck_rc(mp_event_clear(&e), 0);
  ck_rc(mp_event_is_set(&e), 0);
  ck_rc(mp_event_clear(&e), 0);
  ck_rc(mp_event_wait(&e, 0), -EAGAIN);
  ck_rc(mp_event_wait(&e, 0.01), -ETIMEDOUT);
  ck_rc(mp_event_wait(&e, NAN), -EINVAL);
  ck_rc(mp_event_destroy(&e), 0);
  ck_rc(mp_event_destroy(&e), -EINVAL);
  ck_rc(mp_event_set(&e), -EINVAL);
}
END_TEST

static int pulse_waiter(void *arg) {
  struct who *w = arg;
  mp_event_wait(&w->s->ev, 0); /* warm up before announcing */
  atomic_store(&w->s->tid[w->i], my_tid());
  t_send(w->s->rep[1]);
  return mp_event_wait(&w->s->ev, 10.0) == 0 ? 0 : 1;
}

/* set() immediately followed by clear() releases waiters already asleep
 * (as in Python); waiters that come later block. */
START_TEST(event_pulse_releases_sleepers) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  for (int mode = 0; mode < 2; mode++) {
    bool thread = mode == 1;
    /* Under valgrind a thread waiting for its turn to run looks asleep
     * too: only a process is surely asleep in the wait. */
    if (thread && t_instrumented())
      continue;
    struct who w[3];
    struct party p[3];
    parties_start(p, w, 3, thread, pulse_waiter, s, 0, NULL);
    for (int i = 0; i < 3; i++)
      ck_assert(t_recv(s->rep[0]));
    for (int i = 0; i < 3; i++)
      await_asleep(atomic_load(&s->tid[i]));
    ck_rc(mp_event_set(&s->ev), 0);
    ck_rc(mp_event_clear(&s->ev), 0);
    parties_join(p, 3, thread, "waiter");
    ck_rc(mp_event_is_set(&s->ev), 0);
    ck_rc(mp_event_wait(&s->ev, 0.01), -ETIMEDOUT);
  }
  sy_close(shm);
}
END_TEST

static int event_setter(void *arg) {
  struct who *w = arg;
  if (!t_recv(w->s->go[0]))
    return 1;
  return mp_event_set(&w->s->ev) == 0 ? 0 : 2;
}

/* Set in one process, seen by waiters in several others and in threads. */
START_TEST(event_across_processes_and_threads) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  struct who w[4], ws = {s, 0, 0, NULL};
  struct party p[4], setter;
  party_start(&setter, false, event_setter, &ws);
  for (int i = 0; i < 4; i++) { /* processes first: fork before threads */
    w[i] = (struct who){s, i, 1, NULL};
    party_start(&p[i], i >= 2, event_waiter_rounds, &w[i]);
  }
  for (int i = 0; i < 4; i++)
    ck_assert(t_recv(s->rep[0]));
  t_send(s->go[1]);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(party_join(&p[i]), 0);
  ck_assert_int_eq(party_join(&setter), 0);
  ck_rc(mp_event_is_set(&s->ev), 1);
  sy_close(shm);
}
END_TEST

/* ==== Semaphore =========================================================== */

START_TEST(semaphore_value_and_timeouts) {
  mp_semaphore sem;
  ck_rc(mp_semaphore_init(&sem, 3, 0), 0);
  ck_assert_ptr_null(mp_semaphore_name(&sem));
  ck_rc(mp_semaphore_value(&sem), 3);
  ck_rc(mp_semaphore_acquire(&sem, 0), 0);
  ck_rc(mp_semaphore_acquire(&sem, 0.2), 0);
  ck_rc(mp_semaphore_acquire(&sem, MP_FOREVER), 0);
  ck_rc(mp_semaphore_value(&sem), 0);
  ck_rc(mp_semaphore_acquire(&sem, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_semaphore_acquire(&sem, 0.2), -ETIMEDOUT);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "took %.3f s", took);
  ck_rc(mp_semaphore_value(&sem), 0);
  ck_rc(mp_semaphore_release(&sem, 2), 0);
  ck_rc(mp_semaphore_value(&sem), 2);
  ck_rc(mp_semaphore_release(&sem, 5), 0); /* unbounded: above the start */
  ck_rc(mp_semaphore_value(&sem), 7);
  ck_rc(mp_semaphore_acquire(&sem, NAN), -EINVAL);
  ck_rc(mp_semaphore_value(&sem), 7);
  ck_rc(mp_semaphore_release(&sem, 0), -EINVAL);
  ck_rc(mp_semaphore_release(&sem, -1), -EINVAL);
  ck_rc(mp_semaphore_value(&sem), 7);
  ck_rc(mp_semaphore_destroy(&sem), 0);
  ck_rc(mp_semaphore_destroy(&sem), -EINVAL);
  ck_rc(mp_semaphore_value(&sem), -EINVAL);
  ck_rc(mp_semaphore_init(&sem, 0, 0), 0); /* Semaphore(0): none */
  ck_rc(mp_semaphore_acquire(&sem, 0), -EAGAIN);
  ck_rc(mp_semaphore_destroy(&sem), 0);
}
END_TEST

START_TEST(semaphore_bounded) {
  mp_semaphore sem;
  ck_rc(mp_semaphore_init(&sem, 2, MP_SEMAPHORE_BOUNDED), 0);
  ck_rc(mp_semaphore_release(&sem, 1), -ERANGE);
  ck_rc(mp_semaphore_value(&sem), 2);
  ck_rc(mp_semaphore_acquire(&sem, 0), 0);
  ck_rc(mp_semaphore_release(&sem, 2), -ERANGE);
  ck_rc(mp_semaphore_value(&sem), 1);
  ck_rc(mp_semaphore_release(&sem, 1), 0);
  ck_rc(mp_semaphore_value(&sem), 2);
  ck_rc(mp_semaphore_acquire(&sem, 0), 0);
  ck_rc(mp_semaphore_acquire(&sem, 0), 0);
  ck_rc(mp_semaphore_release(&sem, 2), 0);
  ck_rc(mp_semaphore_release(&sem, INT_MAX), -ERANGE);
  ck_rc(mp_semaphore_value(&sem), 2);
  ck_rc(mp_semaphore_destroy(&sem), 0);
  /* the largest value, bounded and not */
  ck_rc(mp_semaphore_init(&sem, MP_SEMAPHORE_MAX, MP_SEMAPHORE_BOUNDED), 0);
  ck_rc(mp_semaphore_release(&sem, 1), -ERANGE);
  ck_rc(mp_semaphore_value(&sem), MP_SEMAPHORE_MAX);
  ck_rc(mp_semaphore_destroy(&sem), 0);
  ck_rc(mp_semaphore_init(&sem, MP_SEMAPHORE_MAX, 0), 0);
  ck_rc(mp_semaphore_release(&sem, 1), -EOVERFLOW);
  ck_rc(mp_semaphore_value(&sem), MP_SEMAPHORE_MAX);
  ck_rc(mp_semaphore_acquire(&sem, 0), 0);
  ck_rc(mp_semaphore_release(&sem, 2), -EOVERFLOW);
  ck_rc(mp_semaphore_release(&sem, 1), 0);
  ck_rc(mp_semaphore_destroy(&sem), 0);
  ck_rc(mp_semaphore_init(&sem, 5, 0), 0);
  ck_rc(mp_semaphore_release(&sem, INT_MAX), -EOVERFLOW);
  ck_rc(mp_semaphore_value(&sem), 5);
  ck_rc(mp_semaphore_destroy(&sem), 0);
}
END_TEST

/* BoundedSemaphore(0) may never be released (Python: ValueError). */
START_TEST(semaphore_bounded_zero) {
  mp_semaphore sem, *sp;
  ck_rc(mp_semaphore_init(&sem, 0, MP_SEMAPHORE_BOUNDED), 0);
  int rc = mp_semaphore_release(&sem, 1);
  int value = mp_semaphore_value(&sem);
  ck_rc(mp_semaphore_destroy(&sem), 0);
  ck_rc(mp_semaphore_create(NULL, 0, MP_SEMAPHORE_BOUNDED, &sp), 0);
  int rc2 = mp_semaphore_release(sp, 3);
  ck_rc(mp_semaphore_destroy(sp), 0);
  ck_rc(rc, -ERANGE);
  ck_rc(value, 0);
  ck_rc(rc2, -ERANGE);
}
END_TEST

static int sem_sleeper(void *arg) {
  struct who *w = arg;
  mp_semaphore_acquire(&w->s->sem, 0); /* warm up before announcing */
  atomic_store(&w->s->tid[w->i], my_tid());
  t_send(w->s->go[1]);
  if (mp_semaphore_acquire(&w->s->sem, 10.0) != 0)
    return 1;
  t_send(w->s->rep[1]);
  return 0;
}

/* release(3) with four sleepers lets exactly three through. */
START_TEST(semaphore_release_n_wakes_n) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  for (int mode = 0; mode < 2; mode++) {
    bool thread = mode == 1;
    struct who w[4];
    struct party p[4];
    parties_start(p, w, 4, thread, sem_sleeper, s, 0, NULL);
    for (int i = 0; i < 4; i++)
      ck_assert(t_recv(s->go[0]));
    for (int i = 0; i < 4; i++)
      await_asleep(atomic_load(&s->tid[i]));
    ck_rc(mp_semaphore_release(&s->sem, 3), 0);
    for (int i = 0; i < 3; i++)
      ck_assert_msg(t_recv(s->rep[0]), "%s: %d of 3 woke", mode_name(thread),
                    i);
    ck_rc(mp_semaphore_value(&s->sem), 0);
    ck_assert(!pending(s->rep[0]));
    ck_rc(mp_semaphore_release(&s->sem, 1), 0);
    ck_assert(t_recv(s->rep[0]));
    parties_join(p, 4, thread, "worker");
    ck_rc(mp_semaphore_value(&s->sem), 0);
  }
  sy_close(shm);
}
END_TEST

/* A binary semaphore guards a counter: 2 processes x 2 threads. */
static void *sem_counter_thread(void *arg) {
  struct sy *s = arg;
  for (int i = 0; i < 5000; i++) {
    if (mp_semaphore_acquire(&s->sem, 10.0) != 0)
      return (void *)1;
    int v = s->items;
    s->items = v + 1;
    if (mp_semaphore_release(&s->sem, 1) != 0)
      return (void *)2;
  }
  return NULL;
}

static int sem_counter_process(void *arg) {
  pthread_t t[2];
  int bad = 0;
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, sem_counter_thread, arg))
      return 10;
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad |= r != NULL;
  }
  return bad;
}

START_TEST(semaphore_threads_and_processes) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  sem_reinit(&s->sem, 1, MP_SEMAPHORE_BOUNDED);
  pid_t p1 = t_fork(sem_counter_process, s);
  pid_t p2 = t_fork(sem_counter_process, s);
  ck_assert_int_eq(t_wait(p1), 0);
  ck_assert_int_eq(t_wait(p2), 0);
  ck_assert_int_eq(s->items, 4 * 5000);
  ck_rc(mp_semaphore_value(&s->sem), 1);
  sy_close(shm);
}
END_TEST

/* ==== Barrier ============================================================= */

static int expect_broken_twice(void *arg) {
  struct who *w = arg;
  if (mp_barrier_wait(&w->s->bar, 10.0, NULL) != MP_EBROKEN)
    return 1;
  if (mp_barrier_wait(&w->s->bar, 10.0, NULL) != MP_EBROKEN)
    return 2; /* still broken: later waiters too */
  t_send(w->s->rep[1]);
  if (!t_recv(w->s->go[0]))
    return 3;
  for (int c = 0; c < w->n; c++)
    if (mp_barrier_wait(&w->s->bar, 10.0, NULL) != 0)
      return 4;
  return 0;
}

START_TEST(barrier_abort_and_reset) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  bar_reinit(&s->bar, 3);
  struct who w = {s, 0, 3, NULL};
  pid_t pid[2] = {t_fork(expect_broken_twice, &w),
                  t_fork(expect_broken_twice, &w)};
  await_n_waiting(&s->bar, 2);
  ck_rc(mp_barrier_broken(&s->bar), 0);
  ck_rc(mp_barrier_abort(&s->bar), 0);
  ck_rc(mp_barrier_broken(&s->bar), 1);
  ck_assert(t_recv(s->rep[0]));
  ck_assert(t_recv(s->rep[0]));
  ck_rc(mp_barrier_wait(&s->bar, 10.0, NULL), MP_EBROKEN);
  ck_rc(mp_barrier_wait(&s->bar, 0, NULL), MP_EBROKEN);
  ck_rc(mp_barrier_n_waiting(&s->bar), 0);
  ck_rc(mp_barrier_abort(&s->bar), 0); /* aborting again: harmless */
  ck_rc(mp_barrier_reset(&s->bar), 0);
  ck_rc(mp_barrier_broken(&s->bar), 0);
  ck_rc(mp_barrier_parties(&s->bar), 3);
  t_send(s->go[1]);
  t_send(s->go[1]);
  for (int c = 0; c < 3; c++)
    ck_rc(mp_barrier_wait(&s->bar, 10.0, NULL), 0);
  ck_assert_int_eq(t_wait(pid[0]), 0);
  ck_assert_int_eq(t_wait(pid[1]), 0);
  sy_close(shm);
}
END_TEST

static int broken_then_cycles(void *arg) {
  struct who *w = arg;
  if (mp_barrier_wait(&w->s->bar, 10.0, NULL) != MP_EBROKEN)
    return 1;
  for (int c = 0; c < w->n; c++)
    if (mp_barrier_wait(&w->s->bar, 10.0, NULL) != 0)
      return 2;
  return 0;
}

/* reset with waiters: they get MP_EBROKEN, the barrier is whole again. */
START_TEST(barrier_reset_while_waiting) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  bar_reinit(&s->bar, 3);
  ck_rc(mp_barrier_reset(&s->bar), 0); /* empty: harmless */
  struct who w = {s, 0, 5, NULL};
  pid_t pid[2] = {t_fork(broken_then_cycles, &w),
                  t_fork(broken_then_cycles, &w)};
  await_n_waiting(&s->bar, 2);
  ck_rc(mp_barrier_reset(&s->bar), 0);
  ck_rc(mp_barrier_broken(&s->bar), 0);
  for (int c = 0; c < 5; c++)
    ck_rc(mp_barrier_wait(&s->bar, 10.0, NULL), 0);
  ck_assert_int_eq(t_wait(pid[0]), 0);
  ck_assert_int_eq(t_wait(pid[1]), 0);
  ck_rc(mp_barrier_broken(&s->bar), 0);
  sy_close(shm);
}
END_TEST

static int broken_once(void *arg) {
  struct who *w = arg;
  int rc = mp_barrier_wait(&w->s->bar, 10.0, NULL);
  if (rc != MP_EBROKEN)
    return 1;
  return mp_barrier_wait(&w->s->bar, 10.0, NULL) == MP_EBROKEN ? 0 : 2;
}

/* As in Python, one party's timeout breaks the barrier for everyone. */
START_TEST(barrier_timeout_breaks_it) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  bar_reinit(&s->bar, 3);
  struct who w = {s, 0, 0, NULL};
  pid_t pid = t_fork(broken_once, &w);
  await_n_waiting(&s->bar, 1);
  double t0 = t_now();
  ck_rc(mp_barrier_wait(&s->bar, 0.2, NULL), MP_EBROKEN);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "took %.3f s", took);
  ck_rc(mp_barrier_broken(&s->bar), 1);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_barrier_reset(&s->bar), 0);
  ck_rc(mp_barrier_broken(&s->bar), 0);
  sy_close(shm);
}
END_TEST

static int failing_action(void *ctx) {
  struct sy *s = ctx;
  atomic_fetch_add(&s->actions, 1);
  return -1;
}

static int failing_action_party(void *arg) {
  struct who *w = arg;
  int rc = mp_barrier_wait_action(&w->s->bar, 10.0, failing_action, w->s,
                                  NULL);
  return rc == MP_EBROKEN ? 0 : 1;
}

START_TEST(barrier_failing_action_breaks_it) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  struct who w = {s, 0, 0, NULL};
  pid_t pid = t_fork(failing_action_party, &w);
  ck_rc(mp_barrier_wait_action(&s->bar, 10.0, failing_action, s, NULL),
        MP_EBROKEN);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(atomic_load(&s->actions), 1); /* run once, by the last to arrive */
  ck_rc(mp_barrier_broken(&s->bar), 1);
  ck_rc(mp_barrier_wait(&s->bar, 10.0, NULL), MP_EBROKEN);
  ck_rc(mp_barrier_reset(&s->bar), 0);
  sy_close(shm);
}
END_TEST

static int cycler(void *arg) {
  struct who *w = arg;
  struct sy *s = w->s;
  for (int c = 0; c < w->n; c++) {
    unsigned idx = 99;
    if (mp_barrier_wait_action(&s->bar, 10.0, count_action, s, &idx) != 0)
      return 1;
    s->idx[c][w->i] = idx;
  }
  return 0;
}

/* 1000 cycles of two processes: every cycle ends with indices 0 and 1 and
 * one run of the action. */
START_TEST(barrier_many_cycles) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  struct who w[2] = {{s, 0, CYCLES_MAX, NULL}, {s, 1, CYCLES_MAX, NULL}};
  pid_t pid = t_fork(cycler, &w[1]);
  ck_assert_int_eq(cycler(&w[0]), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  for (int c = 0; c < CYCLES_MAX; c++)
    check_indices(s, c, 2);
  ck_rc(atomic_load(&s->actions), CYCLES_MAX);
  ck_rc(mp_barrier_n_waiting(&s->bar), 0);
  ck_rc(mp_barrier_broken(&s->bar), 0);
  sy_close(shm);
}
END_TEST

/* Two threads in each of two processes: Barrier(4) for 200 cycles. */
static void *cycler_thread(void *arg) {
  return (void *)(intptr_t)cycler(arg);
}

static int cycler_two_threads(void *arg) { /* no ck_assert in a child */
  struct who *w = arg;
  struct who tw[2] = {{w->s, w->i, w->n, NULL}, {w->s, w->i + 1, w->n, NULL}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, cycler_thread, &tw[i]))
      return 10;
  int bad = 0;
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad |= r != NULL;
  }
  return bad;
}

START_TEST(barrier_threads_and_processes) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  bar_reinit(&s->bar, 4);
  struct who w[2] = {{s, 0, 200, NULL}, {s, 2, 200, NULL}};
  pid_t p1 = t_fork(cycler_two_threads, &w[0]);
  pid_t p2 = t_fork(cycler_two_threads, &w[1]);
  ck_assert_int_eq(t_wait(p1), 0);
  ck_assert_int_eq(t_wait(p2), 0);
  for (int c = 0; c < 200; c++)
    check_indices(s, c, 4);
  ck_rc(atomic_load(&s->actions), 200);
  sy_close(shm);
}
END_TEST

START_TEST(barrier_basics) {
  mp_barrier b;
  ck_rc(mp_barrier_init(&b, 1), 0);
  ck_assert_ptr_null(mp_barrier_name(&b));
  ck_rc(mp_barrier_parties(&b), 1);
  int actions = 0;
  for (int i = 0; i < 3; i++) { /* Barrier(1): never waits */
    unsigned idx = 99;
    ck_rc(mp_barrier_wait(&b, MP_FOREVER, &idx), 0);
    ck_assert_uint_eq(idx, 0);
    ck_rc(mp_barrier_wait(&b, 0, NULL), 0);
  }
  struct sy fake; /* count_action only touches .actions */
  atomic_store(&fake.actions, 0);
  ck_rc(mp_barrier_wait_action(&b, 1.0, count_action, &fake, NULL), 0);
  ck_rc(mp_barrier_wait_action(&b, 1.0, count_action, &fake, NULL), 0);
  actions = atomic_load(&fake.actions);
  ck_assert_int_eq(actions, 2);
  ck_rc(mp_barrier_wait(&b, NAN, NULL), -EINVAL);
  ck_rc(mp_barrier_n_waiting(&b), 0);
  ck_rc(mp_barrier_broken(&b), 0);
  ck_rc(mp_barrier_destroy(&b), 0);
  ck_rc(mp_barrier_destroy(&b), -EINVAL);
  ck_rc(mp_barrier_init(&b, 0), -EINVAL);
  ck_rc(mp_barrier_wait(&b, 0, NULL), -EINVAL); /* the failed init left it */
  ck_rc(mp_barrier_init(&b, 5), 0);
  ck_rc(mp_barrier_parties(&b), 5);
  ck_rc(mp_barrier_destroy(&b), 0);
}
END_TEST

/* ==== standalone objects ================================================== */

static void check_generated_name(const char *name) {
  ck_assert_ptr_nonnull(name);
  ck_assert_int_eq(strncmp(name, "/mproc-", 7), 0);
  ck_assert(t_shm_exists(name));
}

struct opener {
  const char *name;
  int fds[2];
};

/* A forked child opens the Event by name, sets it, closes (twice). */
static int child_open_event(void *arg) {
  struct opener *o = arg;
  mp_event *e;
  if (mp_event_open(o->name, &e) != 0)
    return 1;
  if (mp_event_set(e) != 0)
    return 2;
  if (mp_event_close(e) != 0)
    return 3;
  return mp_event_close(e) == -EINVAL ? 0 : 4;
}

START_TEST(standalone_event) {
  mp_event *e, *again;
  ck_rc(mp_event_create(NULL, &e), 0);
  const char *name = mp_event_name(e);
  check_generated_name(name);
  struct opener o = {name, {-1, -1}};
  pid_t pid = t_fork(child_open_event, &o);
  ck_rc(mp_event_wait(e, 10.0), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_event_open(name, &again), 0);
  ck_rc(mp_event_is_set(again), 1);
  ck_rc(mp_event_clear(again), 0);
  ck_rc(mp_event_is_set(e), 0);
  ck_assert_str_eq(mp_event_name(again), name);
  ck_rc(mp_event_close(again), 0);
  ck_rc(mp_event_close(again), -EINVAL);
  char copy[MP_NAME_MAX + 1];
  snprintf(copy, sizeof copy, "%s", name);
  ck_rc(mp_event_destroy(e), 0);
  ck_assert(!t_shm_exists(copy));
  ck_rc(mp_event_open(copy, &again), -ENOENT);
}
END_TEST

static int child_open_semaphore(void *arg) {
  struct opener *o = arg;
  mp_semaphore *sem;
  if (mp_semaphore_open(o->name, &sem) != 0)
    return 1;
  if (mp_semaphore_value(sem) != 2)
    return 2;
  if (mp_semaphore_release(sem, 1) != -ERANGE)
    return 3; /* bounded: the flag is in the object */
  if (mp_semaphore_acquire(sem, 10.0) != 0)
    return 4;
  t_send(o->fds[1]);
  if (mp_semaphore_close(sem) != 0)
    return 5;
  return mp_semaphore_close(sem) == -EINVAL ? 0 : 6;
}

START_TEST(standalone_semaphore) {
  mp_semaphore *sem, *again;
  ck_rc(mp_semaphore_create(NULL, 2, MP_SEMAPHORE_BOUNDED, &sem), 0);
  const char *name = mp_semaphore_name(sem);
  check_generated_name(name);
  struct opener o = {name, {-1, -1}};
  t_pipe(o.fds);
  pid_t pid = t_fork(child_open_semaphore, &o);
  ck_assert(t_recv(o.fds[0]));
  ck_rc(mp_semaphore_value(sem), 1);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_semaphore_open(name, &again), 0);
  ck_rc(mp_semaphore_release(again, 1), 0);
  ck_rc(mp_semaphore_value(sem), 2);
  ck_rc(mp_semaphore_close(again), 0);
  ck_rc(mp_semaphore_close(again), -EINVAL);
  char copy[MP_NAME_MAX + 1];
  snprintf(copy, sizeof copy, "%s", name);
  ck_rc(mp_semaphore_destroy(sem), 0);
  ck_assert(!t_shm_exists(copy));
  ck_rc(mp_semaphore_open(copy, &again), -ENOENT);
  close(o.fds[0]);
  close(o.fds[1]);
}
END_TEST

/* The child opens the Condition, waits for the parent's notify. */
static int child_open_condition(void *arg) {
  struct opener *o = arg;
  mp_condition *c;
  if (mp_condition_open(o->name, &c) != 0)
    return 1;
  if (mp_condition_acquire(c, 10.0) != 0)
    return 2;
  t_send(o->fds[1]); /* lock held: the parent waits for it */
  if (mp_condition_wait(c, 10.0) != 0)
    return 3;
  if (mp_condition_release(c) != 0)
    return 4;
  if (mp_condition_close(c) != 0)
    return 5;
  return mp_condition_close(c) == -EINVAL ? 0 : 6;
}

START_TEST(standalone_condition) {
  mp_condition *c, *again;
  ck_rc(mp_condition_create(NULL, &c), 0);
  const char *name = mp_condition_name(c);
  check_generated_name(name);
  struct opener o = {name, {-1, -1}};
  t_pipe(o.fds);
  pid_t pid = t_fork(child_open_condition, &o);
  ck_assert(t_recv(o.fds[0]));
  ck_rc(mp_condition_acquire(c, 10.0), 0); /* the child is in wait */
  ck_rc(mp_condition_notify_all(c), 0);
  ck_rc(mp_condition_release(c), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_condition_open(name, &again), 0);
  ck_rc(mp_condition_acquire(again, 0), 0);
  ck_rc(mp_condition_acquire(c, 0), 0); /* same RLock, other mapping */
  ck_rc(mp_condition_release(c), 0);
  ck_rc(mp_condition_release(again), 0);
  ck_rc(mp_condition_close(again), 0);
  ck_rc(mp_condition_close(again), -EINVAL);
  char copy[MP_NAME_MAX + 1];
  snprintf(copy, sizeof copy, "%s", name);
  ck_rc(mp_condition_destroy(c), 0);
  ck_assert(!t_shm_exists(copy));
  ck_rc(mp_condition_open(copy, &again), -ENOENT);
  close(o.fds[0]);
  close(o.fds[1]);
}
END_TEST

static int child_open_barrier(void *arg) {
  struct opener *o = arg;
  mp_barrier *b;
  unsigned idx = 99;
  if (mp_barrier_open(o->name, &b) != 0)
    return 1;
  if (mp_barrier_parties(b) != 2)
    return 2;
  for (int c = 0; c < 10; c++)
    if (mp_barrier_wait(b, 10.0, &idx) != 0 || idx > 1)
      return 3;
  if (mp_barrier_close(b) != 0)
    return 4;
  return mp_barrier_close(b) == -EINVAL ? 0 : 5;
}

START_TEST(standalone_barrier) {
  mp_barrier *b, *again;
  ck_rc(mp_barrier_create(NULL, 2, &b), 0);
  const char *name = mp_barrier_name(b);
  check_generated_name(name);
  struct opener o = {name, {-1, -1}};
  pid_t pid = t_fork(child_open_barrier, &o);
  for (int c = 0; c < 10; c++)
    ck_rc(mp_barrier_wait(b, 10.0, NULL), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_barrier_open(name, &again), 0);
  ck_rc(mp_barrier_parties(again), 2);
  ck_rc(mp_barrier_abort(again), 0);
  ck_rc(mp_barrier_broken(b), 1);
  ck_rc(mp_barrier_close(again), 0);
  ck_rc(mp_barrier_close(again), -EINVAL);
  char copy[MP_NAME_MAX + 1];
  snprintf(copy, sizeof copy, "%s", name);
  ck_rc(mp_barrier_destroy(b), 0);
  ck_assert(!t_shm_exists(copy));
  ck_rc(mp_barrier_open(copy, &again), -ENOENT);
}
END_TEST

/* Named objects: -EEXIST for a taken name; MP_EKIND when a name is opened
 * as another kind. */
START_TEST(standalone_named_and_kinds) {
  char ne[64], ns[64], nc[64], nb[64], nl[64];
  int pid = (int)getpid();
  snprintf(ne, sizeof ne, "/mproc-test-sync-%d-event", pid);
  snprintf(ns, sizeof ns, "/mproc-test-sync-%d-sem", pid);
  snprintf(nc, sizeof nc, "/mproc-test-sync-%d-cond", pid);
  snprintf(nb, sizeof nb, "/mproc-test-sync-%d-barrier", pid);
  snprintf(nl, sizeof nl, "/mproc-test-sync-%d-lock", pid);
  mp_event *e, *e2;
  mp_semaphore *s, *s2;
  mp_condition *c, *c2;
  mp_barrier *b, *b2;
  mp_lock *l, *l2;
  ck_rc(mp_event_create(ne, &e), 0);
  ck_rc(mp_semaphore_create(ns, 1, 0, &s), 0);
  ck_rc(mp_condition_create(nc, &c), 0);
  ck_rc(mp_barrier_create(nb, 3, &b), 0);
  ck_rc(mp_lock_create(nl, &l), 0);
  ck_assert_str_eq(mp_event_name(e), ne);
  ck_assert_str_eq(mp_semaphore_name(s), ns);
  ck_assert_str_eq(mp_condition_name(c), nc);
  ck_assert_str_eq(mp_barrier_name(b), nb);
  ck_rc(mp_event_create(ne, &e2), -EEXIST);
  ck_rc(mp_semaphore_create(ns, 1, 0, &s2), -EEXIST);
  ck_rc(mp_condition_create(nc, &c2), -EEXIST);
  ck_rc(mp_barrier_create(nb, 3, &b2), -EEXIST);
  ck_rc(mp_event_create(ns, &e2), -EEXIST); /* whatever kind holds it */
  ck_rc(mp_event_create("bad", &e2), -EINVAL);
  ck_rc(mp_semaphore_create("bad", 1, 0, &s2), -EINVAL);
  ck_rc(mp_condition_create("bad", &c2), -EINVAL);
  ck_rc(mp_barrier_create("bad", 1, &b2), -EINVAL);
  ck_rc(mp_event_open("bad", &e2), -EINVAL);

  ck_rc(mp_event_open(ns, &e2), MP_EKIND);
  ck_rc(mp_event_open(nc, &e2), MP_EKIND);
  ck_rc(mp_event_open(nb, &e2), MP_EKIND);
  ck_rc(mp_event_open(nl, &e2), MP_EKIND);
  ck_rc(mp_semaphore_open(ne, &s2), MP_EKIND);
  ck_rc(mp_semaphore_open(nc, &s2), MP_EKIND);
  ck_rc(mp_semaphore_open(nb, &s2), MP_EKIND);
  ck_rc(mp_semaphore_open(nl, &s2), MP_EKIND);
  ck_rc(mp_condition_open(ne, &c2), MP_EKIND);
  ck_rc(mp_condition_open(ns, &c2), MP_EKIND);
  ck_rc(mp_condition_open(nb, &c2), MP_EKIND);
  ck_rc(mp_condition_open(nl, &c2), MP_EKIND);
  ck_rc(mp_barrier_open(ne, &b2), MP_EKIND);
  ck_rc(mp_barrier_open(ns, &b2), MP_EKIND);
  ck_rc(mp_barrier_open(nc, &b2), MP_EKIND);
  ck_rc(mp_barrier_open(nl, &b2), MP_EKIND);
  ck_rc(mp_lock_open(ne, &l2), MP_EKIND);
  ck_rc(mp_lock_open(nc, &l2), MP_EKIND);
  mp_rlock *r2;
  ck_rc(mp_rlock_open(nc, &r2), MP_EKIND); /* not the Condition's RLock */

  ck_rc(mp_event_destroy(e), 0);
  ck_rc(mp_semaphore_destroy(s), 0);
  ck_rc(mp_condition_destroy(c), 0);
  ck_rc(mp_barrier_destroy(b), 0);
  ck_rc(mp_lock_destroy(l), 0);
  ck_assert(!t_shm_exists(ne) && !t_shm_exists(ns) && !t_shm_exists(nc) &&
            !t_shm_exists(nb) && !t_shm_exists(nl));
  ck_rc(mp_event_open(ne, &e2), -ENOENT);
  ck_rc(mp_semaphore_open(ns, &s2), -ENOENT);
  ck_rc(mp_condition_open(nc, &c2), -ENOENT);
  ck_rc(mp_barrier_open(nb, &b2), -ENOENT);
}
END_TEST

/* Embedded objects: no name, close refused, a second destroy refused. */
START_TEST(embedded_lifecycle) {
  mp_shm *shm;
  struct sy *s = sy_open(&shm);
  ck_assert_ptr_null(mp_event_name(&s->ev));
  ck_assert_ptr_null(mp_semaphore_name(&s->sem));
  ck_assert_ptr_null(mp_condition_name(&s->cond));
  ck_assert_ptr_null(mp_condition_name(&s->cond_l));
  ck_assert_ptr_null(mp_barrier_name(&s->bar));
  ck_rc(mp_event_close(&s->ev), -EINVAL);
  ck_rc(mp_semaphore_close(&s->sem), -EINVAL);
  ck_rc(mp_condition_close(&s->cond), -EINVAL);
  ck_rc(mp_barrier_close(&s->bar), -EINVAL);
  mp_event e;
  mp_semaphore sem;
  mp_condition c;
  mp_barrier b;
  ck_rc(mp_event_init(&e), 0);
  ck_rc(mp_semaphore_init(&sem, 1, 0), 0);
  ck_rc(mp_condition_init(&c), 0);
  ck_rc(mp_barrier_init(&b, 2), 0);
  ck_rc(mp_event_destroy(&e), 0);
  ck_rc(mp_semaphore_destroy(&sem), 0);
  ck_rc(mp_condition_destroy(&c), 0);
  ck_rc(mp_barrier_destroy(&b), 0);
  ck_rc(mp_event_destroy(&e), -EINVAL);
  ck_rc(mp_semaphore_destroy(&sem), -EINVAL);
  ck_rc(mp_condition_destroy(&c), -EINVAL);
  ck_rc(mp_barrier_destroy(&b), -EINVAL);
  ck_rc(mp_event_wait(&e, 0), -EINVAL); /* destroyed: no longer usable */
  ck_rc(mp_semaphore_acquire(&sem, 0), -EINVAL);
  ck_rc(mp_condition_acquire(&c, 0), -EINVAL);
  ck_rc(mp_barrier_wait(&b, 0, NULL), -EINVAL);
  /* A Condition bound to a lock leaves the lock alone when destroyed. */
  mp_lock l;
  ck_rc(mp_lock_init(&l), 0);
  ck_rc(mp_condition_init_lock(&c, &l), 0);
  ck_rc(mp_condition_destroy(&c), 0);
  ck_rc(mp_lock_acquire(&l, 0), 0);
  ck_rc(mp_lock_release(&l), 0);
  ck_rc(mp_lock_destroy(&l), 0);
  sy_close(shm);
}
END_TEST

/* ==== bad input =========================================================== */

START_TEST(bad_input_null) {
  mp_event *e = NULL;
  mp_semaphore *s = NULL;
  mp_condition *c = NULL;
  mp_barrier *b = NULL;
  unsigned idx;

  ck_rc(mp_event_create(NULL, NULL), -EINVAL);
  ck_rc(mp_event_open(NULL, &e), -EINVAL);
  ck_rc(mp_event_open("/mproc-x", NULL), -EINVAL);
  ck_rc(mp_event_init(NULL), -EINVAL);
  ck_rc(mp_event_set(NULL), -EINVAL);
  ck_rc(mp_event_clear(NULL), -EINVAL);
  ck_rc(mp_event_is_set(NULL), -EINVAL);
  ck_rc(mp_event_wait(NULL, 0), -EINVAL);
  ck_rc(mp_event_wait(NULL, 1.0), -EINVAL);
  ck_assert_ptr_null(mp_event_name(NULL));
  ck_rc(mp_event_close(NULL), 0);
  ck_rc(mp_event_destroy(NULL), 0);

  ck_rc(mp_semaphore_create(NULL, 1, 0, NULL), -EINVAL);
  ck_rc(mp_semaphore_open(NULL, &s), -EINVAL);
  ck_rc(mp_semaphore_open("/mproc-x", NULL), -EINVAL);
  ck_rc(mp_semaphore_init(NULL, 1, 0), -EINVAL);
  ck_rc(mp_semaphore_acquire(NULL, 0), -EINVAL);
  ck_rc(mp_semaphore_acquire(NULL, 1.0), -EINVAL);
  ck_rc(mp_semaphore_release(NULL, 1), -EINVAL);
  ck_rc(mp_semaphore_value(NULL), -EINVAL);
  ck_assert_ptr_null(mp_semaphore_name(NULL));
  ck_rc(mp_semaphore_close(NULL), 0);
  ck_rc(mp_semaphore_destroy(NULL), 0);

  ck_rc(mp_condition_create(NULL, NULL), -EINVAL);
  ck_rc(mp_condition_open(NULL, &c), -EINVAL);
  ck_rc(mp_condition_open("/mproc-x", NULL), -EINVAL);
  ck_rc(mp_condition_init(NULL), -EINVAL);
  mp_condition cond;
  mp_lock lock;
  mp_rlock rlock;
  ck_rc(mp_condition_init_lock(NULL, &lock), -EINVAL);
  ck_rc(mp_condition_init_lock(&cond, NULL), -EINVAL);
  ck_rc(mp_condition_init_rlock(NULL, &rlock), -EINVAL);
  ck_rc(mp_condition_init_rlock(&cond, NULL), -EINVAL);
  ck_rc(mp_condition_acquire(NULL, 0), -EINVAL);
  ck_rc(mp_condition_release(NULL), -EINVAL);
  ck_rc(mp_condition_wait(NULL, 0), -EINVAL);
  ck_rc(mp_condition_wait(NULL, 1.0), -EINVAL);
  ck_rc(mp_condition_wait_for(NULL, never, NULL, 1.0), -EINVAL);
  ck_rc(mp_condition_notify(NULL, 1), -EINVAL);
  ck_rc(mp_condition_notify_all(NULL), -EINVAL);
  ck_assert_ptr_null(mp_condition_name(NULL));
  ck_rc(mp_condition_close(NULL), 0);
  ck_rc(mp_condition_destroy(NULL), 0);

  ck_rc(mp_barrier_create(NULL, 2, NULL), -EINVAL);
  ck_rc(mp_barrier_open(NULL, &b), -EINVAL);
  ck_rc(mp_barrier_open("/mproc-x", NULL), -EINVAL);
  ck_rc(mp_barrier_init(NULL, 2), -EINVAL);
  ck_rc(mp_barrier_wait(NULL, 0, &idx), -EINVAL);
  ck_rc(mp_barrier_wait(NULL, 1.0, NULL), -EINVAL);
  ck_rc(mp_barrier_wait_action(NULL, 1.0, count_action, NULL, NULL), -EINVAL);
  ck_rc(mp_barrier_abort(NULL), -EINVAL);
  ck_rc(mp_barrier_reset(NULL), -EINVAL);
  ck_rc(mp_barrier_parties(NULL), -EINVAL);
  ck_rc(mp_barrier_n_waiting(NULL), -EINVAL);
  ck_rc(mp_barrier_broken(NULL), -EINVAL);
  ck_assert_ptr_null(mp_barrier_name(NULL));
  ck_rc(mp_barrier_close(NULL), 0);
  ck_rc(mp_barrier_destroy(NULL), 0);
}
END_TEST

START_TEST(bad_input_values) {
  mp_semaphore *sp;
  mp_semaphore sem;
  ck_rc(mp_semaphore_create(NULL, -1, 0, &sp), -EINVAL);
  ck_rc(mp_semaphore_create(NULL, INT_MIN, 0, &sp), -EINVAL);
  ck_rc(mp_semaphore_create(NULL, 1, 2, &sp), -EINVAL);
  ck_rc(mp_semaphore_create(NULL, 1, ~0u, &sp), -EINVAL);
  ck_rc(mp_semaphore_init(&sem, -1, 0), -EINVAL);
  ck_rc(mp_semaphore_init(&sem, 1, MP_SEMAPHORE_BOUNDED | 4u), -EINVAL);
  ck_rc(mp_semaphore_init(&sem, 0, 0), 0);
  ck_rc(mp_semaphore_release(&sem, 0), -EINVAL);
  ck_rc(mp_semaphore_release(&sem, INT_MIN), -EINVAL);
  ck_rc(mp_semaphore_value(&sem), 0);
  ck_rc(mp_semaphore_acquire(&sem, NAN), -EINVAL);
  ck_rc(mp_semaphore_destroy(&sem), 0);

  mp_barrier *bp;
  mp_barrier bar;
  ck_rc(mp_barrier_create(NULL, 0, &bp), -EINVAL);
  ck_rc(mp_barrier_init(&bar, 0), -EINVAL);
  ck_rc(mp_barrier_init(&bar, 2), 0);
  ck_rc(mp_barrier_wait(&bar, NAN, NULL), -EINVAL);
  ck_rc(mp_barrier_wait_action(&bar, NAN, count_action, NULL, NULL), -EINVAL);
  ck_rc(mp_barrier_n_waiting(&bar), 0); /* the NaN calls never arrived */
  ck_rc(mp_barrier_broken(&bar), 0);
  ck_rc(mp_barrier_destroy(&bar), 0);

  mp_event ev;
  ck_rc(mp_event_init(&ev), 0);
  ck_rc(mp_event_wait(&ev, NAN), -EINVAL);
  ck_rc(mp_event_set(&ev), 0);
  ck_rc(mp_event_wait(&ev, NAN), -EINVAL); /* NaN refused even when set */
  ck_rc(mp_event_destroy(&ev), 0);

  mp_condition cond;
  ck_rc(mp_condition_init(&cond), 0);
  ck_rc(mp_condition_acquire(&cond, NAN), -EINVAL);
  ck_rc(mp_condition_release(&cond), -EPERM); /* the NaN call took nothing */
  ck_rc(mp_condition_wait(&cond, NAN), -EINVAL);
  ck_rc(mp_condition_destroy(&cond), 0);
  /* bound to a lock that was never initialised */
  mp_lock zl;
  mp_rlock zr;
  memset(&zl, 0, sizeof zl);
  memset(&zr, 0, sizeof zr);
  ck_rc(mp_condition_init_lock(&cond, &zl), -EINVAL);
  ck_rc(mp_condition_init_rlock(&cond, &zr), -EINVAL);
}
END_TEST

/* Zeroed memory is refused by every call, never used. */
START_TEST(bad_input_zeroed_memory) {
  union {
    mp_event e;
    mp_semaphore s;
    mp_condition c;
    mp_barrier b;
  } z;
  memset(&z, 0, sizeof z);
  unsigned idx;
  ck_rc(mp_event_set(&z.e), -EINVAL);
  ck_rc(mp_event_clear(&z.e), -EINVAL);
  ck_rc(mp_event_is_set(&z.e), -EINVAL);
  ck_rc(mp_event_wait(&z.e, 0), -EINVAL);
  ck_rc(mp_event_wait(&z.e, 0.1), -EINVAL);
  ck_assert_ptr_null(mp_event_name(&z.e));
  ck_rc(mp_event_close(&z.e), -EINVAL);
  ck_rc(mp_event_destroy(&z.e), -EINVAL);
  ck_rc(mp_semaphore_acquire(&z.s, 0), -EINVAL);
  ck_rc(mp_semaphore_acquire(&z.s, 0.1), -EINVAL);
  ck_rc(mp_semaphore_release(&z.s, 1), -EINVAL);
  ck_rc(mp_semaphore_value(&z.s), -EINVAL);
  ck_assert_ptr_null(mp_semaphore_name(&z.s));
  ck_rc(mp_semaphore_close(&z.s), -EINVAL);
  ck_rc(mp_semaphore_destroy(&z.s), -EINVAL);
  ck_rc(mp_condition_acquire(&z.c, 0), -EINVAL);
  ck_rc(mp_condition_release(&z.c), -EINVAL);
  ck_rc(mp_condition_wait(&z.c, 0.1), -EINVAL);
  ck_rc(mp_condition_wait_for(&z.c, never, NULL, 0.1), -EINVAL);
  ck_rc(mp_condition_notify(&z.c, 1), -EINVAL);
  ck_rc(mp_condition_notify_all(&z.c), -EINVAL);
  ck_assert_ptr_null(mp_condition_name(&z.c));
  ck_rc(mp_condition_close(&z.c), -EINVAL);
  ck_rc(mp_condition_destroy(&z.c), -EINVAL);
  ck_rc(mp_barrier_wait(&z.b, 0.1, &idx), -EINVAL);
  ck_rc(mp_barrier_wait_action(&z.b, 0.1, count_action, NULL, NULL), -EINVAL);
  ck_rc(mp_barrier_abort(&z.b), -EINVAL);
  ck_rc(mp_barrier_reset(&z.b), -EINVAL);
  ck_rc(mp_barrier_parties(&z.b), -EINVAL);
  ck_rc(mp_barrier_n_waiting(&z.b), -EINVAL);
  ck_rc(mp_barrier_broken(&z.b), -EINVAL);
  ck_assert_ptr_null(mp_barrier_name(&z.b));
  ck_rc(mp_barrier_close(&z.b), -EINVAL);
  ck_rc(mp_barrier_destroy(&z.b), -EINVAL);
  /* An object of one kind is not another kind. */
  ck_rc(mp_event_init(&z.e), 0);
  ck_rc(mp_semaphore_value(&z.s), -EINVAL);
  ck_rc(mp_condition_notify_all(&z.c), -EINVAL);
  ck_rc(mp_barrier_parties(&z.b), -EINVAL);
  ck_rc(mp_lock_acquire((mp_lock *)(void *)&z, 0), -EINVAL);
  ck_rc(mp_event_destroy(&z.e), 0);
  ck_rc(mp_semaphore_init(&z.s, 1, 0), 0);
  ck_rc(mp_event_set(&z.e), -EINVAL);
  ck_rc(mp_semaphore_destroy(&z.s), 0);
}
END_TEST

Suite *sync_suite(void) {
  Suite *s = suite_create("sync");
  TCase *tc = tcase_create("seeds");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, seed_condition_five_waiters_notify_all);
  tcase_add_test(tc, seed_event_waiters);
  tcase_add_test(tc, seed_semaphore_hello_world);
  tcase_add_test(tc, seed_semaphore_zero_one_by_one);
  tcase_add_test(tc, seed_barrier_seven_runners);
  suite_add_tcase(s, tc);
  tc = tcase_create("condition");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, condition_wait_restores_rlock_depth);
  tcase_add_test(tc, condition_wait_releases_lock);
  tcase_add_test(tc, condition_wait_timeout);
  tcase_add_test(tc, condition_wait_for);
  tcase_add_test(tc, condition_notify_n);
  tcase_add_test(tc, condition_lock_kinds);
  tcase_add_test(tc, condition_needs_the_lock);
  tcase_add_test(tc, condition_lock_in_other_mapping);
  suite_add_tcase(s, tc);
  tc = tcase_create("event");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, event_basics);
  tcase_add_test(tc, event_pulse_releases_sleepers);
  tcase_add_test(tc, event_across_processes_and_threads);
  suite_add_tcase(s, tc);
  tc = tcase_create("semaphore");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, semaphore_value_and_timeouts);
  tcase_add_test(tc, semaphore_bounded);
  tcase_add_test(tc, semaphore_bounded_zero);
  tcase_add_test(tc, semaphore_release_n_wakes_n);
  tcase_add_test(tc, semaphore_threads_and_processes);
  suite_add_tcase(s, tc);
  tc = tcase_create("barrier");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, barrier_basics);
  tcase_add_test(tc, barrier_abort_and_reset);
  tcase_add_test(tc, barrier_reset_while_waiting);
  tcase_add_test(tc, barrier_timeout_breaks_it);
  tcase_add_test(tc, barrier_failing_action_breaks_it);
  tcase_add_test(tc, barrier_many_cycles);
  tcase_add_test(tc, barrier_threads_and_processes);
  suite_add_tcase(s, tc);
  tc = tcase_create("standalone");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, standalone_event);
  tcase_add_test(tc, standalone_semaphore);
  tcase_add_test(tc, standalone_condition);
  tcase_add_test(tc, standalone_barrier);
  tcase_add_test(tc, standalone_named_and_kinds);
  tcase_add_test(tc, embedded_lifecycle);
  suite_add_tcase(s, tc);
  tc = tcase_create("bad_input");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, bad_input_null);
  tcase_add_test(tc, bad_input_values);
  tcase_add_test(tc, bad_input_zeroed_memory);
  suite_add_tcase(s, tc);
  return s;
}
