/*
 * test/bench/bench_queue.c - Queue and Pipe throughput (issue 5).
 *
 *  queue_64B_1p1c     one producer process puts N 64-byte messages into an
 *                     mp_queue, one consumer process gets them; msgs/s.
 *                     Peers: raw pipe(2) (one write + one read of 64 bytes
 *                     per message), POSIX message queues (mq_send /
 *                     mq_receive), a minimal lock-free single-producer /
 *                     single-consumer ring of 64-byte slots in shared memory
 *                     with busy-polling (the practical limit), and Python's
 *                     multiprocessing.Queue.
 *  queue_one_64B_1p1c the same with a queue created with
 *                     MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER (each
 *                     side kept by its process between calls).
 *  queue_64B_2p2c     the same with 2 producers and 2 consumers on one
 *                     queue; peers: pipe(2), POSIX mq, Python's Queue.
 *  queue_1MiB_1p1c    1 MiB messages, 1 -> 1, MB/s; peers: memcpy of 1 MiB
 *                     in one process (bandwidth), the SPSC ring with 1 MiB
 *                     slots (4 of them: the bytes of the mp_queue's ring),
 *                     Python's Queue.
 *  queue_one_1MiB_1p1c the same with a one-producer / one-consumer queue.
 *  pipe_64B           mp_pipe / mp_conn_send / mp_conn_recv, 64-byte
 *                     messages, 1 -> 1, msgs/s; peers: a raw blocking
 *                     socketpair (send / recv of the same 64 bytes),
 *                     Python's Pipe (send_bytes / recv_bytes).
 *  pipe_1MiB          the same with 1 MiB messages, MB/s.
 *
 * In the 1 -> 1 workloads the producer and the consumer are pinned to two
 * CPUs; the 2 -> 2 processes are left to the scheduler. A run is timed from
 * a common start until the last consumer has its last message. Each
 * producer ends with one stop message; each consumer stops at one.
 *
 * Every message carries its producer and sequence number three times (at
 * its start, middle and end); consumers check them (length, no torn
 * message, order per producer) and count and sum what they got, which the
 * parent compares with what was sent. The first and the last message each
 * consumer gets are compared whole. Any mismatch fails the benchmark.
 *
 * The message count of each case is calibrated so that a run takes about
 * --seconds; every figure is the best of --runs runs, the cases of a
 * workload measured alternately. The Python figures come from
 * bench_queue.py (skipped, "-", when python3 is missing).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

/* A child that has not finished after this many seconds is stuck. */
#define CHILD_ALARM_S 60

#define SMALL 64u
#define BIG ((size_t)1 << 20)
#define MAXP 2 /* producers (and consumers) at most */
#define SEQ_BITS 48
#define SEQ_STOP ((UINT64_C(1) << SEQ_BITS) - 1)
#define MB_PER_S "MB/s"
#define MSGS_PER_S "msgs/s"

static const char usage[] =
    "usage: bench_queue [--seconds=S] [--runs=N] [--capacity=BYTES]\n"
    "                   [--python=PROG] [--py-script=PATH]\n"
    "                   [--py-seconds=S] [--quick]\n"
    "  --seconds: length of one timed run (default 0.2; the message\n"
    "  count is calibrated to it); --capacity: the mp_queue capacity\n"
    "  of the 64-byte workloads (default 1 MiB, the library's\n"
    "  default); --python= (empty) skips the Python peer; --quick\n"
    "  divides the run lengths by 10 (a smoke test, not a\n"
    "  measurement).\n";

static bench_opts common = {
    .name = "bench_queue",
    .usage = usage,
    .max_runs = 100,
    .runs = 3,
    .python = "python3",
    .py_script = "bench_queue.py",
};

static struct options {
  double seconds;  /* target length of one timed run */
  size_t capacity; /* mp_queue capacity of the 64-byte workloads */
  double py_seconds;
} opt = {
    .seconds = 0.2,
    .capacity = MP_QUEUE_DEFAULT_CAPACITY,
    .py_seconds = 0.3,
};

static void die(const char *what, int rc) {
  fprintf(stderr, "bench_queue: FAIL: %s: %s\n", what, mp_strerror(rc));
  exit(1);
}

static void *map_shared(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED)
    die("mmap", -errno);
  return p;
}

static void *xalloc(size_t size) {
  void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);
  if (!p)
    die("malloc", -ENOMEM);
  return p;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ---- the transports ------------------------------------------------------- */

enum kind { K_QUEUE, K_CONN, K_PIPE, K_MQ, K_SOCK, K_SPSC };

