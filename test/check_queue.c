/*
 * test/check_queue.c - Queue, JoinableQueue, LifoQueue and PriorityQueue:
 * the seed examples (producer/consumer, join until task_done, Queue(5),
 * PriorityQueue and LifoQueue, the threaded website checker), exactly-once
 * delivery under load, processes killed at random moments, shutdown,
 * joinable rules, message sizes, opening by name (fork and spawn), threads
 * with processes, bad input. Most tests run once per kind: _i indexes
 * kinds[]. Children report through their exit status (a ck_assert in a
 * forked child is lost), and every child is reaped. QUEUE_TEST_TIMES=1 in
 * the environment prints the load tests' times and what the random kills
 * hit.
 */
#include "tests.h"

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const mp_queue_kind kinds[] = {MP_QUEUE_FIFO, MP_QUEUE_LIFO,
                                      MP_QUEUE_PRIORITY};
static const char *const kind_names[] = {"FIFO", "LIFO", "PRIORITY"};
#define NKINDS 3

/* ---- helpers ------------------------------------------------------------- */

static mp_queue *make(mp_queue_kind kind, size_t capacity, size_t maxsize,
                      int joinable) {
  mp_queue_options o = {.capacity = capacity,
                        .maxsize = maxsize,
                        .kind = kind,
                        .joinable = joinable};
  mp_queue *q = NULL;
  ck_rc(mp_queue_create(NULL, &o, &q), 0);
  ck_assert_ptr_nonnull(q);
  return q;
}

static int put_long(mp_queue *q, long v, double timeout) {
  return mp_queue_put(q, &v, sizeof v, timeout);
}

/* Get a long: 0, the queue's error, or -EBADMSG for a wrong length. */
static int get_long(mp_queue *q, long *v, double timeout) {
  size_t len = 0;
  int rc = mp_queue_get(q, v, sizeof *v, &len, timeout);
  return rc == 0 && len != sizeof *v ? -EBADMSG : rc;
}

/* The i-th of n values put (in that order, all with priority 0) as the
 * queue gives them back: FIFO and PRIORITY (ties in put order) keep the
 * order, LIFO reverses it. */
static long nth_out(mp_queue_kind kind, const long *put, int n, int i) {
  return kind == MP_QUEUE_LIFO ? put[n - 1 - i] : put[i];
}

/* Time limits stretch under valgrind, counts shrink (also under TSan,
 * which makes the load tests 10 times slower). */
static double slow(void) { return t_instrumented() ? 5.0 : 1.0; }

#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif
#ifndef T_TSAN
#define T_TSAN 0
#endif

/* n, or a fraction of it under valgrind or TSan. */
static uint32_t scaled(uint32_t n, uint32_t valgrind_div) {
  return t_instrumented() ? n / valgrind_div : T_TSAN ? n / 4 : n;
}

/* A call that must fail or succeed "at once" or after a timeout. */
#define ck_took(t0, lo, hi)                                                    \
  do {                                                                         \
    double took_ = t_now() - (t0);                                             \
    ck_assert_msg(took_ >= (lo) && took_ < (hi)*slow(),                        \
                  "took %.3f s, not in %s (x %g)", took_, #lo ".." #hi,        \
                  slow());                                                     \
  } while (0)

/* Byte i of test message `seed`. */
static unsigned char pattern(size_t i, unsigned seed) {
  return (unsigned char)((i * 2654435761u) >> 13 ^ seed ^ (seed >> 8));
}

static void fill(void *buf, size_t len, unsigned seed) {
  unsigned char *b = buf;
  for (size_t i = 0; i < len; i++)
    b[i] = pattern(i, seed);
}

static bool intact(const void *buf, size_t len, unsigned seed) {
  const unsigned char *b = buf;
  for (size_t i = 0; i < len; i++)
    if (b[i] != pattern(i, seed))
      return false;
  return true;
}

static void *shared(size_t size, mp_shm **shm) {
  ck_rc(mp_shm_create(NULL, size, shm), 0);
  return mp_shm_buf(*shm);
}

/* Is a byte waiting on fd (without waiting)? */
static bool readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1;
}

/* ---- stream messages: producer id, sequence number, checksummed payload -- */

#define MSG_MAGIC 0x51554555u /* "QUEU" */
#define PAYLOAD_MIN 8
#define PAYLOAD_MAX 200

struct msg {
  uint32_t magic;
  uint32_t producer;
  uint32_t seq;
  uint32_t sum; /* FNV-1a of producer, seq, payload length and payload */
  unsigned char payload[PAYLOAD_MAX];
};
#define MSG_HDR offsetof(struct msg, payload)

static uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static size_t payload_len(uint32_t p, uint32_t s) {
  return PAYLOAD_MIN +
         mix64((uint64_t)p << 32 | s) % (PAYLOAD_MAX - PAYLOAD_MIN + 1);
}

