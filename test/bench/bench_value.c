/*
 * test/bench/bench_value.c - Value and dict benchmarks (issue 6). Every
 * workload runs two forked processes, pinned to two CPUs, from a common
 * start to the last one's finish.
 *
 *  value_locked_2proc  each process does N increments of one shared 'q'
 *                      Value under its lock: mp_value_get_lock, then
 *                      mp_rlock_acquire, mp_value_get, mp_value_set (+1),
 *                      mp_rlock_release; total increments/s. Peers: a raw
 *                      robust process-shared pthread mutex next to an
 *                      int64_t in a MAP_SHARED mapping (lock, ++, unlock);
 *                      Python's multiprocessing.Value('q') with
 *                      `with v.get_lock(): v.value += 1`.
 *  value_atomic_2proc  the same with mp_value_add(v, 1) (lock-free);
 *                      peers: __atomic_fetch_add on a shared int64_t;
 *                      Python's locked Value (it has no atomic add).
 *  dict_setget_2proc   each process does N (set, get) pairs on one mp_dict,
 *                      alternating between its own keys and keys both
 *                      processes share; 16-byte keys, 32-byte values; total
 *                      ops/s (a set and a get are one op each). Peers: a
 *                      minimal fixed-record hash table (inline 16-byte keys
 *                      and 32-byte values, the same hash) under one robust
 *                      pthread mutex in a MAP_SHARED mapping, the least a
 *                      locked shared table can cost; Python's
 *                      Manager().dict() the same way, with fewer pairs.
 *
 * Checks (a failure exits 1 with FAIL on stderr): each counter must come
 * out at exactly 2N; every get must return a well-formed value for its key,
 * and on a process's own key exactly what that process just set; after each
 * dict run the dict must hold exactly the keys set up, each own key with its
 * process's last write and each shared key with one of the two processes'
 * last writes for it.
 *
 * Every figure is the best of --runs runs, mproc and its C peer measured
 * alternately. The Python figures come from bench_value.py, run by this
 * program (skipped, "-", when python3 is missing).
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

/* A child that has not finished after this many seconds is stuck. */
#define CHILD_ALARM_S 60

#define KLEN 16u
#define VLEN 32u
#define NKEYS 32u /* own keys per process, and shared keys */
#define VALUE_MAGIC UINT64_C(0x9e3779b97f4a7c15)

/* Goals (issue 6). */
#define GOAL_VALUE_X 20.0
#define GOAL_DICT_X 100.0

static const char usage[] =
    "usage: bench_value [--locked-n=N] [--atomic-n=N] [--dict-n=N]\n"
    "                   [--runs=N] [--python=PROG] [--py-script=PATH]\n"
    "                   [--py-value-n=N] [--py-dict-n=N] [--quick]\n"
    "  counts are per process (--dict-n: set+get pairs); --python=\n"
    "  (empty) skips the Python peer; --quick divides every count by\n"
    "  10 (a smoke test, not a measurement).\n";

static bench_opts common = {
    .name = "bench_value",
    .usage = usage,
    .runs = 3,
    .python = "python3",
    .py_script = "bench_value.py",
};

static struct options {
  uint64_t locked_n; /* locked increments per process */
  uint64_t atomic_n; /* atomic increments per process */
  uint64_t dict_n;   /* (set, get) pairs per process */
  uint64_t py_value_n;
  uint64_t py_dict_n;
} opt = {
    .locked_n = 2000000,
    .atomic_n = 10000000,
    .dict_n = 1000000,
    .py_value_n = 300000,
    .py_dict_n = 8000,
};

static mp_value *value;
static mp_dict *dict;
static pid_t main_pid;

/* On a failure, remove the segments (the children are gone by then). */
__attribute__((noreturn)) static void fail_exit(void) {
  if (getpid() == main_pid) {
    mp_value_destroy(value);
    mp_dict_destroy(dict);
  }
  exit(1);
}