static const char *kind_name[] = {"mp_queue", "mp_pipe", "pipe(2)",
                                  "POSIX mq", "socketpair", "SPSC ring"};

/* The SPSC ring: slots of the message size, the two positions on cache
 * lines of their own; each side keeps its own position and a cached copy of
 * the other's in process-local variables. */
struct spsc {
  alignas(64) _Atomic uint64_t head; /* next slot to read (consumer) */
  alignas(64) _Atomic uint64_t tail; /* next slot to write (producer) */
  alignas(64) unsigned char slots[];
};

struct transport {
  enum kind kind;
  size_t len; /* every message is this long */
  mp_queue *q;
  mp_conn *rx, *tx;
  int fd[2]; /* pipe(2) / socketpair: [0] reads, [1] writes */
  mqd_t mq;
  struct spsc *ring;
  uint64_t nslots;
  /* process-local state of one end (set up in the child) */
  uint64_t my_pos, other_seen;
};

static int write_full(int fd, const unsigned char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_full(int fd, unsigned char *p, size_t len) {
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      return n == 0 ? -EPIPE : -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_full(int fd, const unsigned char *p, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int recv_full(int fd, unsigned char *p, size_t len) {
  while (len > 0) {
    ssize_t n = recv(fd, p, len, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      return n == 0 ? -EPIPE : -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Send one message; inlined with a constant kind, so the switch goes. */
static inline __attribute__((always_inline)) int
tx(struct transport *t, enum kind kind, const unsigned char *buf) {
  switch (kind) {
  case K_QUEUE: return mp_queue_put(t->q, buf, t->len, MP_FOREVER);
  case K_CONN: return mp_conn_send(t->tx, buf, t->len, MP_FOREVER);
  case K_PIPE: return write_full(t->fd[1], buf, t->len);
  case K_SOCK: return send_full(t->fd[1], buf, t->len);
  case K_MQ: return mq_send(t->mq, (const char *)buf, t->len, 0) ? -errno : 0;
  case K_SPSC: {
    struct spsc *r = t->ring;
    uint64_t pos = t->my_pos;
    while (pos - t->other_seen == t->nslots) {
      t->other_seen = atomic_load_explicit(&r->head, memory_order_acquire);
      if (pos - t->other_seen == t->nslots)
        cpu_relax();
    }
    memcpy(r->slots + (pos & (t->nslots - 1)) * t->len, buf, t->len);
    atomic_store_explicit(&r->tail, t->my_pos = pos + 1, memory_order_release);
    return 0;
  }
  }
  return -EINVAL;
}

/* Receive one message into buf (t->len bytes, or the mq's message size);
 * *got gets its length. */
static inline __attribute__((always_inline)) int
rx(struct transport *t, enum kind kind, unsigned char *buf, size_t cap,
   size_t *got) {
  *got = t->len;
  switch (kind) {
  case K_QUEUE: return mp_queue_get(t->q, buf, cap, got, MP_FOREVER);
  case K_CONN: return mp_conn_recv(t->rx, buf, cap, got, MP_FOREVER);
  case K_PIPE: return read_full(t->fd[0], buf, t->len);
  case K_SOCK: return recv_full(t->fd[0], buf, t->len);
  case K_MQ: {
    ssize_t n = mq_receive(t->mq, (char *)buf, cap, NULL);
    if (n < 0)
      return -errno;
    *got = (size_t)n;
    return 0;
  }
  case K_SPSC: {
    struct spsc *r = t->ring;
    uint64_t pos = t->my_pos;
    while (pos == t->other_seen) {
      t->other_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
      if (pos == t->other_seen)
        cpu_relax();
    }
    memcpy(buf, r->slots + (pos & (t->nslots - 1)) * t->len, t->len);
    atomic_store_explicit(&r->head, t->my_pos = pos + 1, memory_order_release);
    return 0;
  }
  }
  return -EINVAL;
}

/* ---- messages --------------------------------------------------------------- */

/* Producer p's message body: a pattern, with the stamp at three places. */
static void fill(unsigned char *buf, size_t len, unsigned p) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (unsigned char)(i * 7 + p * 13 + 0x5a);
}

static inline size_t mid_of(size_t len) { return (len / 2) & ~(size_t)7; }

static inline void stamp(unsigned char *buf, size_t len, uint64_t w) {
  memcpy(buf, &w, 8);
  memcpy(buf + mid_of(len), &w, 8);
  memcpy(buf + len - 8, &w, 8);
}

/* Is buf exactly what producer p sent with stamp w? */
static int whole_ok(const unsigned char *buf, size_t len, unsigned p,
                    uint64_t w, unsigned char *scratch) {
  fill(scratch, len, p);
  stamp(scratch, len, w);
  return memcmp(buf, scratch, len) == 0;
}

/* ---- the processes ------------------------------------------------------------ */

struct consumer_result {
  alignas(64) int64_t end_ns;
  uint64_t cnt[MAXP], sum[MAXP];
};

struct ctl {
  alignas(64) bench_start start;
  struct consumer_result cons[MAXP];
};

struct run_case {
  struct transport *t;
  struct ctl *ctl;
  int nprod;  /* producers = consumers */
  int pin[2]; /* the CPUs of the producer and the consumer (1 -> 1), or -1 */
  uint64_t n; /* messages per producer per run */
};

static void child_fail(const struct run_case *k, const char *role,
                       const char *what) {
  fprintf(stderr, "bench_queue: FAIL: %s %s (%zu-byte messages): %s\n",
          kind_name[k->t->kind], role, k->t->len, what);
  _exit(1);
}

static inline __attribute__((always_inline)) void
produce_as(const struct run_case *k, enum kind kind, unsigned p,
           unsigned char *buf) {
  struct transport *t = k->t;
  size_t len = t->len;
  uint64_t tag = (uint64_t)p << SEQ_BITS;
  int bad = 0;
  for (uint64_t seq = 0; seq < k->n; seq++) {
    stamp(buf, len, tag | seq);
    bad |= tx(t, kind, buf);
  }
  stamp(buf, len, tag | SEQ_STOP);
  bad |= tx(t, kind, buf);
  if (bad)
    child_fail(k, "producer", "a send failed");
}

static inline __attribute__((always_inline)) void
consume_as(const struct run_case *k, enum kind kind, unsigned c,
           unsigned char *bufs[2], size_t cap, unsigned char *scratch) {
  struct transport *t = k->t;
  const size_t len = t->len, mid = mid_of(len);
  const unsigned nprod = (unsigned)k->nprod;
  uint64_t next[MAXP] = {0}, cnt[MAXP] = {0}, sum[MAXP] = {0};
  int bad = 0, which = 0, last = -1;
  for (;;) {
    size_t got;
    unsigned char *b = bufs[which];
    bad |= rx(t, kind, b, cap, &got);
    if (bad || got != len)
      child_fail(k, "consumer", bad ? "a receive failed"
                                    : "a message of the wrong length");
    uint64_t w0, w1, w2;
    memcpy(&w0, b, 8);
    memcpy(&w1, b + mid, 8);
    memcpy(&w2, b + len - 8, 8);
    unsigned p = (unsigned)(w0 >> SEQ_BITS);
    uint64_t seq = w0 & SEQ_STOP;
    if (w0 != w1 || w0 != w2 || p >= nprod)
      child_fail(k, "consumer", "a torn or foreign message");
    if (seq == SEQ_STOP)
      break;
    if (nprod == 1 ? seq != next[p] : seq < next[p])
      child_fail(k, "consumer", "a message lost, repeated or out of order");
    if (last < 0 && !whole_ok(b, len, p, w0, scratch))
      child_fail(k, "consumer", "the first message's contents are wrong");
    next[p] = seq + 1;
    cnt[p]++;
    sum[p] += seq;
    last = which;
    which ^= 1;
  }
  int64_t end = bench_now_ns();
  if (last >= 0) {
    uint64_t w;
    memcpy(&w, bufs[last], 8);
    if (!whole_ok(bufs[last], len, (unsigned)(w >> SEQ_BITS), w, scratch))
      child_fail(k, "consumer", "the last message's contents are wrong");
  }
  struct consumer_result *r = &k->ctl->cons[c];
  r->end_ns = end;
  memcpy(r->cnt, cnt, sizeof cnt);
  memcpy(r->sum, sum, sizeof sum);
}

/* The body of a child: producer or consumer number i. */
static void child(const struct run_case *k, int consumer, unsigned i) {
  struct transport *t = k->t;
  struct ctl *ctl = k->ctl;
  size_t cap = t->len;
  if (t->kind == K_MQ) {
    struct mq_attr a;
    if (mq_getattr(t->mq, &a) == 0 && (size_t)a.mq_msgsize > cap)
      cap = (size_t)a.mq_msgsize;
  }
  unsigned char *bufs[2] = {xalloc(cap), xalloc(cap)};
  unsigned char *scratch = xalloc(t->len);
  memset(bufs[0], 0, cap);
  memset(bufs[1], 0, cap);
  fill(bufs[0], t->len, i);
  if (t->kind == K_SPSC) {
    t->my_pos = atomic_load(consumer ? &t->ring->head : &t->ring->tail);
    t->other_seen = atomic_load(consumer ? &t->ring->tail : &t->ring->head);
  }
  alarm(CHILD_ALARM_S);
  if (k->nprod == 1)
    bench_pin_to(k->pin[consumer]);
  atomic_fetch_add(&ctl->start.ready, 1);
  while (!atomic_load(&ctl->start.go))
    cpu_relax();

#define DISPATCH(KIND)                                                         \
  case KIND:                                                                   \
    if (consumer)                                                              \
      consume_as(k, KIND, i, bufs, cap, scratch);                              \
    else                                                                       \
      produce_as(k, KIND, i, bufs[0]);                                         \
    break;
  switch (t->kind) {
    DISPATCH(K_QUEUE)
    DISPATCH(K_CONN)
    DISPATCH(K_PIPE)
    DISPATCH(K_MQ)
    DISPATCH(K_SOCK)
    DISPATCH(K_SPSC)
  }
#undef DISPATCH
  _exit(0);
}

/* Child j of a run: even ones produce, odd ones consume. */
static void run_child(void *ctx, int j) {
  child(ctx, j & 1, (unsigned)(j / 2));
}

/* Fork the producers and consumers, start them together, time from the
 * start to the last consumer's end, and check what arrived. */
static int64_t run_case(void *ctx) {
  const struct run_case *k = ctx;
  struct ctl *ctl = k->ctl;
  int nproc = 2 * k->nprod;
  pid_t pid[2 * MAXP];
  int64_t t0;

  memset(ctl->cons, 0, sizeof ctl->cons);
  int rc = bench_fork_start(&ctl->start, nproc, pid, run_child, ctx, &t0);
  if (rc)
    die("fork", rc);
  int failed = bench_reap(nproc, pid, "bench_queue", kind_name[k->t->kind],
                          CHILD_ALARM_S);
  if (failed < 0)
    die("waitpid", failed);
  if (failed) {
    fprintf(stderr, "bench_queue: FAIL: a %s child failed\n",
            kind_name[k->t->kind]);
    exit(1);
  }

  int64_t end = 0;
  for (int c = 0; c < k->nprod; c++)
    if (ctl->cons[c].end_ns > end)
      end = ctl->cons[c].end_ns;
  for (int p = 0; p < k->nprod; p++) {
    uint64_t cnt = 0, sum = 0;
    for (int c = 0; c < k->nprod; c++) {
      cnt += ctl->cons[c].cnt[p];
      sum += ctl->cons[c].sum[p];
    }
    if (cnt != k->n || sum != k->n * (k->n - 1) / 2) {
      fprintf(stderr,
              "bench_queue: FAIL: %s: producer %d sent %llu messages, %llu "
              "arrived (sequence sum %llu, expected %llu)\n",
              kind_name[k->t->kind], p, (unsigned long long)k->n,
              (unsigned long long)cnt, (unsigned long long)sum,
              (unsigned long long)(k->n * (k->n - 1) / 2));
      exit(1);
    }
  }
  return end - t0;
}

/* ---- memcpy bandwidth ------------------------------------------------------------ */

struct memcpy_case {
  unsigned char *src, *dst;
  size_t len;
  uint64_t n;
};

static int64_t run_memcpy(void *ctx) {
  struct memcpy_case *m = ctx;
  int64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < m->n; i++) {
    m->src[0] = (unsigned char)i;
    memcpy(m->dst, m->src, m->len);
    __asm__ __volatile__("" : : "r"(m->dst) : "memory");
  }
  int64_t t = bench_now_ns() - t0;
  return m->dst[0] == (unsigned char)(m->n - 1) ? t : -1;
}

/* ---- calibrating and measuring ------------------------------------------------------ */

/* Pick *n so that fn takes about opt.seconds: grow it until a run takes an
 * eighth of that (these runs also warm up), then scale. */
static void calibrate(bench_fn fn, void *ctx, uint64_t *n) {
  const int64_t target = (int64_t)(opt.seconds * 1e9);
  uint64_t m = 64;
  for (;;) {
    *n = m;
    int64_t t = fn(ctx);
    if (t < 0)
      die("calibration run", -EINVAL);
    if (t >= target / 8 || m >= (UINT64_C(1) << 36)) {
      double scaled = (double)m * (double)target / (double)(t > 0 ? t : 1);
      *n = scaled < 16 ? 16 : (uint64_t)scaled;
      return;
    }
    m *= 4;
  }
}

/* Calibrate each case, then the best of common.runs of each, alternated; the
 * figures in messages per second (cases[i].ctx is a struct run_case, or a
 * struct memcpy_case when is_memcpy[i]). */
static void measure(bench_case *cases, const int *is_memcpy, size_t ncases,
                    double *msgs) {
  for (size_t i = 0; i < ncases; i++) {
    if (is_memcpy[i]) {
      struct memcpy_case *m = cases[i].ctx;
      calibrate(cases[i].fn, m, &m->n);
    } else {
      struct run_case *k = cases[i].ctx;
      calibrate(cases[i].fn, k, &k->n);
    }
  }
  if (bench_best(common.runs, cases, ncases) < 0)
    die("timed run", -EINVAL);
  for (size_t i = 0; i < ncases; i++) {
    uint64_t ops = is_memcpy[i]
                       ? ((struct memcpy_case *)cases[i].ctx)->n
                       : ((struct run_case *)cases[i].ctx)->n *
                             (uint64_t)((struct run_case *)cases[i].ctx)->nprod;
    msgs[i] = bench_ops_per_s(cases[i].best_ns, ops);
  }
}

/* ---- setting the transports up -------------------------------------------------- */

static int cpus[2] = {-1, -1};

static void pick_cpus(void) {
  if (bench_pick_cpus(cpus) < 2)
    cpus[0] = cpus[1] = -1;
}

#define ONE_BOTH (MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER)

static mp_queue *new_queue(size_t capacity, unsigned flags) {
  mp_queue *q;
  mp_queue_options o = {.capacity = capacity, .flags = flags};
  int rc = mp_queue_create(NULL, &o, &q);
  if (rc)
    die("mp_queue_create", rc);
  bench_shm_track(mp_queue_name(q));
  return q;
}

static void free_queue(mp_queue *q) {
  int rc = mp_queue_destroy(q);
  /* -ENOENT: another process removed the name while we ran (a concurrent
   * test run sweeping /dev/shm, say); nothing is left behind. */
  if (rc == -ENOENT)
    bench_note("warning: a queue's segment was removed by another process "
               "during the run");
  else if (rc)
    die("mp_queue_destroy", rc);
}

/* A POSIX message queue of msgsize-byte messages, unlinked at once (the
 * children inherit the descriptor); -1 when unavailable. */
static int mq_depth;
static char mq_error[128];

static mqd_t new_mq(size_t msgsize) {
  char name[64];
  snprintf(name, sizeof name, "/mproc-bench-queue-%ld", (long)getpid());
  long depths[] = {256, 0};
  FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
  if (!f || fscanf(f, "%ld", &depths[1]) != 1)
    depths[1] = 10;
  if (f)
    fclose(f);
  for (int i = 0; i < 2; i++) {
    struct mq_attr a = {.mq_maxmsg = depths[i], .mq_msgsize = (long)msgsize};
    mqd_t mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    if (mq != (mqd_t)-1) {
      mq_unlink(name);
      mq_depth = (int)depths[i];
      return mq;
    }
    snprintf(mq_error, sizeof mq_error, "mq_open: %s", strerror(errno));
  }
  return (mqd_t)-1;
}

static struct spsc *new_spsc(uint64_t nslots, size_t len) {
  struct spsc *r = map_shared(sizeof(struct spsc) + nslots * len);
  atomic_store(&r->head, 0);
  atomic_store(&r->tail, 0);
  return r;
}

/* ---- the workloads ------------------------------------------------------------------ */

struct results {
  size_t ring_bytes;
  uint64_t spsc_slots;
  /* 64 B, 1 -> 1 (q1one: one producer / one consumer) */
  double q1, q1one, pipe1, mq1, spsc1;
  /* 64 B, 2 -> 2 */
  double q2, pipe2, mq2;
  /* 1 MiB, MB/s */
  double qbig, qbig_one, memcpy_big, spsc_big;
  /* mp_pipe vs socketpair */
  double conn_small, sock_small, conn_big, sock_big;
};

static void measure_c(struct results *r) {
  struct ctl *ctl = map_shared(sizeof *ctl);
  int rc;

  /* 64-byte messages: mp_queue, pipe(2), POSIX mq, SPSC ring. */
  struct transport tq = {.kind = K_QUEUE, .len = SMALL};
  tq.q = new_queue(opt.capacity, 0);
  struct transport to = {.kind = K_QUEUE, .len = SMALL};
  to.q = new_queue(opt.capacity, ONE_BOTH);
  struct transport tp = {.kind = K_PIPE, .len = SMALL};
  if (pipe(tp.fd) < 0)
    die("pipe", -errno);
  struct transport tm = {.kind = K_MQ, .len = SMALL};
  tm.mq = new_mq(SMALL);
  /* The ring takes as many bytes as the mp_queue's (lib/queue.c: the power
   * of 2 of at least twice the largest record, 8 + capacity bytes). */
  r->ring_bytes = 64;
  while (r->ring_bytes < 2 * (8 + ((opt.capacity + 7) & ~(size_t)7)))
    r->ring_bytes *= 2;
  r->spsc_slots = r->ring_bytes / SMALL;
  struct transport ts = {.kind = K_SPSC, .len = SMALL};
  ts.ring = new_spsc(r->spsc_slots, SMALL);
  ts.nslots = r->spsc_slots;

  {
    struct run_case kq = {&tq, ctl, 1, {cpus[0], cpus[1]}, 0};
    struct run_case kp = {&tp, ctl, 1, {cpus[0], cpus[1]}, 0};
    struct run_case km = {&tm, ctl, 1, {cpus[0], cpus[1]}, 0};
    struct run_case ks = {&ts, ctl, 1, {cpus[0], cpus[1]}, 0};
    struct run_case ko = {&to, ctl, 1, {cpus[0], cpus[1]}, 0};
    bench_case cases[] = {{run_case, &kq, 0}, {run_case, &ko, 0},
                          {run_case, &kp, 0}, {run_case, &ks, 0},
                          {run_case, &km, 0}};
    int is_memcpy[5] = {0};
    double v[5];
    size_t n = tm.mq == (mqd_t)-1 ? 4 : 5;
    measure(cases, is_memcpy, n, v);
    r->q1 = v[0];
    r->q1one = v[1];
    r->pipe1 = v[2];
    r->spsc1 = v[3];
    r->mq1 = n == 5 ? v[4] : BENCH_MISSING;
  }
  {
    struct run_case kq = {&tq, ctl, 2, {-1, -1}, 0};
    struct run_case kp = {&tp, ctl, 2, {-1, -1}, 0};
    struct run_case km = {&tm, ctl, 2, {-1, -1}, 0};
    bench_case cases[] = {
        {run_case, &kq, 0}, {run_case, &kp, 0}, {run_case, &km, 0}};
    int is_memcpy[3] = {0};
    double v[3];
    size_t n = tm.mq == (mqd_t)-1 ? 2 : 3;
    measure(cases, is_memcpy, n, v);
    r->q2 = v[0];
    r->pipe2 = v[1];
    r->mq2 = n == 3 ? v[2] : BENCH_MISSING;
  }
  free_queue(tq.q);
  free_queue(to.q);
  close(tp.fd[0]);
  close(tp.fd[1]);
  if (tm.mq != (mqd_t)-1)
    mq_close(tm.mq);
  munmap(ts.ring, sizeof(struct spsc) + ts.nslots * SMALL);

  /* 1 MiB messages: mp_queue (capacity 1 MiB, the default: a 4 MiB ring),
   * memcpy, and the SPSC ring with 4 slots of 1 MiB (the same bytes). */
  {
    struct transport tb = {.kind = K_QUEUE, .len = BIG};
    tb.q = new_queue(BIG, 0);
    struct transport tbo = {.kind = K_QUEUE, .len = BIG};
    tbo.q = new_queue(BIG, ONE_BOTH);
    struct transport tsb = {.kind = K_SPSC, .len = BIG, .nslots = 4};
    tsb.ring = new_spsc(tsb.nslots, BIG);
    struct memcpy_case mc = {xalloc(BIG), xalloc(BIG), BIG, 0};
    fill(mc.src, BIG, 0);
    memset(mc.dst, 0, BIG);
    struct run_case kb = {&tb, ctl, 1, {cpus[0], cpus[1]}, 0};
    struct run_case ksb = {&tsb, ctl, 1, {cpus[0], cpus[1]}, 0};
    struct run_case kbo = {&tbo, ctl, 1, {cpus[0], cpus[1]}, 0};
    bench_case cases[] = {{run_case, &kb, 0},
                          {run_case, &kbo, 0},
                          {run_memcpy, &mc, 0},
                          {run_case, &ksb, 0}};
    int is_memcpy[4] = {0, 0, 1, 0};
    double v[4];
    measure(cases, is_memcpy, 4, v);
    r->qbig = v[0] * BIG / 1e6;
    r->qbig_one = v[1] * BIG / 1e6;
    r->memcpy_big = v[2] * BIG / 1e6;
    r->spsc_big = v[3] * BIG / 1e6;
    free_queue(tb.q);
    free_queue(tbo.q);
    munmap(tsb.ring, sizeof(struct spsc) + tsb.nslots * BIG);
    free(mc.src);
    free(mc.dst);
  }

  /* mp_pipe against a raw blocking socketpair, 64 B and 1 MiB. */
  for (int big = 0; big < 2; big++) {
    size_t len = big ? BIG : SMALL;
    struct transport tc = {.kind = K_CONN, .len = len};
    if ((rc = mp_pipe(0, &tc.rx, &tc.tx)))
      die("mp_pipe", rc);
    struct transport tk = {.kind = K_SOCK, .len = len};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tk.fd) < 0)
      die("socketpair", -errno);
    struct run_case kc = {&tc, ctl, 1, {cpus[0], cpus[1]}, 0};
    struct run_case kk = {&tk, ctl, 1, {cpus[0], cpus[1]}, 0};
    bench_case cases[] = {{run_case, &kc, 0}, {run_case, &kk, 0}};
    int is_memcpy[2] = {0};
    double v[2];
    measure(cases, is_memcpy, 2, v);
    double scale = big ? BIG / 1e6 : 1;
    *(big ? &r->conn_big : &r->conn_small) = v[0] * scale;
    *(big ? &r->sock_big : &r->sock_small) = v[1] * scale;
    mp_conn_close(tc.rx);
    mp_conn_close(tc.tx);
    close(tk.fd[0]);
    close(tk.fd[1]);
  }
  munmap(ctl, sizeof *ctl);
}

/* ---- Python peer ----------------------------------------------------------- */

static void python_peer(bench_peer *py) {
  char secs[48], runs[32], cpu_arg[48];
  snprintf(secs, sizeof secs, "--seconds=%g", opt.py_seconds);
  snprintf(runs, sizeof runs, "--runs=%d", common.runs);
  snprintf(cpu_arg, sizeof cpu_arg, "--cpus=%d,%d", cpus[0], cpus[1]);
  char *args[] = {secs, runs, cpu_arg, NULL};
  bench_python_peer(&common, args, py, "fork start method");
}

/* ---- main ------------------------------------------------------------------- */

static double parse_seconds(const char *s, const char *what) {
  return bench_parse_seconds("bench_queue", s, what, 60);
}

enum { O_SECS = 256, O_CAP, O_PYS };

static void set_option(int val, const char *arg) {
  switch (val) {
  case O_SECS: opt.seconds = parse_seconds(arg, "--seconds"); break;
  case O_CAP:
    opt.capacity = (size_t)bench_parse_count("bench_queue", arg, "--capacity",
                                             MP_QUEUE_CAPACITY_MAX);
    if (opt.capacity < SMALL) {
      fprintf(stderr, "bench_queue: bad --capacity: %s\n", arg);
      exit(2);
    }
    break;
  case O_PYS: opt.py_seconds = parse_seconds(arg, "--py-seconds"); break;
  }
}

static void parse_args(int argc, char **argv) {
  static const struct option longopts[] = {
      {"seconds", required_argument, NULL, O_SECS},
      {"capacity", required_argument, NULL, O_CAP},
      {"py-seconds", required_argument, NULL, O_PYS},
      {NULL, 0, NULL, 0},
  };
  bench_parse_args(argc, argv, &common, longopts, set_option);
  if (common.quick) {
    opt.seconds /= 10;
    opt.py_seconds /= 10;
  }
}

static const char *met(double ratio, double goal) {
  return isnan(ratio) ? "not checked (no peer figure)"
         : ratio >= goal ? "met"
                         : "NOT met";
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  pick_cpus();

  char title[256];
  snprintf(title, sizeof title,
           "mproc %s Queue/Pipe benchmarks: %ld CPUs, best of %d runs of "
           "~%gs",
           mp_version_string(), sysconf(_SC_NPROCESSORS_ONLN), common.runs,
           opt.seconds);

  /* The C figures first, then Python, so nothing competes. */
  struct results r;
  measure_c(&r);
  bench_peer py;
  python_peer(&py);

  double py_q1 = bench_peer_num(&py, "queue_64B_1p1c_msgs");
  double py_big = bench_peer_num(&py, "queue_1MiB_1p1c_Bps") / 1e6;
  double py_pbig = bench_peer_num(&py, "pipe_1MiB_Bps") / 1e6;

  bench_begin(title);
  bench_report("queue_64B_1p1c", MSGS_PER_S, r.q1, "python_mp_queue", py_q1);
  bench_report("queue_64B_1p1c", MSGS_PER_S, r.q1, "raw_pipe", r.pipe1);
  bench_report("queue_64B_1p1c", MSGS_PER_S, r.q1, "posix_mq", r.mq1);
  bench_report("queue_64B_1p1c", MSGS_PER_S, r.q1, "spsc_ring", r.spsc1);
  bench_report("queue_one_64B_1p1c", MSGS_PER_S, r.q1one, "python_mp_queue",
               py_q1);
  bench_report("queue_one_64B_1p1c", MSGS_PER_S, r.q1one, "raw_pipe",
               r.pipe1);
  bench_report("queue_one_64B_1p1c", MSGS_PER_S, r.q1one, "spsc_ring",
               r.spsc1);
  bench_report("queue_64B_2p2c", MSGS_PER_S, r.q2, "python_mp_queue",
               bench_peer_num(&py, "queue_64B_2p2c_msgs"));
  bench_report("queue_64B_2p2c", MSGS_PER_S, r.q2, "raw_pipe", r.pipe2);
  bench_report("queue_64B_2p2c", MSGS_PER_S, r.q2, "posix_mq", r.mq2);
  bench_report("queue_1MiB_1p1c", MB_PER_S, r.qbig, "python_mp_queue",
               py_big);
  bench_report("queue_1MiB_1p1c", MB_PER_S, r.qbig, "memcpy", r.memcpy_big);
  bench_report("queue_1MiB_1p1c", MB_PER_S, r.qbig, "spsc_ring", r.spsc_big);
  bench_report("queue_one_1MiB_1p1c", MB_PER_S, r.qbig_one, "memcpy",
               r.memcpy_big);
  bench_report("queue_one_1MiB_1p1c", MB_PER_S, r.qbig_one, "spsc_ring",
               r.spsc_big);
  bench_report("pipe_64B", MSGS_PER_S, r.conn_small, "python_mp_pipe",
               bench_peer_num(&py, "pipe_64B_msgs"));
  bench_report("pipe_64B", MSGS_PER_S, r.conn_small, "socketpair",
               r.sock_small);
  bench_report("pipe_1MiB", MB_PER_S, r.conn_big, "python_mp_pipe", py_pbig);
  bench_report("pipe_1MiB", MB_PER_S, r.conn_big, "socketpair", r.sock_big);

  if (cpus[0] >= 0)
    bench_note("1p1c and pipe: the producer is pinned to CPU %d, the "
               "consumer to CPU %d; 2p2c: 4 processes, not pinned",
               cpus[0], cpus[1]);
  else
    bench_note("fewer than 2 CPUs usable: nothing is pinned");
  bench_note("mp_queue capacity: %zu bytes%s for 64 B messages (a %zu-byte "
             "ring), 1048576 (the default) for 1 MiB messages; spsc_ring: "
             "the same bytes, %llu 64-byte slots or 4 of 1 MiB",
             opt.capacity,
             opt.capacity == MP_QUEUE_DEFAULT_CAPACITY ? " (the default)" : "",
             r.ring_bytes, (unsigned long long)r.spsc_slots);
  if (isnan(r.mq1))
    bench_note("posix_mq not measured: %s", mq_error);
  else
    bench_note("posix_mq: mq_maxmsg %d, mq_msgsize 64", mq_depth);
  bench_note("MB/s is 10^6 bytes/s: queue_1MiB_1p1c %.2f GB/s, memcpy %.2f "
             "GB/s, spsc_ring %.2f GB/s; pipe_1MiB %.2f GB/s, socketpair "
             "%.2f GB/s",
             r.qbig / 1e3, r.memcpy_big / 1e3, r.spsc_big / 1e3,
             r.conn_big / 1e3, r.sock_big / 1e3);
  bench_note("goal: queue_64B_1p1c >= 30x python_mp_queue: %s",
             met(r.q1 / py_q1, 30));
  bench_note("goal: queue_64B_1p1c >= 2.5x raw_pipe: %s",
             met(r.q1 / r.pipe1, 2.5));
  bench_note("goal: queue_64B_1p1c >= 0.5x spsc_ring: %s; with one "
             "producer / one consumer (queue_one_64B_1p1c): %s",
             met(r.q1 / r.spsc1, 0.5), met(r.q1one / r.spsc1, 0.5));
  bench_note("goal: queue_1MiB_1p1c >= 0.5x memcpy: %s; queue_one_1MiB_1p1c: "
             "%s",
             met(r.qbig / r.memcpy_big, 0.5),
             met(r.qbig_one / r.memcpy_big, 0.5));
  bench_note("goal: pipe_64B within 1.3x of socketpair (ratio >= 0.77): %s",
             met(r.conn_small / r.sock_small, 1 / 1.3));
  bench_note("goal: pipe_1MiB within 1.3x of socketpair (ratio >= 0.77): %s",
             met(r.conn_big / r.sock_big, 1 / 1.3));
  return bench_end();
}