static uint32_t fnv(uint32_t h, const void *buf, size_t len) {
  const unsigned char *b = buf;
  for (size_t i = 0; i < len; i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

static uint32_t msg_sum(const struct msg *m, size_t n) {
  uint32_t h = 2166136261u, n32 = (uint32_t)n;
  h = fnv(h, &m->producer, sizeof m->producer);
  h = fnv(h, &m->seq, sizeof m->seq);
  h = fnv(h, &n32, sizeof n32);
  return fnv(h, m->payload, n);
}

/* Message s of producer p; returns its length. */
static size_t msg_make(struct msg *m, uint32_t p, uint32_t s) {
  size_t n = payload_len(p, s);
  uint64_t x = mix64(((uint64_t)s << 32 | p) ^ 0x5eedu);
  for (size_t i = 0; i < n; i++) {
    if (i % 8 == 0)
      x = mix64(x);
    m->payload[i] = (unsigned char)(x >> (i % 8 * 8));
  }
  m->magic = MSG_MAGIC;
  m->producer = p;
  m->seq = s;
  m->sum = msg_sum(m, n);
  return MSG_HDR + n;
}

/* Is m a whole, uncorrupted message of a producer < np with seq < nseq?
 * len: its length as received, or 0 when unknown (a consumer's slot). */
static bool msg_ok(const struct msg *m, size_t len, uint32_t np,
                   uint32_t nseq) {
  if (m->magic != MSG_MAGIC || m->producer >= np || m->seq >= nseq)
    return false;
  size_t n = payload_len(m->producer, m->seq);
  if (len && len != MSG_HDR + n)
    return false;
  return m->sum == msg_sum(m, n);
}

/* What is wrong with a message msg_ok() refused, into why[128]. */
static void msg_why(char *why, const struct msg *m, size_t len, uint32_t np,
                    uint32_t nseq) {
  size_t want = m->producer < np && m->seq < nseq
                    ? MSG_HDR + payload_len(m->producer, m->seq)
                    : 0;
  snprintf(why, 128,
           "corrupted message (%zu bytes): magic %#x, producer %u, seq %u, "
           "length %s, sum %s",
           len, m->magic, m->producer, m->seq,
           want == 0     ? "?"
           : want == len ? "ok"
                         : "wrong",
           want && len >= want && m->sum == msg_sum(m, want - MSG_HDR) ? "ok"
                                                                       : "bad");
}

/* Set bit i; was it set before? */
static bool bit_test_set(_Atomic uint64_t *bits, size_t i) {
  uint64_t m = (uint64_t)1 << (i % 64);
  return (atomic_fetch_or(&bits[i / 64], m) & m) != 0;
}

static bool bit_get(_Atomic uint64_t *bits, size_t i) {
  return (atomic_load(&bits[i / 64]) >> (i % 64)) & 1;
}

/* The first of bits [0, n) that is clear, or n. (Checked in a loop, then
 * asserted once: every ck_assert that passes costs a message to Check.) */
static size_t first_clear(_Atomic uint64_t *bits, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!bit_get(bits, i))
      return i;
  return n;
}

/* Spin (yielding) until *v >= target, at most `seconds`. */
static bool wait_progress(_Atomic uint64_t *v, uint64_t target,
                          double seconds) {
  for (double t0 = t_now(); atomic_load(v) < target; sched_yield())
    if (t_now() - t0 > seconds)
      return false;
  return true;
}

/* ---- seed: square_list producer, print_queue consumer -------------------- */

struct squares {
  mp_queue *q;
  long *got; /* in shared memory: 4 values, then empty() at the end */
};

static const long seed_list[4] = {1, 2, 3, 4};

static int square_list(void *arg) {
  struct squares *s = arg;
  for (int i = 0; i < 4; i++)
    if (put_long(s->q, seed_list[i] * seed_list[i], 10.0) != 0)
      return 1 + i;
  return 0;
}

static int print_queue(void *arg) {
  struct squares *s = arg;
  for (int i = 0; i < 4; i++) /* blocking gets: no racy "while not empty" */
    if (get_long(s->q, &s->got[i], 10.0) != 0)
      return 1 + i;
  s->got[4] = mp_queue_empty(s->q);
  return 0;
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

/* The seed runs the producer and the consumer at once (the consumer gets
 * the squares in order on a FIFO), then - its commented-out variant - the
 * producer to the end first (each kind's order is then fixed). */
START_TEST(seed_square_list) {
  mp_queue_kind kind = kinds[_i];
  const long squares[4] = {1, 4, 9, 16};
  mp_shm *shm;
  struct squares s = {make(kind, 4096, 0, 0), shared(5 * sizeof(long), &shm)};
  pid_t p1 = t_fork(square_list, &s), p2 = t_fork(print_queue, &s);
  ck_assert_int_eq(t_wait(p1), 0);
  ck_assert_int_eq(t_wait(p2), 0);
  ck_assert_int_eq(s.got[4], 1);
  if (kind != MP_QUEUE_FIFO) /* order depends on the interleaving */
    qsort(s.got, 4, sizeof(long), cmp_long);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(s.got[i], squares[i]);
  p1 = t_fork(square_list, &s);
  ck_assert_int_eq(t_wait(p1), 0);
  ck_rc((int)mp_queue_qsize(s.q), 4);
  p2 = t_fork(print_queue, &s);
  ck_assert_int_eq(t_wait(p2), 0);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(s.got[i], nth_out(kind, squares, 4, i));
  ck_assert_int_eq(s.got[4], 1);
  ck_rc(mp_queue_destroy(s.q), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

/* ---- seed: a producer waits in join until the consumer's task_done ------- */

struct joiner {
  mp_queue *q;
  int fds[2]; /* child -> parent: "join returned" */
};

static int put_three_then_join(void *arg) {
  struct joiner *j = arg;
  for (int i = 0; i < 3; i++)
    if (put_long(j->q, i + 10, 10.0) != 0)
      return 1;
  int rc = mp_queue_join(j->q, 10.0);
  t_send(j->fds[1]);
  return rc == 0 ? 0 : 2;
}

START_TEST(seed_join_until_task_done) {
  mp_queue_kind kind = kinds[_i];
  struct joiner j = {.q = make(kind, 4096, 5, 1)};
  t_pipe(j.fds);
  pid_t pid = t_fork(put_three_then_join, &j);
  ck_assert(t_wait_sleeping(pid)); /* its puts are done: it waits in join */
  ck_rc((int)mp_queue_qsize(j.q), 3);
  const long put[3] = {10, 11, 12};
  for (int i = 0; i < 3; i++) {
    long v;
    ck_rc(get_long(j.q, &v, 0), 0);
    ck_assert_int_eq(v, nth_out(kind, put, 3, i));
    if (i == 2) { /* all taken, two done: the producer still waits */
      ck_rc(mp_queue_join(j.q, 0), -EAGAIN);
      ck_assert(!readable(j.fds[0]));
    }
    ck_rc(mp_queue_task_done(j.q), 0);
  }
  ck_assert(t_recv(j.fds[0]));
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_queue_join(j.q, 0), 0);
  close(j.fds[0]);
  close(j.fds[1]);
  ck_rc(mp_queue_destroy(j.q), 0);
}
END_TEST

/* ---- seed: Queue(5) full and empty --------------------------------------- */

START_TEST(seed_queue5_full_and_empty) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *q = make(kind, 4096, 5, 0);
  ck_assert_uint_eq(mp_queue_maxsize(q), 5);
  ck_assert_uint_eq(mp_queue_capacity(q), 4096);
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_full(q), 0);
  const long put[5] = {10, 20, 30, 67, 60};
  for (int i = 0; i < 5; i++)
    ck_rc(put_long(q, put[i], 0), 0);
  ck_rc((int)mp_queue_qsize(q), 5);
  ck_rc(mp_queue_empty(q), 0);
  ck_rc(mp_queue_full(q), 1);
  ck_rc(put_long(q, 54, 0), -EAGAIN); /* put_nowait: Full */
  double t0 = t_now();
  ck_rc(put_long(q, 54, 0.2), -ETIMEDOUT);
  ck_took(t0, 0.2, 1.0);
  ck_rc((int)mp_queue_qsize(q), 5);
  for (int i = 0; i < 5; i++) {
    long v;
    ck_rc(get_long(q, &v, 0), 0);
    ck_assert_int_eq(v, nth_out(kind, put, 5, i));
    ck_rc((int)mp_queue_qsize(q), 4 - i);
  }
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_full(q), 0);
  long v;
  ck_rc(get_long(q, &v, 0), -EAGAIN); /* get(block=False): Empty */
  t0 = t_now();
  ck_rc(get_long(q, &v, 0.2), -ETIMEDOUT);
  ck_took(t0, 0.2, 1.0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* ---- seed: PriorityQueue and LifoQueue order ----------------------------- */

static int put_tag(mp_queue *q, int64_t prio, char tag) {
  return mp_queue_put_priority(q, prio, &tag, 1, 0);
}

/* The tags of every message left, in the order they come out. */
static void drain_tags(mp_queue *q, char *out, int64_t *prios) {
  size_t len;
  int n = 0;
  int64_t prio;
  while (mp_queue_get_priority(q, &out[n], 1, &len, &prio, 0) == 0) {
    ck_assert_uint_eq(len, 1);
    if (prios)
      prios[n] = prio;
    n++;
  }
  out[n] = '\0';
}

START_TEST(priority_order) {
  mp_queue *q = make(MP_QUEUE_PRIORITY, 4096, 0, 0);
  /* The seed: 20, 78, 12, 45 come out smallest first. */
  const long seed[4] = {20, 78, 12, 45}, sorted[4] = {12, 20, 45, 78};
  for (int i = 0; i < 4; i++)
    ck_rc(mp_queue_put_priority(q, seed[i], &seed[i], sizeof(long), 0), 0);
  for (int i = 0; i < 4; i++) {
    long v;
    size_t len;
    int64_t prio = -1;
    ck_rc(mp_queue_get_priority(q, &v, sizeof v, &len, &prio, 0), 0);
    ck_assert_int_eq(v, sorted[i]);
    ck_assert_int_eq(prio, sorted[i]);
  }
  /* Ties come out in put order; extremes; a plain put has priority 0. */
  ck_rc(put_tag(q, 5, 'a'), 0);
  ck_rc(put_tag(q, 1, 'b'), 0);
  ck_rc(put_tag(q, 5, 'c'), 0);
  ck_rc(put_tag(q, 1, 'd'), 0);
  ck_rc(put_tag(q, INT64_MAX, 'e'), 0);
  ck_rc(put_tag(q, INT64_MIN, 'f'), 0);
  ck_rc(mp_queue_put(q, "g", 1, 0), 0);
  ck_rc(put_tag(q, -3, 'h'), 0);
  ck_rc(put_tag(q, 5, 'i'), 0);
  ck_rc(put_tag(q, 0, 'j'), 0);
  char tags[16];
  int64_t prios[16];
  drain_tags(q, tags, prios);
  ck_assert_str_eq(tags, "fhgjbdacie");
  ck_assert_int_eq(prios[0], INT64_MIN);
  ck_assert_int_eq(prios[2], 0);
  ck_assert_int_eq(prios[9], INT64_MAX);
  /* Interleaved puts and gets. */
  ck_rc(put_tag(q, 2, 'x'), 0);
  ck_rc(put_tag(q, 2, 'y'), 0);
  size_t len;
  char c;
  ck_rc(mp_queue_get(q, &c, 1, &len, 0), 0);
  ck_assert_int_eq(c, 'x');
  ck_rc(put_tag(q, 1, 'z'), 0);
  ck_rc(put_tag(q, 2, 'w'), 0);
  drain_tags(q, tags, NULL);
  ck_assert_str_eq(tags, "zyw");
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

START_TEST(lifo_order) {
  mp_queue *q = make(MP_QUEUE_LIFO, 4096, 0, 0);
  for (long i = 1; i <= 5; i++)
    ck_rc(put_long(q, i, 0), 0);
  for (long i = 5; i >= 1; i--) {
    long v;
    ck_rc(get_long(q, &v, 0), 0);
    ck_assert_int_eq(v, i);
  }
  /* Interleaved: the newest is always next. */
  long v;
  ck_rc(put_long(q, 1, 0), 0);
  ck_rc(put_long(q, 2, 0), 0);
  ck_rc(get_long(q, &v, 0), 0);
  ck_assert_int_eq(v, 2);
  ck_rc(put_long(q, 3, 0), 0);
  ck_rc(get_long(q, &v, 0), 0);
  ck_assert_int_eq(v, 3);
  ck_rc(get_long(q, &v, 0), 0);
  ck_assert_int_eq(v, 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* A priority means nothing to a FIFO or LIFO queue. */
START_TEST(priority_ignored_by_fifo_and_lifo) {
  mp_queue *f = make(MP_QUEUE_FIFO, 4096, 0, 0);
  mp_queue *l = make(MP_QUEUE_LIFO, 4096, 0, 0);
  const int64_t prios[4] = {9, -5, 100, 0};
  for (int i = 0; i < 4; i++) {
    ck_rc(put_tag(f, prios[i], (char)('a' + i)), 0);
    ck_rc(put_tag(l, prios[i], (char)('a' + i)), 0);
  }
  char tags[8];
  drain_tags(f, tags, NULL);
  ck_assert_str_eq(tags, "abcd");
  drain_tags(l, tags, NULL);
  ck_assert_str_eq(tags, "dcba");
  ck_rc(mp_queue_destroy(f), 0);
  ck_rc(mp_queue_destroy(l), 0);
}
END_TEST

/* ---- seed: the threaded website checker with a joinable queue ------------ */

#define NURLS 40
#define NWORKERS 4

struct checker {
  mp_queue *q;
  atomic_int processed;
  atomic_int checked[NURLS];
};

static void *check_websites(void *arg) {
  struct checker *c = arg;
  for (;;) {
    char url[64];
    size_t len;
    int rc = mp_queue_get(c->q, url, sizeof url - 1, &len, 10.0);
    if (rc == -ESHUTDOWN)
      return NULL;
    if (rc != 0)
      return (void *)1;
    url[len] = '\0';
    int i;
    if (sscanf(url, "https://site-%d.example", &i) != 1 || i < 0 || i >= NURLS)
      return (void *)2;
    atomic_fetch_add(&c->checked[i], 1); /* check_website(address) */
    atomic_fetch_add(&c->processed, 1);
    if (mp_queue_task_done(c->q) != 0)
      return (void *)3;
  }
}

START_TEST(seed_website_checker) {
  struct checker c = {.q = make(kinds[_i], 4096, 0, 1)};
  for (int i = 0; i < NURLS; i++) {
    char url[64];
    int n = snprintf(url, sizeof url, "https://site-%d.example", i);
    ck_rc(mp_queue_put(c.q, url, (size_t)n, 0), 0);
  }
  pthread_t t[NWORKERS];
  for (int i = 0; i < NWORKERS; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, check_websites, &c), 0);
  ck_rc(mp_queue_join(c.q, 10.0), 0);
  /* join returned only once every address was checked: each is counted
   * before its task_done. */
  ck_assert_int_eq(atomic_load(&c.processed), NURLS);
  for (int i = 0; i < NURLS; i++)
    ck_assert_int_eq(atomic_load(&c.checked[i]), 1);
  ck_rc(mp_queue_shutdown(c.q, 0), 0); /* the workers' "while True" ends */
  for (int i = 0; i < NWORKERS; i++) {
    void *ret;
    ck_assert_int_eq(pthread_join(t[i], &ret), 0);
    ck_assert_ptr_null(ret);
  }
  ck_rc((int)mp_queue_qsize(c.q), 0);
  ck_rc(mp_queue_destroy(c.q), 0);
}
END_TEST

/* ---- blocking calls wake ------------------------------------------------- */

struct blocked {
  mp_queue *q;
  long value;
  int expect; /* the return code the child expects */
};

static int blocked_get(void *arg) {
  struct blocked *b = arg;
  long v = -1;
  int rc = get_long(b->q, &v, 10.0);
  if (rc != b->expect)
    return 1;
  return rc == 0 && v != b->value ? 2 : 0;
}

static int blocked_put(void *arg) {
  struct blocked *b = arg;
  return put_long(b->q, b->value, 10.0) == b->expect ? 0 : 1;
}

/* A get waiting on an empty queue takes the next put; a put waiting on a
 * full queue goes in when a get makes room. */
START_TEST(blocked_calls_wake) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *q = make(kind, 4096, 1, 0);
  struct blocked b = {q, 42, 0};
  pid_t pid = t_fork(blocked_get, &b);
  ck_assert(t_wait_sleeping(pid));
  ck_rc(put_long(q, 42, 0), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(put_long(q, 1, 0), 0); /* full: maxsize 1 */
  pid = t_fork(blocked_put, &b);
  ck_assert(t_wait_sleeping(pid));
  long v;
  ck_rc(get_long(q, &v, 0), 0);
  ck_assert_int_eq(v, 1);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(get_long(q, &v, 0), 0);
  ck_assert_int_eq(v, 42);
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* ---- shutdown ------------------------------------------------------------ */

START_TEST(shutdown_drains_then_refuses) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *q = make(kind, 4096, 0, 0);
  const long put[3] = {1, 2, 3};
  for (int i = 0; i < 3; i++)
    ck_rc(put_long(q, put[i], 0), 0);
  ck_rc(mp_queue_is_shutdown(q), 0);
  ck_rc(mp_queue_shutdown(q, 0), 0);
  ck_rc(mp_queue_is_shutdown(q), 1);
  double t0 = t_now();
  ck_rc(put_long(q, 4, MP_FOREVER), -ESHUTDOWN); /* at once */
  ck_rc(put_long(q, 4, 0), -ESHUTDOWN);
  ck_rc(put_long(q, 4, 5.0), -ESHUTDOWN);
  ck_rc(mp_queue_put_priority(q, -1, "x", 1, MP_FOREVER), -ESHUTDOWN);
  ck_took(t0, 0, 0.5);
  ck_rc((int)mp_queue_qsize(q), 3);
  for (int i = 0; i < 3; i++) {
    long v;
    ck_rc(get_long(q, &v, MP_FOREVER), 0);
    ck_assert_int_eq(v, nth_out(kind, put, 3, i));
  }
  t0 = t_now();
  long v;
  ck_rc(get_long(q, &v, MP_FOREVER), -ESHUTDOWN); /* empty: at once */
  ck_rc(get_long(q, &v, 0), -ESHUTDOWN);
  ck_rc(get_long(q, &v, 5.0), -ESHUTDOWN);
  void *p;
  size_t len;
  ck_rc(mp_queue_get_alloc(q, &p, &len, MP_FOREVER), -ESHUTDOWN);
  ck_took(t0, 0, 0.5);
  ck_rc(mp_queue_shutdown(q, 0), 0); /* again: harmless */
  ck_rc(mp_queue_is_shutdown(q), 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* Two gets waiting on an empty queue both wake with -ESHUTDOWN (on a FIFO
 * one sleeps holding the consumer lock, the other waits for that lock).
 * _i: kind, plain (< NKINDS) or immediate shutdown. */
START_TEST(shutdown_wakes_blocked_gets) {
  mp_queue *q = make(kinds[_i % NKINDS], 4096, 0, 0);
  struct blocked b = {q, 0, -ESHUTDOWN};
  pid_t p[2];
  for (int i = 0; i < 2; i++) {
    p[i] = t_fork(blocked_get, &b);
    ck_assert(t_wait_sleeping(p[i]));
  }
  double t0 = t_now();
  ck_rc(mp_queue_shutdown(q, _i >= NKINDS), 0);
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(t_wait(p[i]), 0);
  ck_took(t0, 0, 5.0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* Two puts waiting on a full queue both wake with -ESHUTDOWN; what was in
 * the queue can still be got after a plain shutdown, not after an
 * immediate one. _i: kind, plain (< NKINDS) or immediate shutdown. */
START_TEST(shutdown_wakes_blocked_puts) {
  mp_queue_kind kind = kinds[_i % NKINDS];
  int immediate = _i >= NKINDS;
  mp_queue *q = make(kind, 4096, 1, 0);
  ck_rc(put_long(q, 7, 0), 0);
  struct blocked b = {q, 8, -ESHUTDOWN};
  pid_t p[2];
  for (int i = 0; i < 2; i++) {
    p[i] = t_fork(blocked_put, &b);
    ck_assert(t_wait_sleeping(p[i]));
  }
  double t0 = t_now();
  ck_rc(mp_queue_shutdown(q, immediate), 0);
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(t_wait(p[i]), 0);
  ck_took(t0, 0, 5.0);
  long v;
  if (!immediate) {
    ck_rc(get_long(q, &v, 0), 0);
    ck_assert_int_eq(v, 7);
  }
  ck_rc(get_long(q, &v, MP_FOREVER), -ESHUTDOWN);
  ck_rc((int)mp_queue_qsize(q), 0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

static int join_ok(void *arg) { return mp_queue_join(arg, 10.0) == 0 ? 0 : 1; }

/* Immediate: the rest is dropped and counted as done, gets fail at once,
 * and a join waiting on the dropped messages returns. */
START_TEST(shutdown_immediate) {
  mp_queue *q = make(kinds[_i], 4096, 0, 1);
  for (long i = 0; i < 3; i++)
    ck_rc(put_long(q, i, 0), 0);
  pid_t pid = t_fork(join_ok, q);
  ck_assert(t_wait_sleeping(pid));
  ck_rc(mp_queue_shutdown(q, 1), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_queue_is_shutdown(q), 1);
  ck_rc((int)mp_queue_qsize(q), 0);
  ck_rc(mp_queue_empty(q), 1);
  double t0 = t_now();
  long v;
  ck_rc(get_long(q, &v, 0), -ESHUTDOWN);
  ck_rc(get_long(q, &v, MP_FOREVER), -ESHUTDOWN);
  ck_rc(put_long(q, 9, MP_FOREVER), -ESHUTDOWN);
  ck_took(t0, 0, 0.5);
  ck_rc(mp_queue_join(q, 0), 0);
  ck_rc(mp_queue_task_done(q), -ERANGE); /* the dropped ones are done */
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* A message taken and not yet done keeps join waiting after an immediate
 * shutdown (only the messages left count as done); its task_done ends
 * the wait. Immediate may follow a plain shutdown. */
START_TEST(shutdown_immediate_after_plain) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *q = make(kind, 4096, 0, 1);
  const long put[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4; i++)
    ck_rc(put_long(q, put[i], 0), 0);
  ck_rc(mp_queue_shutdown(q, 0), 0);
  long v;
  ck_rc(get_long(q, &v, 0), 0); /* a plain shutdown still gives the rest */
  ck_assert_int_eq(v, nth_out(kind, put, 4, 0));
  pid_t pid = t_fork(join_ok, q);
  ck_assert(t_wait_sleeping(pid));
  ck_rc(mp_queue_shutdown(q, 1), 0);
  ck_rc(get_long(q, &v, 0), -ESHUTDOWN);
  ck_rc((int)mp_queue_qsize(q), 0);
  ck_rc(mp_queue_join(q, 0), -EAGAIN); /* the taken one is not done */
  double t0 = t_now();
  ck_rc(mp_queue_join(q, 0.1), -ETIMEDOUT);
  ck_took(t0, 0.1, 1.0);
  ck_rc(mp_queue_task_done(q), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_queue_join(q, 0), 0);
  ck_rc(mp_queue_shutdown(q, 0), 0); /* plain after immediate: harmless */
  ck_rc(get_long(q, &v, 0), -ESHUTDOWN);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* ---- joinable ------------------------------------------------------------ */

START_TEST(joinable_rules) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *plain = make(kind, 4096, 0, 0);
  ck_rc(mp_queue_task_done(plain), -EINVAL);
  ck_rc(mp_queue_join(plain, 0), -EINVAL);
  ck_rc(mp_queue_join(plain, 1.0), -EINVAL);
  ck_rc(mp_queue_destroy(plain), 0);

  mp_queue *q = make(kind, 4096, 0, 1);
  ck_rc(mp_queue_join(q, 0), 0); /* nothing put: nothing to wait for */
  ck_rc(mp_queue_join(q, MP_FOREVER), 0);
  ck_rc(mp_queue_task_done(q), -ERANGE);
  ck_rc(put_long(q, 1, 0), 0);
  ck_rc(put_long(q, 2, 0), 0);
  ck_rc(mp_queue_join(q, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_queue_join(q, 0.2), -ETIMEDOUT);
  ck_took(t0, 0.2, 1.0);
  long v;
  ck_rc(get_long(q, &v, 0), 0);
  ck_rc(mp_queue_task_done(q), 0);
  ck_rc(mp_queue_join(q, 0), -EAGAIN);
  ck_rc(get_long(q, &v, 0), 0);
  ck_rc(mp_queue_task_done(q), 0);
  ck_rc(mp_queue_join(q, 0), 0);
  /* One task_done too many: refused, and nothing changes - the next
   * message is not counted as done ahead of time. */
  ck_rc(mp_queue_task_done(q), -ERANGE);
  ck_rc(mp_queue_join(q, 0), 0);
  ck_rc(put_long(q, 3, 0), 0);
  ck_rc(get_long(q, &v, 0), 0);
  ck_rc(mp_queue_join(q, 0), -EAGAIN);
  ck_rc(mp_queue_task_done(q), 0);
  ck_rc(mp_queue_join(q, 0), 0);
  ck_rc(mp_queue_task_done(q), -ERANGE);
  /* As in Python, task_done counts puts: one for a message not got yet is
   * accepted. */
  ck_rc(put_long(q, 4, 0), 0);
  ck_rc(mp_queue_task_done(q), 0);
  ck_rc(mp_queue_join(q, 0), 0);
  ck_rc(get_long(q, &v, 0), 0);
  ck_rc(mp_queue_task_done(q), -ERANGE);
  ck_rc(mp_queue_join(q, NAN), -EINVAL);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* ---- message sizes ------------------------------------------------------- */

START_TEST(zero_length_messages) {
  mp_queue *q = make(kinds[_i], 1000, 0, 0);
  ck_rc(mp_queue_put(q, NULL, 0, 0), 0);
  ck_rc(mp_queue_put(q, "ignored", 0, 0), 0);
  ck_rc(mp_queue_put_priority(q, 3, NULL, 0, 0), 0);
  ck_rc((int)mp_queue_qsize(q), 3);
  size_t len = 99;
  ck_rc(mp_queue_get(q, NULL, 0, &len, 0), 0);
  ck_assert_uint_eq(len, 0);
  char buf[8];
  len = 99;
  ck_rc(mp_queue_get(q, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 0);
  void *p = NULL;
  len = 99;
  ck_rc(mp_queue_get_alloc(q, &p, &len, 0), 0);
  ck_assert_ptr_nonnull(p); /* a 0-byte message gives a buffer too */
  ck_assert_uint_eq(len, 0);
  free(p);
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* Larger than the capacity: -EMSGSIZE at once, even on a full queue
 * with a long timeout, and the queue is untouched. */
START_TEST(message_over_capacity) {
  mp_queue *q = make(kinds[_i], 1000, 1, 0);
  static char big[1001];
  fill(big, sizeof big, 1);
  ck_rc(put_long(q, 5, 0), 0); /* now full: maxsize 1 */
  double t0 = t_now();
  ck_rc(mp_queue_put(q, big, 1001, MP_FOREVER), -EMSGSIZE);
  ck_rc(mp_queue_put(q, big, 1001, 5.0), -EMSGSIZE);
  ck_rc(mp_queue_put_priority(q, 1, big, 1001, 0), -EMSGSIZE);
  ck_took(t0, 0, 0.5);
  ck_rc((int)mp_queue_qsize(q), 1);
  long v;
  ck_rc(get_long(q, &v, 0), 0);
  ck_assert_int_eq(v, 5);
  ck_rc(mp_queue_put(q, big, 1001, 0), -EMSGSIZE);
  ck_rc((int)mp_queue_qsize(q), 0);
  ck_rc(mp_queue_put(q, big, 1000, 0), 0); /* exactly the capacity fits */
  char buf[1000];
  size_t len;
  ck_rc(mp_queue_get(q, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 1000);
  ck_assert(intact(buf, len, 1));
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* A receive buffer too small: -EMSGSIZE with the size needed, and the
 * message stays for a big enough buffer. */
START_TEST(receive_buffer_too_small) {
  mp_queue *q = make(kinds[_i], 1000, 0, 0);
  char msg[100], buf[100];
  fill(msg, sizeof msg, 2);
  ck_rc(mp_queue_put(q, msg, sizeof msg, 0), 0);
  size_t len = 0;
  ck_rc(mp_queue_get(q, buf, 50, &len, 0), -EMSGSIZE);
  ck_assert_uint_eq(len, 100);
  len = 0;
  ck_rc(mp_queue_get(q, NULL, 0, &len, MP_FOREVER), -EMSGSIZE);
  ck_assert_uint_eq(len, 100);
  len = 0;
  int64_t prio = 5;
  ck_rc(mp_queue_get_priority(q, buf, 99, &len, &prio, 1.0), -EMSGSIZE);
  ck_assert_uint_eq(len, 100);
  ck_rc((int)mp_queue_qsize(q), 1);
  ck_rc(mp_queue_get(q, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 100);
  ck_assert(intact(buf, len, 2));
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

START_TEST(get_alloc_messages) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *q = make(kind, 1000, 0, 0);
  const size_t sizes[3] = {1, 500, 1000};
  static char msg[1000];
  for (int i = 0; i < 3; i++) {
    fill(msg, sizes[i], 10u + (unsigned)i);
    ck_rc(mp_queue_put(q, msg, sizes[i], 0), 0);
  }
  for (int i = 0; i < 3; i++) {
    int k = kind == MP_QUEUE_LIFO ? 2 - i : i;
    void *p = NULL;
    size_t len = 0;
    ck_rc(mp_queue_get_alloc(q, &p, &len, 1.0), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, sizes[k]);
    ck_assert(intact(p, len, 10u + (unsigned)k));
    free(p);
  }
  void *p = (void *)1;
  size_t len;
  ck_rc(mp_queue_get_alloc(q, &p, &len, 0), -EAGAIN);
  ck_assert_ptr_null(p);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* The ring (or arena) of a small queue is reused thousands of times with
 * sizes from 0 to the capacity; every message keeps its bytes, and one of
 * exactly the capacity always fits into the empty queue at once. */
START_TEST(wrap_around_many_times) {
  mp_queue_kind kind = kinds[_i];
  enum { CAP = 1000 };
  const unsigned ROUNDS = t_instrumented() ? 600 : 6000;
  mp_queue *q = make(kind, CAP, 0, 0);
  static char msg[CAP], buf[CAP];
  unsigned rng = 12345;
  for (unsigned r = 0; r < ROUNDS; r++) {
    size_t n = 1 + r % 2, len[2];
    unsigned seed[2];
    for (size_t k = 0; k < n; k++) {
      rng = rng * 1103515245u + 12345u;
      len[k] = r % 7 == 6 ? CAP : (rng >> 8) % (CAP / 2 + 1);
      if (len[k] == CAP)
        n = 1; /* a full-size one goes alone */
      seed[k] = r * 2 + (unsigned)k;
      fill(msg, len[k], seed[k]);
      int rc = mp_queue_put(q, msg, len[k], 0);
      ck_assert_msg(rc == 0, "round %u: put of %zu bytes: %s", r, len[k],
                    mp_err_name(rc));
    }
    for (size_t k = 0; k < n; k++) {
      size_t j = kind == MP_QUEUE_LIFO ? n - 1 - k : k, got = 0;
      int rc = mp_queue_get(q, buf, sizeof buf, &got, 0);
      ck_assert_msg(rc == 0, "round %u: get: %s", r, mp_err_name(rc));
      ck_assert_uint_eq(got, len[j]);
      ck_assert_msg(intact(buf, got, seed[j]), "round %u: corrupted", r);
    }
  }
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* ---- capacity: roughly the bytes held ------------------------------------ */

/* The header: capacity is the largest message, and roughly the bytes the
 * queue holds, each message costing 8 to 32 bytes of bookkeeping more. So
 * capacity / (s + 32) messages of s bytes must all go in without waiting,
 * and a Queue(maxsize) takes exactly maxsize empty messages. (Counted
 * first, asserted after the queues are gone: nothing is left in /dev/shm
 * when it fails.) */
START_TEST(capacity_roughly_the_bytes_held) {
  mp_queue_kind kind = kinds[_i];
  enum { CAP = 1000, NSIZES = 5, MAXSIZE = 100 };
  const size_t sizes[NSIZES] = {0, 1, 8, 100, CAP - 32};
  static char msg[CAP];
  size_t want[NSIZES + 1], went[NSIZES + 1];
  for (int k = 0; k <= NSIZES; k++) {
    size_t size = k < NSIZES ? sizes[k] : 0;
    want[k] = k < NSIZES ? CAP / (size + 32) : MAXSIZE;
    mp_queue *q = make(kind, CAP, k < NSIZES ? 0 : MAXSIZE, 0);
    for (went[k] = 0; went[k] <= want[k]; went[k]++)
      if (mp_queue_put(q, msg, size, 0) != 0)
        break;
    if (k == NSIZES) /* maxsize: exactly, and then full */
      went[k] += 1000 * (size_t)(mp_queue_full(q) != 1);
    ck_rc(mp_queue_destroy(q), 0);
  }
  char report[512] = "";
  size_t used = 0;
  bool ok = true;
  for (int k = 0; k <= NSIZES; k++) {
    bool good = k < NSIZES ? went[k] >= want[k] : went[k] == want[k];
    ok &= good;
    used += (size_t)snprintf(report + used, sizeof report - used,
                             "%s%zu B%s: %zu in (want %s%zu)", k ? "; " : "",
                             k < NSIZES ? sizes[k] : 0,
                             k < NSIZES ? "" : " maxsize 100", went[k],
                             k < NSIZES ? ">= " : "", want[k]);
  }
  ck_assert_msg(ok, "%s, capacity %d: %s", kind_names[_i], CAP, report);
}
END_TEST

/* ---- opening by name ----------------------------------------------------- */

struct by_name {
  char name[MP_NAME_MAX + 1];
  mp_queue_kind kind;
};

/* Open the queue by name, take the three values the parent put, put back
 * ten times each, close; a second close is refused. */
static int open_and_echo(void *arg) {
  struct by_name *b = arg;
  mp_queue *q;
  if (mp_queue_open(b->name, &q) != 0)
    return 1;
  if (strcmp(mp_queue_name(q), b->name) != 0 || mp_queue_capacity(q) != 4096)
    return 2;
  long v[3];
  for (int i = 0; i < 3; i++)
    if (get_long(q, &v[i], 10.0) != 0)
      return 3;
  for (int i = 0; i < 3; i++)
    if (put_long(q, v[i] * 10, 10.0) != 0)
      return 4;
  if (mp_queue_close(q) != 0)
    return 5;
  return mp_queue_close(q) == -EINVAL ? 0 : 6;
}

START_TEST(open_by_name_in_forked_child) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *q = make(kind, 4096, 0, 0);
  struct by_name b = {.kind = kind};
  snprintf(b.name, sizeof b.name, "%s", mp_queue_name(q));
  const long put[3] = {1, 2, 3};
  for (int i = 0; i < 3; i++)
    ck_rc(put_long(q, put[i], 0), 0);
  ck_assert_int_eq(t_wait(t_fork(open_and_echo, &b)), 0);
  /* The child got them in the kind's order and put them back so; a LIFO
   * reverses twice. */
  for (int i = 0; i < 3; i++) {
    long v;
    ck_rc(get_long(q, &v, 0), 0);
    ck_assert_int_eq(v, put[i] * 10);
  }
  ck_rc(mp_queue_destroy(q), 0);
  ck_assert(!t_shm_exists(b.name));
}
END_TEST

#define SPAWN_N 50

/* Entry of a spawned child (this binary, re-executed): open the queue
 * named by arg and put 0..SPAWN_N-1. */
static int queue_spawn_putter(void *arg) {
  mp_queue *q;
  if (mp_queue_open(arg, &q) != 0)
    return 1;
  for (long i = 0; i < SPAWN_N; i++)
    if (put_long(q, i, 10.0) != 0)
      return 2;
  return mp_queue_close(q) == 0 ? 0 : 3;
}
MP_REGISTER(queue_spawn_putter)

START_TEST(open_by_name_in_spawned_process) {
  mp_queue_kind kind = kinds[_i];
  mp_queue *q = make(kind, 256, 4, 0); /* small: the child must wait */
  const char *name = mp_queue_name(q);
  mp_process *p;
  mp_process_options o = {.method = MP_START_SPAWN,
                          .arg_size = strlen(name) + 1};
  ck_rc(mp_process_create(queue_spawn_putter, (void *)name, &o, &p), 0);
  ck_rc(mp_process_start(p), 0);
  int seen[SPAWN_N] = {0};
  long last = -1;
  for (int i = 0; i < SPAWN_N; i++) {
    long v;
    ck_rc(get_long(q, &v, 10.0), 0);
    ck_assert(v >= 0 && v < SPAWN_N);
    seen[v]++;
    if (kind != MP_QUEUE_LIFO) {
      ck_assert_int_gt(v, last);
      last = v;
    }
  }
  for (int i = 0; i < SPAWN_N; i++)
    ck_assert_int_eq(seen[i], 1);
  ck_rc(mp_process_join(p, 10.0), 0);
  int code = -1;
  ck_rc(mp_process_exitcode(p, &code), 0);
  ck_assert_int_eq(code, 0);
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* ---- threads and processes mixed ----------------------------------------- */

#define MIX_PROCS 2
#define MIX_THREADS 2
#define MIX_N 20000
#define MIX_PRODUCERS (MIX_PROCS * MIX_THREADS)

struct mix {
  mp_queue *q;
  bool ordered;
  uint32_t n; /* messages per producer: scaled(MIX_N) */
  _Atomic uint64_t bits[MIX_PRODUCERS * MIX_N / 64 + 1];
  atomic_long received;
};

struct mix_arg {
  struct mix *m;
  uint32_t id;
};

static void *mix_put(void *arg) {
  struct mix_arg *a = arg;
  for (uint32_t s = 0; s < a->m->n; s++) {
    uint32_t v[2] = {a->id, s};
    if (mp_queue_put(a->m->q, v, sizeof v, 10.0) != 0)
      return (void *)1;
  }
  return NULL;
}

static int mix_process(void *arg) {
  struct mix_arg *a = arg, ta[MIX_THREADS];
  pthread_t t[MIX_THREADS];
  for (int i = 0; i < MIX_THREADS; i++) {
    ta[i] = (struct mix_arg){a->m, a->id * MIX_THREADS + (uint32_t)i};
    if (pthread_create(&t[i], NULL, mix_put, &ta[i]) != 0)
      return 10;
  }
  int bad = 0;
  for (int i = 0; i < MIX_THREADS; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad |= r != NULL;
  }
  return bad;
}

static void *mix_get(void *arg) {
  struct mix *m = arg;
  int64_t last[MIX_PRODUCERS];
  for (int i = 0; i < MIX_PRODUCERS; i++)
    last[i] = -1;
  for (;;) {
    uint32_t v[2];
    size_t len;
    int rc = mp_queue_get(m->q, v, sizeof v, &len, 10.0);
    if (rc == -ESHUTDOWN)
      return NULL;
    if (rc != 0 || len != sizeof v || v[0] >= MIX_PRODUCERS || v[1] >= m->n)
      return (void *)1;
    if (bit_test_set(m->bits, (size_t)v[0] * m->n + v[1]))
      return (void *)2; /* a duplicate */
    if (m->ordered && (int64_t)v[1] <= last[v[0]])
      return (void *)3; /* out of order for this producer */
    last[v[0]] = v[1];
    atomic_fetch_add(&m->received, 1);
  }
}

/* 2 processes x 2 threads put, 2 threads of the parent get. */
START_TEST(threads_and_processes_mixed) {
  mp_queue_kind kind = kinds[_i];
  static struct mix m;
  memset(&m, 0, sizeof m);
  m.q = make(kind, 4096, 0, 0);
  m.ordered = kind != MP_QUEUE_LIFO; /* PRIORITY: all 0, ties in order */
  m.n = scaled(MIX_N, 10);
  pid_t p[MIX_PROCS];
  struct mix_arg a[MIX_PROCS];
  for (int i = 0; i < MIX_PROCS; i++) { /* fork before any thread starts */
    a[i] = (struct mix_arg){&m, (uint32_t)i};
    p[i] = t_fork(mix_process, &a[i]);
  }
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, mix_get, &m), 0);
  for (int i = 0; i < MIX_PROCS; i++)
    ck_assert_int_eq(t_wait(p[i]), 0);
  ck_rc(mp_queue_shutdown(m.q, 0), 0); /* the getters drain, then stop */
  for (int i = 0; i < 2; i++) {
    void *r;
    ck_assert_int_eq(pthread_join(t[i], &r), 0);
    ck_assert_msg(r == NULL, "getter %d failed with %d", i, (int)(intptr_t)r);
  }
  ck_assert_int_eq(atomic_load(&m.received), (long)MIX_PRODUCERS * m.n);
  size_t miss = first_clear(m.bits, (size_t)MIX_PRODUCERS * m.n);
  ck_assert_msg(miss == (size_t)MIX_PRODUCERS * m.n, "message %zu/%zu missing",
                miss / m.n, miss % m.n);
  ck_rc(mp_queue_destroy(m.q), 0);
}
END_TEST

/* ---- exactly once under load --------------------------------------------- */

#define LOAD_P 4
#define LOAD_C 4
#define LOAD_N 100000

struct load {
  mp_queue *q;
  bool ordered;
  uint32_t n; /* messages per producer: scaled(LOAD_N) */
  _Atomic uint64_t bits[LOAD_P * LOAD_N / 64 + 1]; /* (producer, seq) */
  atomic_long received[LOAD_C];
  char why[LOAD_C][128];
};

struct load_arg {
  struct load *l;
  uint32_t id;
};

static int load_producer(void *arg) {
  struct load_arg *a = arg;
  struct msg m;
  for (uint32_t s = 0; s < a->l->n; s++)
    if (mp_queue_put(a->l->q, &m, msg_make(&m, a->id, s), 10.0) != 0)
      return 1;
  return 0;
}

/* Checks what it gets: whole, never seen before (by anyone: the bitmap),
 * and per producer in increasing order as this consumer sees it. */
static int load_consumer(void *arg) {
  struct load_arg *a = arg;
  struct load *l = a->l;
  char *why = l->why[a->id];
  int64_t last[LOAD_P] = {-1, -1, -1, -1};
  struct msg m;
  for (;;) {
    size_t len;
    int rc = mp_queue_get(l->q, &m, sizeof m, &len, 10.0);
    if (rc == -ESHUTDOWN)
      return 0;
    if (rc != 0) {
      snprintf(why, 128, "get: %s", mp_err_name(rc));
      return 1;
    }
    if (!msg_ok(&m, len, LOAD_P, l->n)) {
      msg_why(why, &m, len, LOAD_P, l->n);
      return 2;
    }
    if (bit_test_set(l->bits, (size_t)m.producer * l->n + m.seq)) {
      snprintf(why, 128, "duplicate %u/%u", m.producer, m.seq);
      return 3;
    }
    if (l->ordered && (int64_t)m.seq <= last[m.producer]) {
      snprintf(why, 128, "producer %u: %u after %lld", m.producer, m.seq,
               (long long)last[m.producer]);
      return 4;
    }
    last[m.producer] = m.seq;
    atomic_fetch_add(&l->received[a->id], 1);
  }
}

/* 4 producer processes x 100 000 messages of 24..216 bytes through one
 * 64 KiB queue to 4 consumer processes: each arrives exactly once, whole,
 * and (FIFO; PRIORITY with equal priorities) in order per producer. */
START_TEST(exactly_once_under_load) {
  mp_queue_kind kind = kinds[_i];
  mp_shm *shm;
  struct load *l = shared(sizeof *l, &shm);
  l->q = make(kind, 64 * 1024, 0, 0);
  l->ordered = kind != MP_QUEUE_LIFO;
  l->n = scaled(LOAD_N, 20);
  pid_t cons[LOAD_C], prod[LOAD_P];
  struct load_arg ca[LOAD_C], pa[LOAD_P];
  double t0 = t_now();
  for (int i = 0; i < LOAD_C; i++) {
    ca[i] = (struct load_arg){l, (uint32_t)i};
    cons[i] = t_fork(load_consumer, &ca[i]);
  }
  for (int i = 0; i < LOAD_P; i++) {
    pa[i] = (struct load_arg){l, (uint32_t)i};
    prod[i] = t_fork(load_producer, &pa[i]);
  }
  for (int i = 0; i < LOAD_P; i++)
    ck_assert_int_eq(t_wait(prod[i]), 0);
  ck_rc(mp_queue_shutdown(l->q, 0), 0); /* the consumers drain, then stop */
  for (int i = 0; i < LOAD_C; i++) {
    int st = t_wait(cons[i]);
    ck_assert_msg(st == 0, "%s consumer %d: exit %d: %s", kind_names[_i], i, st,
                  l->why[i]);
  }
  double took = t_now() - t0;
  long total = 0;
  for (int i = 0; i < LOAD_C; i++)
    total += atomic_load(&l->received[i]);
  ck_assert_int_eq(total, (long)LOAD_P * l->n);
  size_t miss = first_clear(l->bits, (size_t)LOAD_P * l->n);
  ck_assert_msg(miss == (size_t)LOAD_P * l->n, "message %zu/%zu missing",
                miss / l->n, miss % l->n);
  ck_rc((int)mp_queue_qsize(l->q), 0);
  if (getenv("QUEUE_TEST_TIMES"))
    fprintf(stderr, "load %s: %d messages in %.2f s\n", kind_names[_i],
            LOAD_P * (int)l->n, took);
  ck_rc(mp_queue_destroy(l->q), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

/* ---- processes killed at random moments ---------------------------------- */

#define KILL_P 2
#define KILL_C 2
#define KILL_MAX (1u << 20) /* most messages a producer sends in a round */
#define KILL_ROUNDS 20
#define PARENT_ID KILL_P /* the parent's own messages */

struct kslot {
  struct msg m;         /* a consumer gets straight into here */
  _Atomic uint64_t got; /* messages it took */
};

struct kill {
  mp_queue *q;
  bool ordered;
  atomic_int stop;
  _Atomic uint64_t intent[KILL_P]; /* s + 1: about to put message s */
  _Atomic uint64_t count[KILL_P];  /* messages put, confirmed */
  atomic_long dups;
  struct kslot slot[KILL_C];
  char why[KILL_P + KILL_C][128];
  _Atomic uint64_t bits[(KILL_P + 1) * (KILL_MAX / 64)];
};

struct kill_arg {
  struct kill *k;
  uint32_t id;
};

static int kill_producer(void *arg) {
  struct kill_arg *a = arg;
  struct kill *k = a->k;
  struct msg m;
  for (uint32_t s = 0; !atomic_load(&k->stop); s++) {
    if (s == KILL_MAX) {
      snprintf(k->why[a->id], 128, "ran out of sequence numbers");
      return 2;
    }
    size_t len = msg_make(&m, a->id, s);
    atomic_store(&k->intent[a->id], s + 1);
    int rc = mp_queue_put(k->q, &m, len, 10.0);
    if (rc != 0) {
      snprintf(k->why[a->id], 128, "put: %s", mp_err_name(rc));
      return 1;
    }
    atomic_store(&k->count[a->id], s + 1);
  }
  return 0;
}

static int kill_consumer(void *arg) {
  struct kill_arg *a = arg;
  struct kill *k = a->k;
  struct kslot *sl = &k->slot[a->id];
  char *why = k->why[KILL_P + a->id];
  int64_t last[KILL_P + 1] = {-1, -1, -1};
  for (;;) {
    size_t len;
    int rc = mp_queue_get(k->q, &sl->m, sizeof sl->m, &len, 10.0);
    if (rc == -ESHUTDOWN)
      return 0;
    if (rc != 0) {
      snprintf(why, 128, "get: %s", mp_err_name(rc));
      return 1;
    }
    if (!msg_ok(&sl->m, len, KILL_P + 1, KILL_MAX)) {
      msg_why(why, &sl->m, len, KILL_P + 1, KILL_MAX);
      return 2;
    }
    uint32_t p = sl->m.producer, s = sl->m.seq;
    if (bit_test_set(k->bits, (size_t)p * KILL_MAX + s))
      atomic_fetch_add(&k->dups, 1); /* the parent reports it */
    if (k->ordered && (int64_t)s <= last[p]) {
      snprintf(why, 128, "producer %u: %u after %lld", p, s,
               (long long)last[p]);
      return 3;
    }
    last[p] = s;
    /* Marked: the slot no longer counts (the seq_cst OR above keeps this
     * store after it). */
    sl->m.magic = 0;
    atomic_fetch_add(&sl->got, 1);
  }
}

/* What the kills hit, for QUEUE_TEST_TIMES: a producer inside its put (the
 * message in doubt went in / did not), a consumer with a whole message in
 * its slot (also marked / not). */
static struct { int doubt_in, doubt_out, slot_marked, slot_only; } hits;

/* The children of the current round not reaped yet (0: reaped). */
static pid_t live[KILL_P + KILL_C];

static void forget(pid_t pid) {
  for (int i = 0; i < KILL_P + KILL_C; i++)
    if (live[i] == pid)
      live[i] = 0;
}

/* The test's shared block and the round's queue, for end_round(). */
static mp_shm *kill_shm;
static struct kill *kill_cur;

/* Before a failing assertion: end and reap every child of the round, and
 * remove its queue and the shared block (a failed test leaves nothing in
 * /dev/shm). */
static void end_round(void) {
  for (int i = 0; i < KILL_P + KILL_C; i++)
    if (live[i] > 0) {
      kill(live[i], SIGKILL);
      waitpid(live[i], NULL, 0);
      live[i] = 0;
    }
  mp_queue_destroy(kill_cur->q);
  mp_shm_destroy(kill_shm);
}

/* ck_assert_msg that first cleans up the round (the message is formatted
 * before, while the shared block is still there). */
#define round_assert(cond, ...)                                                \
  do {                                                                         \
    if (!(cond)) {                                                             \
      char msg_[512];                                                          \
      snprintf(msg_, sizeof msg_, __VA_ARGS__);                                \
      end_round();                                                             \
      ck_abort_msg("%s", msg_);                                                \
    }                                                                          \
  } while (0)

/*
 * Accounting after a round. Producer p confirmed count[p] puts; a killed
 * one whose intent is count + 1 died inside the put of message count[p],
 * which may or may not have gone in: that one message is "in doubt". The
 * killed consumer's slot, if it holds a whole message, was got and maybe
 * not marked yet (killed between the get's commit and the mark): it counts
 * as delivered (union). The same message may also be marked, and that is
 * the one duplicate allowed: killed after copying it into the slot but
 * before the get's commit, the consumer left it in the queue for another
 * (or it had marked it itself and died before clearing the slot). Any
 * other message seen twice is counted in dups, which must stay 0.
 */
static void account(struct kill *k, int round, int dead_p, int dead_c) {
  round_assert(atomic_load(&k->dups) == 0, "round %d: %ld duplicates", round,
               atomic_load(&k->dups));
  const struct msg *sm = &k->slot[dead_c].m;
  bool slot_ok = msg_ok(sm, 0, KILL_P + 1, KILL_MAX);
  for (uint32_t p = 0; p <= KILL_P; p++) {
    /* The parent put 2 messages (health_check) */
    uint32_t count = p == PARENT_ID ? 2 : (uint32_t)atomic_load(&k->count[p]);
    uint32_t intent = p == PARENT_ID ? 2 : (uint32_t)atomic_load(&k->intent[p]);
    bool doubt = (int)p == dead_p && intent == count + 1;
    _Atomic uint64_t *bits = k->bits + (size_t)p * (KILL_MAX / 64);
    int64_t lost = -1, extra = -1;
    for (uint32_t s = 0; s < KILL_MAX && extra < 0; s++) {
      if (s % 64 == 0 && s > count + 1) { /* the rest: never put */
        for (uint32_t w = s / 64; w < KILL_MAX / 64 && extra < 0; w++) {
          uint64_t word = atomic_load(&bits[w]);
          if (word != 0)
            extra = (int64_t)w * 64 + __builtin_ctzll(word);
        }
        break;
      }
      bool marked = bit_get(bits, s);
      bool in_slot = slot_ok && sm->producer == p && sm->seq == s;
      bool got = marked || in_slot;
      if (in_slot)
        ++*(marked ? &hits.slot_marked : &hits.slot_only);
      if (doubt && s == count)
        ++*(got ? &hits.doubt_in : &hits.doubt_out);
      else if (s < count && !got && lost < 0)
        lost = s;
      else if (s >= count && got)
        extra = s;
    }
    round_assert(lost < 0, "round %d: producer %u%s: message %lld of %u lost",
                 round, p, (int)p == dead_p ? " (killed)" : "", (long long)lost,
                 count);
    round_assert(extra < 0,
                 "round %d: producer %u: message %lld came out, "
                 "but %u were put (intent %u)",
                 round, p, (long long)extra, count, intent);
  }
}

/* Reap pid within `seconds`; one that is still running then is killed and
 * reported as "hung" (-1000), so a wedged queue fails the test with a
 * message instead of hanging it. */
static int wait_bounded(pid_t pid, double seconds) {
  forget(pid);
  for (double t0 = t_now();; usleep(1000)) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    ck_assert_int_ge(r, 0);
    if (r == pid)
      return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
    if (t_now() - t0 > seconds) {
      t_kill(pid);
      return -1000;
    }
  }
}

/* After each kill the queue still takes a put and gives a get within 1 s
 * each (a dead holder of one of its locks wedges nothing). The parent's
 * messages (seq: the kill's number) and those it gets are accounted like
 * the others. */
static void health_check(struct kill *k, int round, uint32_t seq) {
  struct msg m;
  size_t len = msg_make(&m, PARENT_ID, seq);
  double t0 = t_now();
  int rc = mp_queue_put(k->q, &m, len, slow());
  double took = t_now() - t0;
  round_assert(rc == 0 && took < slow(),
               "round %d: put after kill %u: %s "
               "after %.2f s",
               round, seq, mp_err_name(rc), took);
  t0 = t_now();
  rc = mp_queue_get(k->q, &m, sizeof m, &len, slow());
  took = t_now() - t0;
  round_assert(rc == 0 && took < slow(),
               "round %d: get after kill %u: %s "
               "after %.2f s",
               round, seq, mp_err_name(rc), took);
  round_assert(msg_ok(&m, len, KILL_P + 1, KILL_MAX), "round %d: corrupted",
               round);
  if (bit_test_set(k->bits, (size_t)m.producer * KILL_MAX + m.seq))
    atomic_fetch_add(&k->dups, 1);
}

static void kill_round(struct kill *k, mp_queue_kind kind, int round) {
  memset(k, 0, sizeof *k);
  /* Small (producers often wait on a full queue, holding the FIFO's
   * producer lock) or roomy (they are mostly copying) by turns. */
  k->q = make(kind, round % 2 ? 4096 : 65536, 0, 0);
  k->ordered = kind != MP_QUEUE_LIFO;
  pid_t prod[KILL_P], cons[KILL_C];
  struct kill_arg pa[KILL_P], ca[KILL_C];
  for (int i = 0; i < KILL_C; i++) {
    ca[i] = (struct kill_arg){k, (uint32_t)i};
    live[KILL_P + i] = cons[i] = t_fork(kill_consumer, &ca[i]);
  }
  for (int i = 0; i < KILL_P; i++) {
    pa[i] = (struct kill_arg){k, (uint32_t)i};
    live[i] = prod[i] = t_fork(kill_producer, &pa[i]);
  }
  int dead_p = rand() % KILL_P, dead_c = rand() % KILL_C;
  for (int order = rand() % 2, n = 0; n < 2; n++, order ^= 1) {
    /* Let the victim get going, then kill it at a random instant. */
    _Atomic uint64_t *progress =
        order == 0 ? &k->count[dead_p] : &k->slot[dead_c].got;
    uint64_t target = 1 + (uint64_t)(rand() % 2000);
    round_assert(
        wait_progress(progress, target, 5.0 * slow()),
        "round %d: %s %d stuck for 5 s at %llu (qsize %ld)", round,
        order == 0 ? "producer" : "consumer", order == 0 ? dead_p : dead_c,
        (unsigned long long)atomic_load(progress), mp_queue_qsize(k->q));
    usleep((useconds_t)(rand() % 300));
    pid_t victim = order == 0 ? prod[dead_p] : cons[dead_c];
    forget(victim);
    t_kill(victim);
    health_check(k, round, (uint32_t)n);
  }
  atomic_store(&k->stop, 1);
  for (int i = 0; i < KILL_P; i++)
    if (i != dead_p) {
      int st = wait_bounded(prod[i], 5.0 * slow());
      round_assert(st == 0, "round %d: producer %d: exit %d: %s", round, i, st,
                   st == -1000 ? "hung for 5 s" : k->why[i]);
      ck_assert_uint_eq(atomic_load(&k->intent[i]), atomic_load(&k->count[i]));
    }
  ck_rc(mp_queue_shutdown(k->q, 0), 0); /* the consumers drain, then stop */
  for (int i = 0; i < KILL_C; i++)
    if (i != dead_c) {
      int st = wait_bounded(cons[i], 5.0 * slow());
      round_assert(st == 0, "round %d: consumer %d: exit %d: %s", round, i, st,
                   st == -1000 ? "hung for 5 s" : k->why[KILL_P + i]);
    }
  ck_rc((int)mp_queue_qsize(k->q), 0);
  account(k, round, dead_p, dead_c);
  ck_rc(mp_queue_destroy(k->q), 0);
}

/* Rounds of 2 producers and 2 consumers, one of each killed with SIGKILL
 * at a random instant - inside a put or get, holding a lock, asleep -
 * while the others keep going; the survivors finish and nothing is lost,
 * duplicated or corrupted beyond what the kills allow (see account()).
 * KILL_ROUNDS rounds, fewer if they take over KILL_BUDGET seconds. */
#define KILL_BUDGET 8.0
START_TEST(killed_at_random_moments) {
  struct kill *k = kill_cur = shared(sizeof *k, &kill_shm);
  unsigned seed = (unsigned)getpid();
  srand(seed);
  double t0 = t_now();
  int round = 0;
  while (round < KILL_ROUNDS && (round < 3 || t_now() - t0 < KILL_BUDGET))
    kill_round(k, kinds[_i], round++);
  if (getenv("QUEUE_TEST_TIMES"))
    fprintf(stderr,
            "kill %s: %d rounds in %.2f s (seed %u): in doubt %d "
            "in/%d out, slot %d marked/%d only\n",
            kind_names[_i], round, t_now() - t0, seed, hits.doubt_in,
            hits.doubt_out, hits.slot_marked, hits.slot_only);
  ck_rc(mp_shm_destroy(kill_shm), 0);
}
END_TEST

/* Two gets wait on an empty queue - on a FIFO the first sleeps holding the
 * consumer lock, the second waits for that lock. Kill the first: the
 * second takes the next message, and the queue works on. */
START_TEST(waiting_get_killed) {
  mp_queue *q = make(kinds[_i], 4096, 0, 0);
  struct blocked b = {q, 42, 0};
  pid_t p[2];
  for (int i = 0; i < 2; i++) {
    p[i] = t_fork(blocked_get, &b);
    ck_assert(t_wait_sleeping(p[i]));
  }
  t_kill(p[0]);
  ck_rc(put_long(q, 42, 1.0), 0);
  ck_assert_int_eq(t_wait(p[1]), 0);
  ck_rc(mp_queue_empty(q), 1);
  double t0 = t_now();
  ck_rc(put_long(q, 5, 1.0), 0);
  long v;
  ck_rc(get_long(q, &v, 1.0), 0);
  ck_assert_int_eq(v, 5);
  ck_took(t0, 0, 1.0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* Two puts wait on a full queue - on a FIFO the first sleeps HOLDING THE
 * PRODUCER LOCK, which is the deterministic case of a producer killed with
 * the lock. Kill it: its message never goes in, the second put does once
 * there is room, and the queue works on. */
START_TEST(waiting_put_killed) {
  mp_queue *q = make(kinds[_i], 4096, 1, 0);
  ck_rc(put_long(q, 1, 0), 0);
  struct blocked first = {q, 2, 0}, second = {q, 3, 0};
  pid_t p0 = t_fork(blocked_put, &first);
  ck_assert(t_wait_sleeping(p0));
  pid_t p1 = t_fork(blocked_put, &second);
  ck_assert(t_wait_sleeping(p1));
  t_kill(p0);
  long v;
  ck_rc(get_long(q, &v, 1.0), 0);
  ck_assert_int_eq(v, 1);
  ck_assert_int_eq(t_wait(p1), 0);
  ck_rc(get_long(q, &v, 1.0), 0);
  ck_assert_int_eq(v, 3);
  ck_rc(mp_queue_empty(q), 1);
  double t0 = t_now();
  ck_rc(put_long(q, 4, 1.0), 0);
  ck_rc(get_long(q, &v, 1.0), 0);
  ck_assert_int_eq(v, 4);
  ck_took(t0, 0, 1.0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/*
 * A waiter killed just after being handed a lock strands no one. On a
 * FIFO, a get (put) blocked on an empty (full) queue sleeps HOLDING the
 * consumer (producer) lock; later callers wait for that lock: W1 first,
 * then W2. The holder lets go (it is killed, or it takes a message and
 * returns) and the lock is handed to ONE waiter, W1 - which is killed
 * before it can run: it is pinned with SCHED_IDLE to the CPU this process
 * spins on. In variant 2 a thread of ours also barges in and holds the
 * lock while W1 dies, so the kernel's own rescue (waking the next waiter
 * when a woken one dies with the lock free) does not apply: W2 must still
 * be woken by whatever the library does. W2 waits at most 3 s and must
 * finish within a second of the queue letting it.
 * _i: 0 get side, holder killed; 1 put side, holder killed; 2 get side,
 * holder returns, a thread barges in.
 */
struct strand {
  mp_queue *q;
  bool put_side;
  int idle_cpu; /* >= 0: pin there with SCHED_IDLE first */
  double timeout;
  atomic_int tid; /* the barging thread's */
};

static int strand_call(void *arg) {
  struct strand *s = arg;
  if (s->idle_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(s->idle_cpu, &set);
    struct sched_param sp = {0};
    if (sched_setaffinity(0, sizeof set, &set) != 0 ||
        sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
      return 10;
  }
  long v = 0;
  int rc = s->put_side ? put_long(s->q, 3, s->timeout)
                       : get_long(s->q, &v, s->timeout);
  return rc == 0 ? 0 : 1;
}

/* Take the consumer lock by a get on the empty queue; hold it 0.3 s. */
static void *strand_barge(void *arg) {
  struct strand *s = arg;
  atomic_store(&s->tid, (int)gettid());
  long v;
  return (void *)(intptr_t)get_long(s->q, &v, 0.3);
}

/* A process's (or, with tid, one of our threads') state letter. */
static char proc_state(pid_t pid, int tid) {
  char path[96], buf[512] = "";
  if (tid)
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, tid);
  else
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

/* Spin - no yield, no sleep, so that W1 cannot run - until pid (or our
 * thread tid) is in state `want`; false after 5 s. */
static bool spin_until(pid_t pid, int tid, char want) {
  for (double t0 = t_now(); proc_state(pid, tid) != want;)
    if (t_now() - t0 > 5.0)
      return false;
  return true;
}

START_TEST(killed_waiter_strands_no_one) {
  if (t_instrumented())
    return; /* the staging relies on real scheduling */
  bool put_side = _i == 1, barge = _i == 2;
  mp_queue *q = make(MP_QUEUE_FIFO, 4096, 1, 0);
  if (put_side)
    ck_rc(put_long(q, 1, 0), 0); /* full */
  cpu_set_t old, one;
  ck_assert_int_eq(sched_getaffinity(0, sizeof old, &old), 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &old))
    cpu++;
  struct strand holder = {q, put_side, -1, 30.0, 0};
  struct strand w1 = {q, put_side, cpu, 30.0, 0},
                w2 = {q, put_side, -1, 3.0, 0};
  struct strand b = {q, false, -1, 0.3, 0};
  pid_t h = t_fork(strand_call, &holder);
  ck_assert(t_wait_sleeping(h)); /* asleep in the queue, holding its lock */
  pid_t p1 = t_fork(strand_call, &w1);
  ck_assert(t_wait_sleeping(p1)); /* waits for the lock, first */
  pid_t p2 = t_fork(strand_call, &w2);
  ck_assert(t_wait_sleeping(p2)); /* waits for the lock, second */
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
  pthread_t t;
  if (barge) {
    ck_rc(put_long(q, 7, 1.0), 0); /* the holder takes it and returns */
    ck_assert(spin_until(h, 0, 'Z'));
    ck_assert_int_eq(pthread_create(&t, NULL, strand_barge, &b), 0);
    while (atomic_load(&b.tid) == 0)
      ;
    ck_assert(spin_until(getpid(), atomic_load(&b.tid), 'S'));
  } else {
    kill(h, SIGKILL);
    ck_assert(spin_until(h, 0, 'Z')); /* its lock was handed on */
  }
  char w1_state = proc_state(p1, 0);
  kill(p1, SIGKILL);
  ck_assert_int_eq(sched_setaffinity(0, sizeof old, &old), 0);
  ck_assert_int_eq(t_wait(h), barge ? 0 : -SIGKILL);
  ck_assert_int_eq(t_wait(p1), -SIGKILL);
  if (barge) {
    void *r;
    ck_assert_int_eq(pthread_join(t, &r), 0);
    ck_assert_int_eq((int)(intptr_t)r, -ETIMEDOUT);
  }
  long v;
  if (put_side) {
    ck_rc(get_long(q, &v, 1.0), 0); /* room for W2 */
    ck_assert_int_eq(v, 1);
  } else {
    ck_rc(put_long(q, 42, 1.0), 0); /* a message for W2 */
  }
  double t0 = t_now();
  int st = t_wait(p2);
  double took = t_now() - t0;
  if (st != 0 || took >= 1.0)
    mp_queue_destroy(q); /* nothing left in /dev/shm by the failure */
  ck_assert_msg(st == 0 && took < 1.0,
                "W2 (%s side%s) exited %d after %.2f "
                "s (W1 was '%c' when killed): stranded waiting for a lock "
                "nobody holds",
                put_side ? "put" : "get", barge ? ", barged" : "", st, took,
                w1_state);
  if (put_side) {
    ck_rc(get_long(q, &v, 1.0), 0);
    ck_assert_int_eq(v, 3);
  }
  ck_rc(mp_queue_empty(q), 1);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

/* ---- names and bad input ------------------------------------------------- */

/* ---- one producer / one consumer: kept sides ----------------------------- */

static const unsigned one_flags[] = {
    MP_QUEUE_ONE_PRODUCER, MP_QUEUE_ONE_CONSUMER,
    MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER};

static mp_queue *make_one(unsigned flags, size_t capacity, int joinable) {
  mp_queue_options o = {.capacity = capacity, .joinable = joinable,
                        .flags = flags};
  mp_queue *q = NULL;
  ck_rc(mp_queue_create(NULL, &o, &q), 0);
  return q;
}

struct stream {
  mp_queue *q;
  uint32_t n;
};

/* n checksummed messages of producer 0, in order. */
static int stream_put(void *arg) {
  struct stream *st = arg;
  struct msg m;
  for (uint32_t s = 0; s < st->n; s++) {
    size_t len = msg_make(&m, 0, s);
    if (mp_queue_put(st->q, &m, len, 10.0) != 0)
      return 1;
  }
  return 0;
}

static int stream_get(void *arg) {
  struct stream *st = arg;
  struct msg m;
  for (uint32_t s = 0; s < st->n; s++) {
    size_t len;
    if (mp_queue_get(st->q, &m, sizeof m, &len, 10.0) != 0)
      return 1;
    if (!msg_ok(&m, len, 1, st->n))
      return 2;
    if (m.seq != s)
      return 3;
  }
  return 0;
}

/* A stream from one process to another arrives whole and in order, with a
 * small queue (each side often sleeps: the fenced wake-ups) and a roomy one. */
static void stream_case(unsigned flags) {
  for (int roomy = 0; roomy < 2; roomy++) {
    struct stream st = {make_one(flags, roomy ? 1 << 20 : 1024, 0),
                        scaled(roomy ? 200000 : 50000, 20)};
    pid_t prod = t_fork(stream_put, &st), cons = t_fork(stream_get, &st);
    ck_assert_int_eq(t_wait(prod), 0);
    ck_assert_int_eq(t_wait(cons), 0);
    ck_rc((int)mp_queue_qsize(st.q), 0);
    ck_rc(mp_queue_destroy(st.q), 0);
  }
}

START_TEST(one_sides_stream) { stream_case(one_flags[_i]); }
END_TEST

struct holder_arg {
  mp_queue *q;
  bool consumer; /* which side: get, or put */
  int ready[2], go[2];
};

/* Take the side with one call, say so, wait for "go", exit (without
 * closing: the kernel passes the side on). */
static int side_holder(void *arg) {
  struct holder_arg *h = arg;
  long v = 1;
  int rc = h->consumer ? get_long(h->q, &v, 5.0) : put_long(h->q, 1, 5.0);
  if (rc != 0)
    return 1;
  t_send(h->ready[1]);
  return t_recv(h->go[0]) ? 0 : 2;
}

/* The side is held elsewhere: at once -EAGAIN, then -ETIMEDOUT, then - the
 * holder gone - the call goes through. */
static int side_waiter(void *arg) {
  struct holder_arg *h = arg;
  long v = 2;
  int rc = h->consumer ? get_long(h->q, &v, 0) : put_long(h->q, 2, 0);
  if (rc != -EAGAIN)
    return 10;
  double t0 = t_now();
  rc = h->consumer ? get_long(h->q, &v, 0.05) : put_long(h->q, 2, 0.05);
  if (rc != -ETIMEDOUT || t_now() - t0 < 0.045)
    return 11;
  t_send(h->ready[1]);
  rc = h->consumer ? get_long(h->q, &v, 10.0) : put_long(h->q, 2, 10.0);
  return rc != 0 ? 12 : h->consumer && v != 2 ? 13 : 0;
}

/* A kept side waits for its holder like a lock, and passes to the next
 * caller when the holder exits. _i: 0 the producer side, 1 the consumer's. */
START_TEST(one_side_waits_for_holder) {
  struct holder_arg h = {make_one(MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER,
                                  4096, 0),
                         _i == 1, {0, 0}, {0, 0}};
  t_pipe(h.ready);
  t_pipe(h.go);
  if (h.consumer) { /* messages for the holder and the waiter */
    ck_rc(put_long(h.q, 1, 0), 0);
    ck_rc(put_long(h.q, 2, 0), 0);
  }
  pid_t holder = t_fork(side_holder, &h);
  ck_assert(t_recv(h.ready[0]));
  pid_t waiter = t_fork(side_waiter, &h);
  ck_assert(t_recv(h.ready[0]));
  t_send(h.go[1]);
  ck_assert_int_eq(t_wait(holder), 0);
  ck_assert_int_eq(t_wait(waiter), 0);
  long v;
  if (h.consumer) {
    ck_rc(get_long(h.q, &v, 0), -EAGAIN); /* both messages were taken */
  } else {
    ck_rc(get_long(h.q, &v, 0), 0);
    ck_assert_int_eq(v, 1);
    ck_rc(get_long(h.q, &v, 0), 0);
    ck_assert_int_eq(v, 2);
  }
  for (int i = 0; i < 2; i++) {
    close(h.ready[i]);
    close(h.go[i]);
  }
  ck_rc(mp_queue_destroy(h.q), 0);
}
END_TEST

struct thread_holder {
  mp_queue *q;
  int ready[2], go[2];
};

static void *hold_both_sides(void *arg) {
  struct thread_holder *t = arg;
  long v;
  if (put_long(t->q, 5, 1.0) != 0 || get_long(t->q, &v, 1.0) != 0 || v != 5)
    return (void *)1;
  t_send(t->ready[1]);
  return t_recv(t->go[0]) ? NULL : (void *)2;
}

/* Another thread of this process keeps the sides: closing or destroying
 * the queue is -EBUSY (the sides stay usable); once that thread has
 * exited, the sides pass on and the queue closes. */
START_TEST(one_sides_thread_exit_and_close) {
  struct thread_holder t = {make_one(one_flags[2], 4096, 0), {0, 0}, {0, 0}};
  t_pipe(t.ready);
  t_pipe(t.go);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, hold_both_sides, &t), 0);
  ck_assert(t_recv(t.ready[0]));
  ck_rc(mp_queue_destroy(t.q), -EBUSY);
  ck_rc(mp_queue_close(t.q), -EBUSY);
  long v;
  ck_rc(put_long(t.q, 6, 0), -EAGAIN); /* the side is the thread's */
  t_send(t.go[1]);
  void *ret;
  ck_assert_int_eq(pthread_join(th, &ret), 0);
  ck_assert_ptr_null(ret);
  ck_rc(put_long(t.q, 7, 1.0), 0);
  ck_rc(get_long(t.q, &v, 1.0), 0);
  ck_assert_int_eq(v, 7);
  for (int i = 0; i < 2; i++) {
    close(t.ready[i]);
    close(t.go[i]);
  }
  ck_rc(mp_queue_destroy(t.q), 0);
}
END_TEST

#define WAKE_ROUNDS 100

/* Put WAKE_ROUNDS values, each once the parent sleeps in its get. */
static int put_when_parent_sleeps(void *arg) {
  mp_queue *q = arg;
  for (long r = 0; r < WAKE_ROUNDS; r++) {
    if (!t_wait_sleeping(getppid()))
      return 1;
    if (put_long(q, r, 5.0) != 0)
      return 2;
  }
  return 0;
}

/* Fill a queue of maxsize 1: each put after the first sleeps until the
 * parent gets. */
static int put_into_full(void *arg) {
  mp_queue *q = arg;
  for (long r = 0; r < WAKE_ROUNDS; r++)
    if (put_long(q, r, 5.0) != 0)
      return 1;
  return 0;
}

/* The wake-ups of kept sides (a plain store, fenced by the sleeper): a get
 * asleep on an empty queue wakes for each put; a put asleep on a full queue
 * wakes for each get - every time promptly, not at the end of a sleep
 * slice. */
static void sleep_wake_case(unsigned flags) {
  for (int full = 0; full < 2; full++) {
    mp_queue_options o = {.capacity = 64, .maxsize = 1, .flags = flags};
    mp_queue *q;
    ck_rc(mp_queue_create(NULL, &o, &q), 0);
    pid_t pid = t_fork(full ? put_into_full : put_when_parent_sleeps, q);
    double worst = 0;
    for (long r = 0; r < WAKE_ROUNDS; r++) {
      if (full && r < WAKE_ROUNDS - 1) /* it sleeps in the put of r + 1 */
        ck_assert(t_wait_sleeping(pid));
      long v;
      double t0 = t_now();
      ck_rc(get_long(q, &v, 5.0), 0);
      if (t_now() - t0 > worst)
        worst = t_now() - t0;
      ck_assert_int_eq(v, r);
    }
    ck_assert_int_eq(t_wait(pid), 0);
    if (!full) /* each get waited for one put */
      ck_assert_msg(worst < 0.09 * slow(), "a get slept %.3f s", worst);
    ck_rc(mp_queue_destroy(q), 0);
  }
}

START_TEST(one_sides_sleep_and_wake) { sleep_wake_case(one_flags[_i]); }
END_TEST

/* Where membarrier is missing (MPROC_NO_MEMBARRIER: tests only), the
 * holder keeps its full fence and sleepers sleep in short slices: the same
 * streams and wake-ups work. */
START_TEST(one_sides_without_membarrier) {
  setenv("MPROC_NO_MEMBARRIER", "1", 1); /* this test's process and children */
  stream_case(one_flags[_i]);
  sleep_wake_case(one_flags[_i]);
  unsetenv("MPROC_NO_MEMBARRIER");
}
END_TEST

/* One producer and one consumer at a time, one of them killed at a random
 * moment and replaced; the stream goes on. Producers 0 and 1 (the
 * replacement) number their messages; consumers get straight into a shared
 * slot, then mark the message. */
struct one_kill {
  mp_queue *q;
  atomic_int stop;
  _Atomic uint64_t intent[2], count[2];
  struct kslot slot[2];
  atomic_long dups, bad;
  _Atomic uint64_t bits[2 * (KILL_MAX / 64)];
};

struct one_arg {
  struct one_kill *k;
  uint32_t id;
};

static int one_producer(void *arg) {
  struct one_arg *a = arg;
  struct one_kill *k = a->k;
  struct msg m;
  for (uint32_t s = 0; !atomic_load(&k->stop) && s < KILL_MAX; s++) {
    size_t len = msg_make(&m, a->id, s);
    atomic_store(&k->intent[a->id], s + 1);
    if (mp_queue_put(k->q, &m, len, 10.0) != 0)
      return 1;
    atomic_store(&k->count[a->id], s + 1);
  }
  return 0;
}

static int one_consumer(void *arg) {
  struct one_arg *a = arg;
  struct one_kill *k = a->k;
  struct kslot *sl = &k->slot[a->id];
  int64_t last[2] = {-1, -1};
  for (;;) {
    size_t len;
    int rc = mp_queue_get(k->q, &sl->m, sizeof sl->m, &len, 10.0);
    if (rc == -ESHUTDOWN)
      return 0;
    if (rc != 0)
      return 1;
    if (!msg_ok(&sl->m, len, 2, KILL_MAX))
      return 2;
    uint32_t p = sl->m.producer, s = sl->m.seq;
    if (bit_test_set(k->bits, (size_t)p * KILL_MAX + s))
      atomic_fetch_add(&k->dups, 1);
    if ((int64_t)s <= last[p])
      atomic_fetch_add(&k->bad, 1); /* out of order */
    last[p] = s;
    sl->m.magic = 0;
    atomic_fetch_add(&sl->got, 1);
  }
}

static void one_kill_round(struct one_kill *k, int round) {
  memset(k, 0, sizeof *k);
  k->q = make_one(one_flags[2], round % 2 ? 4096 : 65536, 0);
  struct one_arg pa[2] = {{k, 0}, {k, 1}}, ca[2] = {{k, 0}, {k, 1}};
  pid_t prod = t_fork(one_producer, &pa[0]);
  pid_t cons = t_fork(one_consumer, &ca[0]);
  bool kill_consumer = rand() % 2;
  ck_assert(wait_progress(&k->slot[0].got, 1 + (uint64_t)(rand() % 2000),
                          5.0 * slow()));
  usleep((useconds_t)(rand() % 300));
  t_kill(kill_consumer ? cons : prod);
  /* The replacement takes the side over from the dead holder. */
  pid_t next = t_fork(kill_consumer ? one_consumer : one_producer,
                      kill_consumer ? (void *)&ca[1] : (void *)&pa[1]);
  _Atomic uint64_t *progress = kill_consumer ? &k->slot[1].got : &k->count[1];
  ck_assert_msg(wait_progress(progress, 100, 5.0 * slow()),
                "round %d: the replacement %s never got going", round,
                kill_consumer ? "consumer" : "producer");
  atomic_store(&k->stop, 1);
  ck_assert_int_eq(t_wait(kill_consumer ? prod : next), 0);
  ck_rc(mp_queue_shutdown(k->q, 0), 0);
  ck_assert_int_eq(t_wait(kill_consumer ? next : cons), 0);
  ck_assert_int_eq(atomic_load(&k->dups), 0);
  ck_assert_int_eq(atomic_load(&k->bad), 0);
  /* Every message confirmed arrived (marked, or in the dead consumer's
   * slot); beyond that only the dead producer's message in doubt. */
  const struct msg *sm = &k->slot[0].m;
  bool slot_ok = kill_consumer && msg_ok(sm, 0, 2, KILL_MAX);
  for (uint32_t p = 0; p < 2; p++) {
    uint64_t count = atomic_load(&k->count[p]);
    for (uint64_t s = 0; s < count + 2 && s < KILL_MAX; s++) {
      bool got = bit_get(k->bits, p * KILL_MAX + s) ||
                 (slot_ok && sm->producer == p && sm->seq == s);
      bool doubt = !kill_consumer && p == 0 && s == count &&
                   atomic_load(&k->intent[0]) == count + 1;
      if (s < count && !got)
        ck_abort_msg("round %d: producer %u: message %llu of %llu lost",
                     round, p, (unsigned long long)s,
                     (unsigned long long)count);
      if (s >= count && got && !doubt)
        ck_abort_msg("round %d: producer %u: message %llu came out, but %llu "
                     "were put", round, p, (unsigned long long)s,
                     (unsigned long long)count);
    }
  }
  ck_rc(mp_queue_destroy(k->q), 0);
}

START_TEST(one_sides_killed) {
  mp_shm *shm;
  struct one_kill *k = shared(sizeof *k, &shm);
  srand((unsigned)getpid());
  double t0 = t_now();
  for (int round = 0; round < 20 && (round < 4 || t_now() - t0 < 3.0);
       round++)
    one_kill_round(k, round);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

struct shut_holder {
  mp_queue *q;
  int ready[2], go[2];
};

/* Get one message (keeping the consumer side), wait, then find the queue
 * shut down; task_done the message got. */
static int hold_then_find_shutdown(void *arg) {
  struct shut_holder *h = arg;
  long v;
  if (get_long(h->q, &v, 5.0) != 0)
    return 1;
  t_send(h->ready[1]);
  if (!t_recv(h->go[0]))
    return 2;
  if (get_long(h->q, &v, 5.0) != -ESHUTDOWN)
    return 3;
  return mp_queue_task_done(h->q) == 0 ? 0 : 4;
}

/* An immediate shutdown does not wait for a side another process keeps:
 * what is left is dropped at once, join waits only for the message that
 * was got. */
START_TEST(one_sides_immediate_shutdown) {
  struct shut_holder h = {make_one(one_flags[_i], 4096, 1), {0, 0}, {0, 0}};
  t_pipe(h.ready);
  t_pipe(h.go);
  ck_rc(put_long(h.q, 1, 0), 0);
  pid_t pid = t_fork(hold_then_find_shutdown, &h);
  ck_assert(t_recv(h.ready[0]));
  for (long v = 2; v < 5; v++)
    ck_rc(put_long(h.q, v, 0), 0);
  ck_rc((int)mp_queue_qsize(h.q), 3);
  double t0 = t_now();
  ck_rc(mp_queue_shutdown(h.q, 1), 0);
  ck_took(t0, 0, 0.5);
  ck_rc((int)mp_queue_qsize(h.q), 0);
  ck_rc(mp_queue_empty(h.q), 1);
  ck_rc(mp_queue_full(h.q), 0);
  ck_rc(put_long(h.q, 9, 0), -ESHUTDOWN);
  ck_rc(mp_queue_join(h.q, 0), -EAGAIN); /* the holder's message */
  t_send(h.go[1]);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_queue_join(h.q, 1.0), 0);
  ck_rc(mp_queue_task_done(h.q), -ERANGE);
  for (int i = 0; i < 2; i++) {
    close(h.ready[i]);
    close(h.go[i]);
  }
  ck_rc(mp_queue_destroy(h.q), 0);
}
END_TEST

START_TEST(named_lifecycle) {
  char name[64];
  snprintf(name, sizeof name, "/mproc-test-queue-%d", (int)getpid());
  mp_queue_options o = {
      .capacity = 1000, .maxsize = 3, .kind = MP_QUEUE_PRIORITY, .joinable = 1};
  mp_queue *q, *again, *other;
  ck_rc(mp_queue_create(name, &o, &q), 0);
  ck_assert_str_eq(mp_queue_name(q), name);
  ck_rc(mp_queue_create(name, NULL, &other), -EEXIST);
  ck_assert_ptr_null(other);
  ck_rc(mp_queue_open(name, &again), 0);
  ck_assert_uint_eq(mp_queue_capacity(again), 1000);
  ck_assert_uint_eq(mp_queue_maxsize(again), 3);
  ck_rc(mp_queue_put_priority(q, 2, "b", 1, 0), 0);
  ck_rc(mp_queue_put_priority(again, 1, "a", 1, 0), 0);
  char c;
  size_t len;
  ck_rc(mp_queue_get(again, &c, 1, &len, 0), 0); /* one queue, two maps */
  ck_assert_int_eq(c, 'a');
  ck_rc(mp_queue_task_done(again), 0);
  ck_rc(mp_queue_join(q, 0), -EAGAIN);
  ck_rc(mp_queue_close(again), 0);
  ck_rc(mp_queue_close(again), -EINVAL); /* closed twice: refused */
  ck_rc(mp_queue_destroy(q), 0);
  ck_assert(!t_shm_exists(name));
  ck_rc(mp_queue_open(name, &again), -ENOENT);
  /* Defaults: NULL options. */
  ck_rc(mp_queue_create(NULL, NULL, &q), 0);
  ck_assert_uint_eq(mp_queue_capacity(q), MP_QUEUE_DEFAULT_CAPACITY);
  ck_assert_uint_eq(mp_queue_maxsize(q), 0);
  ck_rc(mp_queue_put(q, "x", 1, 0), 0);
  ck_rc(mp_queue_task_done(q), -EINVAL); /* not joinable by default */
  ck_assert_int_eq(strncmp(mp_queue_name(q), "/mproc-", 7), 0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

START_TEST(bad_input) {
  mp_queue *q = (mp_queue *)1;
  mp_queue_options o = {0};
  ck_rc(mp_queue_create(NULL, NULL, NULL), -EINVAL);
  o.kind = (mp_queue_kind)3;
  ck_rc(mp_queue_create(NULL, &o, &q), -EINVAL);
  ck_assert_ptr_null(q);
  o.kind = (mp_queue_kind)-1;
  ck_rc(mp_queue_create(NULL, &o, &q), -EINVAL);
  o.kind = MP_QUEUE_LIFO; /* kept sides are for FIFO queues */
  o.flags = MP_QUEUE_ONE_PRODUCER;
  ck_rc(mp_queue_create(NULL, &o, &q), -EINVAL);
  o.kind = MP_QUEUE_FIFO;
  o.flags = 4; /* unknown */
  ck_rc(mp_queue_create(NULL, &o, &q), -EINVAL);
  o.flags = 0;
  o.capacity = MP_QUEUE_CAPACITY_MAX + 1;
  ck_rc(mp_queue_create(NULL, &o, &q), -EINVAL);
  o.capacity = SIZE_MAX;
  ck_rc(mp_queue_create(NULL, &o, &q), -EINVAL);
  o.capacity = 100;
  ck_rc(mp_queue_create("no-slash", &o, &q), -EINVAL);
  ck_rc(mp_queue_open(NULL, &q), -EINVAL);
  ck_rc(mp_queue_open("/mproc-x", NULL), -EINVAL);
  ck_rc(mp_queue_open("/mproc-test-queue-none", &q), -ENOENT);

  /* NULL queue. */
  size_t len = 0;
  char buf[8];
  void *p;
  int64_t prio;
  ck_rc(mp_queue_put(NULL, "x", 1, 0), -EINVAL);
  ck_rc(mp_queue_put_priority(NULL, 1, "x", 1, 0), -EINVAL);
  ck_rc(mp_queue_get(NULL, buf, sizeof buf, &len, 0), -EINVAL);
  ck_rc(mp_queue_get_priority(NULL, buf, sizeof buf, &len, &prio, 0), -EINVAL);
  ck_rc(mp_queue_get_alloc(NULL, &p, &len, 0), -EINVAL);
  ck_rc((int)mp_queue_qsize(NULL), -EINVAL);
  ck_rc(mp_queue_empty(NULL), -EINVAL);
  ck_rc(mp_queue_full(NULL), -EINVAL);
  ck_assert_uint_eq(mp_queue_capacity(NULL), 0);
  ck_assert_uint_eq(mp_queue_maxsize(NULL), 0);
  ck_rc(mp_queue_task_done(NULL), -EINVAL);
  ck_rc(mp_queue_join(NULL, 0), -EINVAL);
  ck_rc(mp_queue_shutdown(NULL, 0), -EINVAL);
  ck_rc(mp_queue_shutdown(NULL, 1), -EINVAL);
  ck_rc(mp_queue_is_shutdown(NULL), -EINVAL);
  ck_assert_ptr_null(mp_queue_name(NULL));
  ck_rc(mp_queue_close(NULL), 0);
  ck_rc(mp_queue_destroy(NULL), 0);

  for (int k = 0; k < NKINDS; k++) {
    q = make(kinds[k], 1000, 0, 1);
    ck_rc(mp_queue_put(q, NULL, 5, 0), -EINVAL);
    ck_rc(mp_queue_put_priority(q, 1, NULL, 5, 0), -EINVAL);
    ck_rc(mp_queue_put(q, "x", 1, NAN), -EINVAL);
    ck_rc(mp_queue_put_priority(q, 1, "x", 1, NAN), -EINVAL);
    ck_rc((int)mp_queue_qsize(q), 0); /* nothing went in */
    ck_rc(mp_queue_put(q, "x", 1, 0), 0);
    ck_rc(mp_queue_get(q, NULL, 5, &len, 0), -EINVAL);
    ck_rc(mp_queue_get(q, buf, sizeof buf, NULL, 0), -EINVAL);
    ck_rc(mp_queue_get(q, buf, sizeof buf, &len, NAN), -EINVAL);
    ck_rc(mp_queue_get_priority(q, NULL, 5, &len, &prio, 0), -EINVAL);
    ck_rc(mp_queue_get_priority(q, buf, sizeof buf, NULL, &prio, 0), -EINVAL);
    ck_rc(mp_queue_get_priority(q, buf, sizeof buf, &len, &prio, NAN), -EINVAL);
    ck_rc(mp_queue_get_alloc(q, NULL, &len, 0), -EINVAL);
    ck_rc(mp_queue_get_alloc(q, &p, NULL, 0), -EINVAL);
    ck_rc(mp_queue_get_alloc(q, &p, &len, NAN), -EINVAL);
    ck_rc((int)mp_queue_qsize(q), 1); /* nothing came out */
    ck_rc(mp_queue_join(q, NAN), -EINVAL);
    /* A NULL priority pointer is allowed. */
    ck_rc(mp_queue_get_priority(q, buf, sizeof buf, &len, NULL, 0), 0);
    ck_assert_uint_eq(len, 1);
    ck_rc(mp_queue_destroy(q), 0);
  }

  /* Names of other kinds: MP_EKIND both ways. */
  mp_lock *lock, *l2;
  ck_rc(mp_lock_create(NULL, &lock), 0);
  ck_rc(mp_queue_open(mp_lock_name(lock), &q), MP_EKIND);
  q = make(MP_QUEUE_FIFO, 100, 0, 0);
  ck_rc(mp_lock_open(mp_queue_name(q), &l2), MP_EKIND);
  /* A queue's handle is not a lock's, and the other way round. */
  ck_rc(mp_queue_put((mp_queue *)lock, "x", 1, 0), -EINVAL);
  ck_rc(mp_queue_close((mp_queue *)lock), -EINVAL);
  ck_rc(mp_lock_destroy(lock), 0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

Suite *queue_suite(void) {
  Suite *s = suite_create("queue");
  TCase *ts = tcase_create("seeds");
  tcase_set_timeout(ts, T_TIMEOUT);
  tcase_add_loop_test(ts, seed_square_list, 0, NKINDS);
  tcase_add_loop_test(ts, seed_join_until_task_done, 0, NKINDS);
  tcase_add_loop_test(ts, seed_queue5_full_and_empty, 0, NKINDS);
  tcase_add_test(ts, priority_order);
  tcase_add_test(ts, lifo_order);
  tcase_add_test(ts, priority_ignored_by_fifo_and_lifo);
  tcase_add_loop_test(ts, seed_website_checker, 0, NKINDS);
  tcase_add_loop_test(ts, blocked_calls_wake, 0, NKINDS);
  suite_add_tcase(s, ts);
  TCase *tsh = tcase_create("shutdown");
  tcase_set_timeout(tsh, T_TIMEOUT);
  tcase_add_loop_test(tsh, shutdown_drains_then_refuses, 0, NKINDS);
  tcase_add_loop_test(tsh, shutdown_wakes_blocked_gets, 0, 2 * NKINDS);
  tcase_add_loop_test(tsh, shutdown_wakes_blocked_puts, 0, 2 * NKINDS);
  tcase_add_loop_test(tsh, shutdown_immediate, 0, NKINDS);
  tcase_add_loop_test(tsh, shutdown_immediate_after_plain, 0, NKINDS);
  tcase_add_loop_test(tsh, joinable_rules, 0, NKINDS);
  suite_add_tcase(s, tsh);
  TCase *tm = tcase_create("messages");
  tcase_set_timeout(tm, T_TIMEOUT);
  tcase_add_loop_test(tm, zero_length_messages, 0, NKINDS);
  tcase_add_loop_test(tm, message_over_capacity, 0, NKINDS);
  tcase_add_loop_test(tm, receive_buffer_too_small, 0, NKINDS);
  tcase_add_loop_test(tm, get_alloc_messages, 0, NKINDS);
  tcase_add_loop_test(tm, wrap_around_many_times, 0, NKINDS);
  tcase_add_loop_test(tm, capacity_roughly_the_bytes_held, 0, NKINDS);
  suite_add_tcase(s, tm);
  TCase *tn = tcase_create("names");
  tcase_set_timeout(tn, T_TIMEOUT);
  tcase_add_loop_test(tn, open_by_name_in_forked_child, 0, NKINDS);
  tcase_add_loop_test(tn, open_by_name_in_spawned_process, 0, NKINDS);
  tcase_add_test(tn, named_lifecycle);
  tcase_add_test(tn, bad_input);
  suite_add_tcase(s, tn);
  TCase *tl = tcase_create("load");
  tcase_set_timeout(tl, T_TIMEOUT);
  tcase_add_loop_test(tl, threads_and_processes_mixed, 0, NKINDS);
  tcase_add_loop_test(tl, exactly_once_under_load, 0, NKINDS);
  suite_add_tcase(s, tl);
  TCase *tk = tcase_create("kill");
  tcase_set_timeout(tk, T_TIMEOUT);
  tcase_add_loop_test(tk, waiting_get_killed, 0, NKINDS);
  tcase_add_loop_test(tk, waiting_put_killed, 0, NKINDS);
  tcase_add_loop_test(tk, killed_waiter_strands_no_one, 0, 3);
  tcase_add_loop_test(tk, killed_at_random_moments, 0, NKINDS);

  TCase *to = tcase_create("one producer, one consumer");
  tcase_set_timeout(to, T_TIMEOUT);
  tcase_add_loop_test(to, one_sides_stream, 0, 3);
  tcase_add_loop_test(to, one_side_waits_for_holder, 0, 2);
  tcase_add_test(to, one_sides_thread_exit_and_close);
  tcase_add_loop_test(to, one_sides_sleep_and_wake, 0, 3);
  tcase_add_loop_test(to, one_sides_without_membarrier, 0, 3);
  tcase_add_test(to, one_sides_killed);
  tcase_add_loop_test(to, one_sides_immediate_shutdown, 0, 3);
  suite_add_tcase(s, tk);
  suite_add_tcase(s, to);
  return s;
}