__attribute__((noreturn)) static void die(const char *what, int rc) {
  fprintf(stderr, "bench_value: FAIL: %s: %s\n", what, mp_strerror(rc));
  fail_exit();
}

static void fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "bench_value: FAIL: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  fail_exit();
}

static void *map_shared(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED)
    die("mmap", -errno);
  return p;
}

static int raw_mutex_init(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  int rc = pthread_mutexattr_init(&a);
  if (rc)
    return -rc;
  if (!(rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) &&
      !(rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)))
    rc = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  return -rc;
}

/* ---- keys and values ----------------------------------------------------- */

/* keys[0], keys[1]: each process's own keys; keys[2]: the shared ones. */
static unsigned char keys[3][NKEYS][KLEN];

static void make_keys(void) {
  static const char *const prefix[3] = {"own0", "own1", "shr_"};
  char tmp[KLEN + 1];
  for (int g = 0; g < 3; g++)
    for (unsigned j = 0; j < NKEYS; j++) {
      snprintf(tmp, sizeof tmp, "%s:k%010u", prefix[g], j);
      memcpy(keys[g][j], tmp, KLEN);
    }
}

/* A value: the key's last 8 bytes, the writer, its sequence number, and a
 * check word, so a torn or misplaced value is caught. */
struct val {
  unsigned char tag[8];
  uint64_t writer, seq, check;
};
_Static_assert(sizeof(struct val) == VLEN, "value size");

static void make_val(struct val *v, const unsigned char *key, uint64_t writer,
                     uint64_t seq) {
  memcpy(v->tag, key + KLEN - 8, 8);
  v->writer = writer;
  v->seq = seq;
  v->check = seq ^ (writer << 56) ^ VALUE_MAGIC;
}

static int val_ok(const struct val *v, const unsigned char *key) {
  return memcmp(v->tag, key + KLEN - 8, 8) == 0 && v->writer < 2 &&
         v->check == (v->seq ^ (v->writer << 56) ^ VALUE_MAGIC);
}

static uint64_t fnv1a(const void *key, size_t len) {
  const unsigned char *p = key;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h < 2 ? h + 2 : h;
}

/* ---- the raw dict peer: fixed records under one robust mutex ------------- */

#define RAW_SLOTS 256u /* a power of 2, > 3 * NKEYS */

struct raw_slot {
  uint64_t hash; /* 0: empty */
  unsigned char key[KLEN];
  unsigned char val[VLEN];
};

struct raw_table {
  alignas(64) pthread_mutex_t mutex;
  struct raw_slot slot[RAW_SLOTS];
};

static struct raw_slot *raw_find(struct raw_table *t, const void *key,
                                 uint64_t h) {
  for (uint64_t n = 0, i = h & (RAW_SLOTS - 1); n < RAW_SLOTS;
       n++, i = (i + 1) & (RAW_SLOTS - 1)) {
    struct raw_slot *s = &t->slot[i];
    if (s->hash == 0 || (s->hash == h && memcmp(s->key, key, KLEN) == 0))
      return s;
  }
  return NULL;
}

static int raw_set(struct raw_table *t, const void *key, const void *val) {
  uint64_t h = fnv1a(key, KLEN);
  int rc = pthread_mutex_lock(&t->mutex);
  if (rc)
    return -rc;
  struct raw_slot *s = raw_find(t, key, h);
  if (s) {
    s->hash = h;
    memcpy(s->key, key, KLEN);
    memcpy(s->val, val, VLEN);
  }
  pthread_mutex_unlock(&t->mutex);
  return s ? 0 : -ENOSPC;
}

static int raw_get(struct raw_table *t, const void *key, void *val) {
  uint64_t h = fnv1a(key, KLEN);
  int rc = pthread_mutex_lock(&t->mutex);
  if (rc)
    return -rc;
  struct raw_slot *s = raw_find(t, key, h);
  rc = s && s->hash ? 0 : -ENOENT;
  if (!rc)
    memcpy(val, s->val, VLEN);
  pthread_mutex_unlock(&t->mutex);
  return rc;
}

