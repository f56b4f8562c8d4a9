/*
 * test/bench/bench_sync.c - Event and Barrier benchmarks (issue 3).
 *
 *  event_pingpong_2proc  two forked processes, pinned to two CPUs, hand a
 *                        token back and forth through two Events: A does
 *                        set(e1), wait(e2), clear(e2); B does wait(e1),
 *                        clear(e1), set(e2). Round trips/s; peers: the
 *                        always-sleeping raw futex (the same ping-pong on two
 *                        shared futex words, no spinning: FUTEX_WAIT while
 *                        the word is 0, FUTEX_WAKE after every store) and
 *                        Python's multiprocessing.Event.
 *  event_pingpong_1cpu   the same with both processes pinned to one CPU, so
 *                        every hand-off is a context switch and time spent
 *                        spinning is lost; peer: the raw futex pinned alike.
 *  barrier_2proc         two processes pinned to two CPUs each passing one
 *                        Barrier(2) N times, cycles/s; peers: a
 *                        PTHREAD_PROCESS_SHARED pthread_barrier_t,
 *                        multiprocessing.Barrier(2).
 *
 * The mproc objects are embedded in one mp_shm segment, the raw futex words
 * and the pthread barrier in a MAP_SHARED mapping of the same layout, each
 * object on a cache line of its own. Every handed-off token carries a
 * sequence number that the receiver checks, and after every barrier cycle
 * each party checks that the other had entered it, so a wait that returns
 * early fails the benchmark instead of flattering it.
 *
 * The number of round trips (cycles) per run is calibrated for each case so
 * that a run takes about --seconds; every figure is the best of --runs runs,
 * mproc and its C peer measured alternately. The Python figures come from
 * bench_sync.py (skipped, "-", when python3 is missing).
 * Exits 1 if a check fails, a child fails or hangs, or a segment is left.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

/* A child that has not finished after this many seconds is stuck: it is
 * killed (SIGALRM) and the benchmark fails. */
#define CHILD_ALARM_S 60

static const char usage[] =
    "usage: bench_sync [--seconds=S] [--runs=N] [--python=PROG]\n"
    "                  [--py-script=PATH] [--py-seconds=S] [--no-pin]\n"
    "                  [--quick]\n"
    "  --seconds: length of one timed run (default 0.3; the count of\n"
    "  round trips is calibrated to it); --python= (empty) skips the\n"
    "  Python peer; --no-pin leaves the 2proc processes to the\n"
    "  scheduler; --quick divides the run lengths by 10 (a smoke\n"
    "  test, not a measurement).\n";

static bench_opts common = {
    .name = "bench_sync",
    .usage = usage,
    .max_runs = 100,
    .runs = 3,
    .python = "python3",
    .py_script = "bench_sync.py",
};

static struct options {
  double seconds; /* target length of one timed run */
  double py_seconds;
  int no_pin; /* leave the 2proc processes to the scheduler */
} opt = {
    .seconds = 0.3,
    .py_seconds = 0.5,
};

static void die(const char *what, int rc) {
  fprintf(stderr, "bench_sync: FAIL: %s: %s\n", what, mp_strerror(rc));
  exit(1);
}

/* ---- the shared arena ---------------------------------------------------- */

/* A token's flag and the sequence number it carries, on one cache line: the
 * receiver reads the number right after the flag, as real hand-offs do. */
struct slot {
  alignas(64) union {
    mp_event mp;
    _Atomic uint32_t raw; /* the raw futex word: 1 = set */
  } ev;
  _Atomic uint64_t seq;
};

struct arena {
  struct slot e1, e2;
  alignas(64) union {
    mp_barrier mp;
    pthread_barrier_t raw;
  } bar;
  alignas(64) _Atomic uint64_t arrived[2]; /* barrier: cycles each entered */
  alignas(64) bench_start start;
  int64_t end_ns;
};

enum kind { MP_EVENT, RAW_FUTEX, MP_BARRIER, PTHREAD_BARRIER };

static const char *kind_name[] = {"mp_event", "raw futex", "mp_barrier",
                                  "pthread barrier"};

/* ---- the raw futex peer -------------------------------------------------- */

static void futex_wait0(_Atomic uint32_t *w) {
  while (atomic_load_explicit(w, memory_order_acquire) == 0)
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, 0, NULL, NULL, 0);
}