/* ---- shared state -------------------------------------------------------- */

enum kind { MP_LOCKED, RAW_LOCKED, MP_ATOMIC, RAW_ATOMIC, MP_DICT, RAW_DICT };
static const char *const kind_name[] = {
    "mproc locked Value", "raw mutex counter", "mp_value_add",
    "raw atomic counter", "mp_dict",           "raw table",
};

/* The raw counter peers: what a C programmer would write, the lock next to
 * the number it guards, in a mapping of their own (as a Value is in a
 * segment of its own). */
struct raw_counter {
  pthread_mutex_t mutex;
  int64_t value;
};

/* Control block, in a MAP_SHARED mapping. */
struct control {
  alignas(64) bench_start start;
  alignas(64) int64_t end_ns[2];
  /* dict runs: each process's op counts and the sequence number of its last
   * write to each of its own [0] and the shared [1] keys. */
  uint64_t sets[2], gets[2];
  uint64_t last_seq[2][2][NKEYS];
};

static struct control *ctl;
static struct raw_counter *raw_counter;
static int64_t *raw_atomic;
static struct raw_table *raw_table;

/* The CPUs the two children are pinned to; -1 when fewer than 2 usable. */
static int child_cpu[2] = {-1, -1};

static void pick_cpus(void) {
  if (bench_pick_cpus(child_cpu) < 2)
    child_cpu[0] = child_cpu[1] = -1;
}

/* ---- the workloads, run in each child ------------------------------------ */

static int locked_mp(uint64_t n) {
  int bad = 0;
  for (uint64_t i = 0; i < n; i++) {
    mp_rlock *lk = mp_value_get_lock(value);
    int64_t x;
    int rc = mp_rlock_acquire(lk, MP_FOREVER);
    bad |= !MP_ACQUIRED(rc);
    bad |= mp_value_get(value, &x);
    x++;
    bad |= mp_value_set(value, &x);
    bad |= mp_rlock_release(lk);
  }
  return bad;
}

static int locked_raw(uint64_t n) {
  int bad = 0;
  for (uint64_t i = 0; i < n; i++) {
    bad |= pthread_mutex_lock(&raw_counter->mutex);
    raw_counter->value++;
    bad |= pthread_mutex_unlock(&raw_counter->mutex);
  }
  return bad;
}

static int atomic_mp(uint64_t n) {
  int bad = 0;
  for (uint64_t i = 0; i < n; i++)
    bad |= mp_value_add(value, 1, NULL);
  return bad;
}

static int atomic_raw(uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    __atomic_fetch_add(raw_atomic, 1, __ATOMIC_SEQ_CST);
  return 0;
}

/* Pair i uses own key (i/2) % NKEYS when i is even, that shared key when
 * odd; its sequence number is i + 1. A failed call or a wrong value ends the
 * child with status 1 after a message. */
static int dict_pairs(int p, int use_mp, uint64_t n) {
  uint64_t last[2][NKEYS] = {{0}};
  uint64_t sets = 0, gets = 0;
  for (uint64_t i = 0; i < n; i++) {
    int shared = (int)(i & 1);
    unsigned j = (unsigned)((i >> 1) % NKEYS);
    const unsigned char *key = keys[shared ? 2 : p][j];
    struct val v, got;
    size_t vlen = VLEN;
    int rc;
    make_val(&v, key, (uint64_t)p, i + 1);
    rc = use_mp ? mp_dict_set(dict, key, KLEN, &v, VLEN)
                : raw_set(raw_table, key, &v);
    if (rc) {
      fprintf(stderr, "bench_value: %s set failed: %s\n",
              kind_name[use_mp ? MP_DICT : RAW_DICT], mp_strerror(rc));
      return 1;
    }
    sets++;
    last[shared][j] = i + 1;
    rc = use_mp ? mp_dict_get(dict, key, KLEN, &got, sizeof got, &vlen)
                : raw_get(raw_table, key, &got);
    if (rc) {
      fprintf(stderr, "bench_value: %s get failed: %s\n",
              kind_name[use_mp ? MP_DICT : RAW_DICT], mp_strerror(rc));
      return 1;
    }
    gets++;
    if (vlen != VLEN || !val_ok(&got, key)) {
      fprintf(stderr,
              "bench_value: %s get of %.16s returned a malformed value "
              "(length %zu)\n",
              kind_name[use_mp ? MP_DICT : RAW_DICT], (const char *)key, vlen);
      return 1;
    }
    if (!shared && (got.writer != (uint64_t)p || got.seq != i + 1)) {
      fprintf(stderr,
              "bench_value: %s get of %.16s returned writer %llu seq %llu, "
              "not the value just set (writer %d seq %llu)\n",
              kind_name[use_mp ? MP_DICT : RAW_DICT], (const char *)key,
              (unsigned long long)got.writer, (unsigned long long)got.seq, p,
              (unsigned long long)(i + 1));
      return 1;
    }
  }
  ctl->sets[p] = sets;
  ctl->gets[p] = gets;
  memcpy(ctl->last_seq[p], last, sizeof last);
  return 0;
}

/* ---- one run: two children ----------------------------------------------- */

struct run_case {
  enum kind kind;
  uint64_t n; /* per process */
};

static void reset(const struct run_case *k) {
  int64_t zero = 0;
  int rc;
  switch (k->kind) {
  case MP_LOCKED:
  case MP_ATOMIC:
    if ((rc = mp_value_set(value, &zero)))
      die("mp_value_set", rc);
    break;
  case RAW_LOCKED: raw_counter->value = 0; break;
  case RAW_ATOMIC: *raw_atomic = 0; break;
  default:
    memset(ctl->sets, 0, sizeof ctl->sets);
    memset(ctl->gets, 0, sizeof ctl->gets);
    memset(ctl->last_seq, 0, sizeof ctl->last_seq);
    break;
  }
}

static int64_t counter_now(enum kind kind) {
  int64_t x = 0;
  int rc;
  switch (kind) {
  case MP_LOCKED:
  case MP_ATOMIC:
    if ((rc = mp_value_get(value, &x)))
      die("mp_value_get", rc);
    return x;
  case RAW_LOCKED: return raw_counter->value;
  default: return *raw_atomic;
  }
}

/* The dict holds exactly the 3 * NKEYS keys, own keys with their process's
 * last write, shared keys with the last write of one of the two. */
static void check_dict(const struct run_case *k) {
  int use_mp = k->kind == MP_DICT;
  const char *what = kind_name[k->kind];
  for (int p = 0; p < 2; p++)
    if (ctl->sets[p] != k->n || ctl->gets[p] != k->n)
      fail("%s: process %d did %llu sets and %llu gets, expected %llu each",
           what, p, (unsigned long long)ctl->sets[p],
           (unsigned long long)ctl->gets[p], (unsigned long long)k->n);
  if (use_mp) {
    long len = mp_dict_len(dict);
    if (len != 3 * NKEYS)
      fail("%s: %ld items after the run, expected %u", what, len, 3 * NKEYS);
  }
  for (int g = 0; g < 3; g++) {
    for (unsigned j = 0; j < NKEYS; j++) {
      const unsigned char *key = keys[g][j];
      struct val got;
      size_t vlen = VLEN;
      int rc = use_mp ? mp_dict_get(dict, key, KLEN, &got, sizeof got, &vlen)
                      : raw_get(raw_table, key, &got);
      if (rc)
        fail("%s: final get of %.16s: %s", what, (const char *)key,
             mp_strerror(rc));
      if (vlen != VLEN || !val_ok(&got, key))
        fail("%s: final value of %.16s is malformed", what,
             (const char *)key);
      /* last_seq is 0 for a key a (short) run did not write: then the
       * value is still fill_dict's. */
      int ok = g < 2 ? got.writer == (uint64_t)g &&
                           got.seq == ctl->last_seq[g][0][j]
                     : got.seq == ctl->last_seq[got.writer][1][j];
      if (!ok)
        fail("%s: final value of %.16s is writer %llu seq %llu, not the last "
             "write",
             what, (const char *)key, (unsigned long long)got.writer,
             (unsigned long long)got.seq);
    }
  }
}