static void futex_set(_Atomic uint32_t *w) {
  atomic_store_explicit(w, 1, memory_order_release);
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* ---- the workloads, run in the children ---------------------------------- */

/* Event ping-pong, side A (role 0) or B (role 1), n round trips. Returns
 * non-zero when a call failed or a token arrived with the wrong number. */
static int pingpong(struct arena *a, int use_mp, int role, uint64_t n) {
  int bad = 0;
  for (uint64_t i = 1; i <= n && !bad; i++) {
    if (role == 0) {
      atomic_store_explicit(&a->e1.seq, i, memory_order_relaxed);
      if (use_mp) {
        bad |= mp_event_set(&a->e1.ev.mp);
        bad |= mp_event_wait(&a->e2.ev.mp, MP_FOREVER);
      } else {
        futex_set(&a->e1.ev.raw);
        futex_wait0(&a->e2.ev.raw);
      }
      bad |= atomic_load_explicit(&a->e2.seq, memory_order_relaxed) != i;
      if (use_mp)
        bad |= mp_event_clear(&a->e2.ev.mp);
      else
        atomic_store_explicit(&a->e2.ev.raw, 0, memory_order_relaxed);
    } else {
      if (use_mp) {
        bad |= mp_event_wait(&a->e1.ev.mp, MP_FOREVER);
        bad |= atomic_load_explicit(&a->e1.seq, memory_order_relaxed) != i;
        bad |= mp_event_clear(&a->e1.ev.mp);
        atomic_store_explicit(&a->e2.seq, i, memory_order_relaxed);
        bad |= mp_event_set(&a->e2.ev.mp);
      } else {
        futex_wait0(&a->e1.ev.raw);
        bad |= atomic_load_explicit(&a->e1.seq, memory_order_relaxed) != i;
        atomic_store_explicit(&a->e1.ev.raw, 0, memory_order_relaxed);
        atomic_store_explicit(&a->e2.seq, i, memory_order_relaxed);
        futex_set(&a->e2.ev.raw);
      }
    }
  }
  return bad;
}

/* n barrier cycles; once through cycle i, the other party must have entered
 * it too. */
static int barrier_cycles(struct arena *a, int use_mp, int role, uint64_t n) {
  int bad = 0;
  for (uint64_t i = 1; i <= n && !bad; i++) {
    atomic_store_explicit(&a->arrived[role], i, memory_order_relaxed);
    if (use_mp) {
      bad |= mp_barrier_wait(&a->bar.mp, MP_FOREVER, NULL) != 0;
    } else {
      int rc = pthread_barrier_wait(&a->bar.raw);
      bad |= rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD;
    }
    bad |= atomic_load_explicit(&a->arrived[!role], memory_order_relaxed) < i;
  }
  return bad;
}

/* ---- running one case ---------------------------------------------------- */

/* The first two CPUs this process may run on; -1 when there are fewer. */
static int cpus[2] = {-1, -1};
/* Where the two processes of the 2proc workloads run ({-1, -1}: anywhere). */
static int pair[2] = {-1, -1};

static void pick_cpus(void) {
  bench_pick_cpus(cpus);
}

struct run_case {
  struct arena *a;
  enum kind kind;
  int pin[2]; /* the CPUs of A and B (-1: not pinned) */
  uint64_t n; /* round trips / cycles per run */
};

/* A (role 0) or B (role 1) of a run. */
static void run_child(void *ctx, int role) {
  const struct run_case *k = ctx;
  struct arena *a = k->a;
  bench_child_start(&a->start, k->pin[role], CHILD_ALARM_S);
  int bad;
  switch (k->kind) {
  case MP_EVENT:
  case RAW_FUTEX:
    bad = pingpong(a, k->kind == MP_EVENT, role, k->n);
    break;
  default:
    bad = barrier_cycles(a, k->kind == MP_BARRIER, role, k->n);
    break;
  }
  if (role == 0)
    a->end_ns = bench_now_ns();
  _exit(bad ? 1 : 0);
}

/* Fork A and B, start them together, time from the start until A (the last
 * to finish: it receives the final token) is done. */
static int64_t run_case(void *ctx) {
  const struct run_case *k = ctx;
  struct arena *a = k->a;
  pid_t pid[2];
  int64_t t0;

  atomic_store(&a->e1.seq, 0);
  atomic_store(&a->e2.seq, 0);
  atomic_store(&a->arrived[0], 0);
  atomic_store(&a->arrived[1], 0);
  int rc = bench_fork_start(&a->start, 2, pid, run_child, ctx, &t0);
  if (rc)
    die("fork", rc);
  int failed = bench_reap(2, pid, "bench_sync", kind_name[k->kind],
                          CHILD_ALARM_S);
  if (failed < 0)
    die("waitpid", failed);
  if (failed) {
    fprintf(stderr,
            "bench_sync: FAIL: a %s child failed (a call failed, or a wait "
            "returned before the token or the other party arrived)\n",
            kind_name[k->kind]);
    exit(1);
  }
  return a->end_ns - t0;
}

/* Pick n so that one run takes about opt.seconds: grow it until a run takes
 * an eighth of that (these runs also warm up), then scale. */
static void calibrate(struct run_case *k) {
  const int64_t target = (int64_t)(opt.seconds * 1e9);
  uint64_t n = 64;
  for (;;) {
    k->n = n;
    int64_t t = run_case(k);
    if (t >= target / 8 || n >= (UINT64_C(1) << 32)) {
      double scaled = (double)n * (double)target / (double)(t > 0 ? t : 1);
      k->n = scaled < 16 ? 16 : (uint64_t)scaled;
      return;
    }
    n *= 4;
  }
}

/* Calibrate both cases, then the best rate of each over common.runs runs,
 * alternated. */
static void measure_pair(struct run_case *mp, struct run_case *peer,
                         double *mp_rate, double *peer_rate) {
  calibrate(mp);
  calibrate(peer);
  bench_case cases[] = {{run_case, mp, 0}, {run_case, peer, 0}};
  if (bench_best(common.runs, cases, 2) < 0)
    die("timed run", -EINVAL);
  *mp_rate = bench_ops_per_s(cases[0].best_ns, mp->n);
  *peer_rate = bench_ops_per_s(cases[1].best_ns, peer->n);
}

/* ---- setting up ---------------------------------------------------------- */

static struct arena *map_shared(void) {
  void *p = mmap(NULL, sizeof(struct arena), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    die("mmap", -errno);
  return p;
}

struct results {
  double ev2_mp, ev2_raw; /* event ping-pong on two CPUs */
  double ev1_mp, ev1_raw; /* on one CPU */
  double bar_mp, bar_raw; /* barrier */
};

static void measure_c(struct results *r) {
  mp_shm *shm;
  int rc = mp_shm_create(NULL, sizeof(struct arena), &shm);
  if (rc)
    die("mp_shm_create", rc);
  bench_shm_track(mp_shm_name(shm));
  struct arena *mpa = mp_shm_buf(shm);
  if ((rc = mp_event_init(&mpa->e1.ev.mp)) ||
      (rc = mp_event_init(&mpa->e2.ev.mp)))
    die("mp_event_init", rc);
  if ((rc = mp_barrier_init(&mpa->bar.mp, 2)))
    die("mp_barrier_init", rc);

  struct arena *rawa = map_shared();
  pthread_barrierattr_t ba;
  if ((rc = pthread_barrierattr_init(&ba)) ||
      (rc = pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED)) ||
      (rc = pthread_barrier_init(&rawa->bar.raw, &ba, 2)))
    die("pthread_barrier_init", -rc);
  pthread_barrierattr_destroy(&ba);

  /* Two CPUs, one process on each. */
  struct run_case mp_ev = {mpa, MP_EVENT, {pair[0], pair[1]}, 0};
  struct run_case raw_ev = {rawa, RAW_FUTEX, {pair[0], pair[1]}, 0};
  measure_pair(&mp_ev, &raw_ev, &r->ev2_mp, &r->ev2_raw);

  /* One CPU shared by both. */
  struct run_case mp_ev1 = {mpa, MP_EVENT, {cpus[0], cpus[0]}, 0};
  struct run_case raw_ev1 = {rawa, RAW_FUTEX, {cpus[0], cpus[0]}, 0};
  measure_pair(&mp_ev1, &raw_ev1, &r->ev1_mp, &r->ev1_raw);

  struct run_case mp_bar = {mpa, MP_BARRIER, {pair[0], pair[1]}, 0};
  struct run_case raw_bar = {rawa, PTHREAD_BARRIER, {pair[0], pair[1]}, 0};
  measure_pair(&mp_bar, &raw_bar, &r->bar_mp, &r->bar_raw);

  if ((rc = mp_event_destroy(&mpa->e1.ev.mp)) ||
      (rc = mp_event_destroy(&mpa->e2.ev.mp)))
    die("mp_event_destroy", rc);
  if ((rc = mp_barrier_destroy(&mpa->bar.mp)))
    die("mp_barrier_destroy", rc);
  /* -ENOENT: another process removed the name while we ran (a concurrent
   * test run sweeping /dev/shm, say). Nothing is left behind; the figures
   * stand. */
  if ((rc = mp_shm_destroy(shm)) == -ENOENT)
    bench_note("warning: the benchmark's segment was removed by another "
               "process during the run");
  else if (rc)
    die("mp_shm_destroy", rc);
  pthread_barrier_destroy(&rawa->bar.raw);
  munmap(rawa, sizeof *rawa);
}

/* ---- Python peer --------------------------------------------------------- */

static void python_peer(bench_peer *py) {
  char secs[48], runs[32], cpu_arg[48];
  snprintf(secs, sizeof secs, "--seconds=%g", opt.py_seconds);
  snprintf(runs, sizeof runs, "--runs=%d", common.runs);
  snprintf(cpu_arg, sizeof cpu_arg, "--cpus=%d,%d", pair[0], pair[1]);
  char *args[] = {secs, runs, cpu_arg, NULL};
  bench_python_peer(&common, args, py, "fork start method");
}

/* ---- main ---------------------------------------------------------------- */

static double parse_seconds(const char *s, const char *what) {
  return bench_parse_seconds("bench_sync", s, what, 60);
}

enum { O_SECS = 256, O_PYS, O_NOPIN };

static void set_option(int val, const char *arg) {
  switch (val) {
  case O_SECS: opt.seconds = parse_seconds(arg, "--seconds"); break;
  case O_PYS: opt.py_seconds = parse_seconds(arg, "--py-seconds"); break;
  case O_NOPIN: opt.no_pin = 1; break;
  }
}

static void parse_args(int argc, char **argv) {
  static const struct option longopts[] = {
      {"seconds", required_argument, NULL, O_SECS},
      {"py-seconds", required_argument, NULL, O_PYS},
      {"no-pin", no_argument, NULL, O_NOPIN},
      {NULL, 0, NULL, 0},
  };
  bench_parse_args(argc, argv, &common, longopts, set_option);
  if (common.quick) {
    opt.seconds /= 10;
    opt.py_seconds /= 10;
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  pick_cpus();
  if (cpus[1] >= 0 && !opt.no_pin) {
    pair[0] = cpus[0];
    pair[1] = cpus[1];
  }

  char title[256];
  snprintf(title, sizeof title,
           "mproc %s Event/Barrier benchmarks: %ld CPUs, best of %d runs of "
           "~%gs",
           mp_version_string(), sysconf(_SC_NPROCESSORS_ONLN), common.runs,
           opt.seconds);
  if (pair[0] >= 0)
    bench_note("2proc: the two processes are pinned to CPUs %d and %d",
               pair[0], pair[1]);
  else if (opt.no_pin)
    bench_note("2proc: the two processes are not pinned (--no-pin)");
  else
    bench_note("2proc: fewer than 2 CPUs usable, the processes share one");
  if (cpus[0] >= 0)
    bench_note("1cpu: both processes are pinned to CPU %d", cpus[0]);
  else
    bench_note("1cpu: the CPUs are unknown, the processes are not pinned");

  /* The C figures first, then Python, so nothing competes. */
  struct results r;
  measure_c(&r);
  bench_peer py;
  python_peer(&py);

  bench_begin(title);
  double py_ev = bench_peer_num(&py, "event_pingpong_ops");
  bench_report("event_pingpong_2proc", BENCH_OPS_PER_S, r.ev2_mp,
               "raw_futex_sleep", r.ev2_raw);
  bench_report("event_pingpong_2proc", BENCH_OPS_PER_S, r.ev2_mp,
               "python_mp_event", py_ev);
  bench_report("event_pingpong_1cpu", BENCH_OPS_PER_S, r.ev1_mp,
               "raw_futex_sleep_1cpu", r.ev1_raw);
  bench_report("barrier_2proc", BENCH_OPS_PER_S, r.bar_mp, "pthread_barrier",
               r.bar_raw);
  bench_report("barrier_2proc", BENCH_OPS_PER_S, r.bar_mp,
               "python_mp_barrier", bench_peer_num(&py, "barrier_ops"));

  bench_note("event_pingpong ops are round trips, barrier_2proc ops are "
             "cycles of Barrier(2)");
  bench_note("goal: event_pingpong_2proc >= 20x python_mp_event: %s",
             isnan(py_ev) ? "not checked (no Python figure)"
             : r.ev2_mp >= 20 * py_ev ? "met"
                                      : "NOT met");
  bench_note("goal: event_pingpong_2proc >= raw_futex_sleep (ratio >= 1): %s",
             r.ev2_mp >= r.ev2_raw ? "met" : "NOT met");
  bench_note("event_pingpong_1cpu is for information: spinning must not make "
             "it pathologically slower than raw_futex_sleep_1cpu");
  return bench_end();
}