/* Put every key in with sequence number 0 (the initial state of each run):
 * own keys written by their process, shared keys by process 0. */
static void fill_dict(int use_mp) {
  for (int g = 0; g < 3; g++)
    for (unsigned j = 0; j < NKEYS; j++) {
      struct val v;
      make_val(&v, keys[g][j], g == 1 ? 1 : 0, 0);
      int rc = use_mp ? mp_dict_set(dict, keys[g][j], KLEN, &v, VLEN)
                      : raw_set(raw_table, keys[g][j], &v);
      if (rc)
        die("initial set", rc);
    }
}

/* Child p of a run. */
static void run_child(void *ctx, int p) {
  const struct run_case *k = ctx;
  bench_child_start(&ctl->start, child_cpu[p], CHILD_ALARM_S);
  int bad;
  switch (k->kind) {
  case MP_LOCKED: bad = locked_mp(k->n); break;
  case RAW_LOCKED: bad = locked_raw(k->n); break;
  case MP_ATOMIC: bad = atomic_mp(k->n); break;
  case RAW_ATOMIC: bad = atomic_raw(k->n); break;
  default: bad = dict_pairs(p, k->kind == MP_DICT, k->n); break;
  }
  ctl->end_ns[p] = bench_now_ns();
  _exit(bad ? 1 : 0);
}

/* Fork two children, start them together, time from the start to the last
 * one's finish, then check the result. */
static int64_t run_case(void *ctx) {
  const struct run_case *k = ctx;
  pid_t pid[2];
  int64_t t0;

  reset(k);
  if (k->kind == MP_DICT || k->kind == RAW_DICT)
    fill_dict(k->kind == MP_DICT);
  int rc = bench_fork_start(&ctl->start, 2, pid, run_child, ctx, &t0);
  if (rc)
    die("fork", rc);
  int failed = bench_reap(2, pid, "bench_value", kind_name[k->kind],
                          CHILD_ALARM_S);
  if (failed < 0)
    die("waitpid", failed);
  if (failed)
    fail("a %s child failed", kind_name[k->kind]);

  if (k->kind == MP_DICT || k->kind == RAW_DICT) {
    check_dict(k);
  } else {
    int64_t got = counter_now(k->kind);
    if (got != (int64_t)(2 * k->n))
      fail("%s: counter is %lld, expected %llu: increments were lost",
           kind_name[k->kind], (long long)got,
           (unsigned long long)(2 * k->n));
  }
  int64_t end = ctl->end_ns[0] > ctl->end_ns[1] ? ctl->end_ns[0]
                                                : ctl->end_ns[1];
  return end - t0;
}

/* Best ops/s of an mproc case and its C peer, run alternately. */
static void measure_pair(enum kind mp_kind, enum kind raw_kind, uint64_t n,
                         uint64_t ops_per_n, double *mp_ops, double *raw_ops) {
  struct run_case mk = {mp_kind, n}, rk = {raw_kind, n};
  bench_case cases[] = {{run_case, &mk, 0}, {run_case, &rk, 0}};
  if (bench_best(common.runs, cases, 2) < 0)
    die("timed run", -EINVAL);
  *mp_ops = bench_ops_per_s(cases[0].best_ns, 2 * n * ops_per_n);
  *raw_ops = bench_ops_per_s(cases[1].best_ns, 2 * n * ops_per_n);
}

struct results {
  double locked_mp, locked_raw, atomic_mp, atomic_raw, dict_mp, dict_raw;
};

static void measure_c(struct results *r) {
  int rc;
  ctl = map_shared(sizeof *ctl);
  raw_counter = map_shared(sizeof *raw_counter);
  if ((rc = raw_mutex_init(&raw_counter->mutex)))
    die("pthread_mutex_init", rc);
  raw_atomic = map_shared(sizeof *raw_atomic);
  raw_table = map_shared(sizeof *raw_table);
  if ((rc = raw_mutex_init(&raw_table->mutex)))
    die("pthread_mutex_init", rc);

  if ((rc = mp_value_create(NULL, 'q', NULL, 0, &value)))
    die("mp_value_create", rc);
  bench_shm_track(mp_value_name(value));
  if ((rc = mp_dict_create(NULL, NULL, &dict)))
    die("mp_dict_create", rc);
  bench_shm_track(mp_dict_name(dict));

  measure_pair(MP_LOCKED, RAW_LOCKED, opt.locked_n, 1, &r->locked_mp,
               &r->locked_raw);
  measure_pair(MP_ATOMIC, RAW_ATOMIC, opt.atomic_n, 1, &r->atomic_mp,
               &r->atomic_raw);
  measure_pair(MP_DICT, RAW_DICT, opt.dict_n, 2, &r->dict_mp, &r->dict_raw);

  /* -ENOENT: another process removed the name while we ran (a concurrent
   * test run sweeping /dev/shm, say); nothing is left behind. */
  int rv = mp_value_destroy(value), rd = mp_dict_destroy(dict);
  value = NULL;
  dict = NULL;
  if (rv == -ENOENT || rd == -ENOENT)
    bench_note("warning: a benchmark segment was removed by another process "
               "during the run");
  if (rv && rv != -ENOENT)
    die("mp_value_destroy", rv);
  if (rd && rd != -ENOENT)
    die("mp_dict_destroy", rd);
  pthread_mutex_destroy(&raw_counter->mutex);
  pthread_mutex_destroy(&raw_table->mutex);
  munmap(raw_table, sizeof *raw_table);
  munmap(raw_atomic, sizeof *raw_atomic);
  munmap(raw_counter, sizeof *raw_counter);
  munmap(ctl, sizeof *ctl);
}

/* ---- Python peer --------------------------------------------------------- */

static void python_peer(bench_peer *py) {
  char vn[48], dn[48], runs[32], cpus[48];
  snprintf(vn, sizeof vn, "--value-n=%llu", (unsigned long long)opt.py_value_n);
  snprintf(dn, sizeof dn, "--dict-n=%llu", (unsigned long long)opt.py_dict_n);
  snprintf(runs, sizeof runs, "--runs=%d", common.runs);
  snprintf(cpus, sizeof cpus, "--cpus=%d,%d", child_cpu[0], child_cpu[1]);
  char *args[] = {vn, dn, runs, cpus, NULL};
  bench_python_peer(&common, args, py, "fork start method");
}

/* ---- main ---------------------------------------------------------------- */

static uint64_t parse_count(const char *s, const char *what) {
  return bench_parse_count("bench_value", s, what, 0);
}

enum { O_LN = 256, O_AN, O_DN, O_PVN, O_PDN };

static void set_option(int val, const char *arg) {
  switch (val) {
  case O_LN: opt.locked_n = parse_count(arg, "--locked-n"); break;
  case O_AN: opt.atomic_n = parse_count(arg, "--atomic-n"); break;
  case O_DN: opt.dict_n = parse_count(arg, "--dict-n"); break;
  case O_PVN: opt.py_value_n = parse_count(arg, "--py-value-n"); break;
  case O_PDN: opt.py_dict_n = parse_count(arg, "--py-dict-n"); break;
  }
}

static void parse_args(int argc, char **argv) {
  static const struct option longopts[] = {
      {"locked-n", required_argument, NULL, O_LN},
      {"atomic-n", required_argument, NULL, O_AN},
      {"dict-n", required_argument, NULL, O_DN},
      {"py-value-n", required_argument, NULL, O_PVN},
      {"py-dict-n", required_argument, NULL, O_PDN},
      {NULL, 0, NULL, 0},
  };
  bench_parse_args(argc, argv, &common, longopts, set_option);
  if (common.quick) {
    opt.locked_n = opt.locked_n / 10 + 1;
    opt.atomic_n = opt.atomic_n / 10 + 1;
    opt.dict_n = opt.dict_n / 10 + 1;
    opt.py_value_n = opt.py_value_n / 10 + 1;
    opt.py_dict_n = opt.py_dict_n / 10 + 1;
  }
}

static const char *goal(double mine, double peer, double x) {
  if (isnan(peer))
    return "not checked (no Python figure)";
  return mine >= x * peer ? "met" : "NOT met";
}

int main(int argc, char **argv) {
  main_pid = getpid();
  parse_args(argc, argv);
  pick_cpus();
  make_keys();

  char title[320];
  snprintf(title, sizeof title,
           "mproc %s Value and dict benchmarks: %ld CPUs, best of %d runs, "
           "2 x %llu locked, 2 x %llu atomic increments, 2 x %llu dict "
           "set+get pairs",
           mp_version_string(), sysconf(_SC_NPROCESSORS_ONLN), common.runs,
           (unsigned long long)opt.locked_n, (unsigned long long)opt.atomic_n,
           (unsigned long long)opt.dict_n);
  if (child_cpu[0] >= 0)
    bench_note("the two processes are pinned to CPUs %d and %d (Python's "
               "too; its Manager server is not pinned)",
               child_cpu[0], child_cpu[1]);
  else
    bench_note("fewer than 2 CPUs usable, the processes share one");

  /* The C figures first, then Python, so nothing competes. */
  struct results r;
  measure_c(&r);
  bench_peer py;
  python_peer(&py);

  bench_begin(title);
  double py_value = bench_peer_num(&py, "value_locked_ops");
  double py_dict = bench_peer_num(&py, "dict_setget_ops");
  bench_report("value_locked_2proc", BENCH_OPS_PER_S, r.locked_mp,
               "pthread_robust", r.locked_raw);
  bench_report("value_locked_2proc", BENCH_OPS_PER_S, r.locked_mp,
               "python_mp_value", py_value);
  bench_report("value_atomic_2proc", BENCH_OPS_PER_S, r.atomic_mp,
               "raw_atomic", r.atomic_raw);
  bench_report("value_atomic_2proc", BENCH_OPS_PER_S, r.atomic_mp,
               "python_mp_value", py_value);
  bench_report("dict_setget_2proc", BENCH_OPS_PER_S, r.dict_mp,
               "pthread_robust_table", r.dict_raw);
  bench_report("dict_setget_2proc", BENCH_OPS_PER_S, r.dict_mp,
               "python_manager_dict", py_dict);

  bench_note("value ops are increments; dict ops are sets and gets (a pair "
             "is 2 ops), %u-byte keys, %u-byte values, %u own keys per "
             "process and %u shared",
             KLEN, VLEN, NKEYS, NKEYS);
  if (py.n)
    bench_note("Python: 2 x %llu locked increments, 2 x %llu dict pairs",
               (unsigned long long)opt.py_value_n,
               (unsigned long long)opt.py_dict_n);
  bench_note("goal: value_locked_2proc >= %.0fx python_mp_value: %s",
             GOAL_VALUE_X, goal(r.locked_mp, py_value, GOAL_VALUE_X));
  bench_note("goal: value_atomic_2proc >= %.0fx python_mp_value: %s",
             GOAL_VALUE_X, goal(r.atomic_mp, py_value, GOAL_VALUE_X));
  bench_note("goal: dict_setget_2proc >= %.0fx python_manager_dict: %s",
             GOAL_DICT_X, goal(r.dict_mp, py_dict, GOAL_DICT_X));
  return bench_end();
}
