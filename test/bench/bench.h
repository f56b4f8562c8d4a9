/*
 * test/bench/bench.h - the small harness every mproc benchmark shares:
 * monotonic timing, best-of-N over interleaved cases, running a peer
 * program (e.g. the Python reference) and reading its figures, and printing
 * results as a table plus one machine-readable line per figure:
 *
 *   BENCH<TAB>workload<TAB>mproc_value<TAB>unit<TAB>peer<TAB>peer_value<TAB>ratio
 *
 * ratio > 1 means mproc is better: peer/mproc for a cost unit ("ns/op"),
 * mproc/peer for a rate unit ("ops/s", anything ending in "/s"). A peer
 * that could not be measured (NaN) prints "-" for peer_value and ratio.
 *
 * Include this header first in a benchmark source: it selects the POSIX and
 * GNU interfaces the benchmarks use (fork, clock_gettime, posix_spawn).
 */
#ifndef MPROC_BENCH_H
#define MPROC_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <getopt.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Units. A unit ending in "/s" is a rate (higher is better); any other unit
 * is a cost (lower is better). */
#define BENCH_NS_PER_OP "ns/op"
#define BENCH_OPS_PER_S "ops/s"

/* A peer value that could not be measured. */
#define BENCH_MISSING NAN

/* ---- timing ------------------------------------------------------------ */

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t bench_now_ns(void);

/*
 * One timed run of a case: does the work and returns the elapsed
 * nanoseconds of the part worth timing (so it can leave setup such as
 * fork() out), or a negative value on failure.
 */
typedef int64_t (*bench_fn)(void *ctx);

typedef struct bench_case {
  bench_fn fn;
  void *ctx;
  int64_t best_ns; /* out: the shortest run */
} bench_case;

/*
 * Run every case `runs` times, round-robin (case 0, 1, ..., 0, 1, ...), so
 * clock-frequency drift and noise hit all cases alike, and keep each case's
 * shortest run in best_ns. Returns 0, or the first negative result of a run
 * (the remaining runs are skipped).
 */
int bench_best(int runs, bench_case *cases, size_t ncases);

/* Turn a best time into the two units: ns per op and ops per second. */
static inline double bench_ns_per_op(int64_t ns, uint64_t ops) {
  return (double)ns / (double)ops;
}
static inline double bench_ops_per_s(int64_t ns, uint64_t ops) {
  return (double)ops * 1e9 / (double)ns;
}

/* ---- peers run as separate programs ------------------------------------- */

/* One "key value" line of a peer's output. */
typedef struct bench_kv {
  char key[64];
  char value[64];
} bench_kv;

typedef struct bench_peer {
  bench_kv kv[32];
  size_t n;
  int status; /* 0 when the program ran and exited 0 */
} bench_peer;

/*
 * Run argv[0] (searched in PATH) with argv, its stdout collected as lines
 * "key<whitespace>value" (other lines are ignored; stderr passes through),
 * and wait for it. Returns 0 when it exited 0, -1 when it could not be run
 * or failed (peer->status says how); the values read are kept either way.
 */
int bench_peer_run(char *const argv[], bench_peer *peer);

/* The value of `key` as text, or NULL when the peer did not report it. */
const char *bench_peer_str(const bench_peer *peer, const char *key);

/* The value of `key` as a number, or BENCH_MISSING. */
double bench_peer_num(const bench_peer *peer, const char *key);

/* The exit status every Python peer uses when its own check fails. */
#define BENCH_PY_CHECK_FAILED 3

/* ---- command line ------------------------------------------------------- */

/* The options every benchmark takes (--runs=N, --python=PROG,
 * --py-script=PATH, --quick, --help), and what it says about itself. */
typedef struct bench_opts {
  const char *name;      /* the program, in messages: "bench_lock" */
  const char *usage;     /* its --help text */
  int max_runs;          /* the most --runs accepts (0: no limit) */
  int runs;              /* runs per figure, best kept */
  const char *python;    /* interpreter, "" to skip the Python peer */
  const char *py_script; /* the Python peer's script */
  int quick;             /* --quick given: the program shrinks its work */
} bench_opts;

/*
 * Parse the command line into o (its runs, python and py_script hold the
 * defaults) and the program's own long options `own` (ending with a zero
 * entry; each val 256 or more), for each of which set(val, optarg) is
 * called. --help prints o->usage and exits 0; a bad option or an operand
 * prints it on stderr and exits 2; a bad --runs ends as bench_parse_count.
 */
void bench_parse_args(int argc, char **argv, bench_opts *o,
                      const struct option *own,
                      void (*set)(int val, const char *arg));

/*
 * Run the Python peer o->python o->py_script with the arguments args (ending
 * with NULL) through bench_peer_run; with --python= (empty) just note that
 * it was skipped. On success note "Python peer: PROG SCRIPT (Python V,
 * detail)" and return 0. A peer whose own check failed fails the benchmark
 * loudly (exit 1). Otherwise note why it was not measured, drop its figures
 * and return -1.
 */
int bench_python_peer(const bench_opts *o, char *const args[], bench_peer *py,
                      const char *detail);

/* A positive count from an option's text, at most max (0: no limit); bad
 * input ends benchmark `name` with a message and exit status 2. */
uint64_t bench_parse_count(const char *name, const char *s, const char *what,
                           uint64_t max);

/* A positive number of seconds, at most max; bad input ends benchmark
 * `name` with a message and exit status 2. */
double bench_parse_seconds(const char *name, const char *s, const char *what,
                           double max);

/* The first two CPUs this process may run on, into cpus[0] and cpus[1]
 * (-1 where there is none); returns how many were found. */
int bench_pick_cpus(int cpus[2]);

/* Pin the calling process to cpu (best effort; a negative cpu: leave it). */
void bench_pin_to(int cpu);

/* ---- the measured children ------------------------------------------------ */

/* Where the children of a run check in and wait for the start; it lives in
 * shared memory (a MAP_SHARED mapping or a segment). */
typedef struct bench_start {
  atomic_int ready; /* children checked in */
  atomic_int go;    /* set by the parent: start */
} bench_start;

/* The most children one run may have. */
#define BENCH_MAX_CHILDREN 8

/*
 * Fork n children (n <= BENCH_MAX_CHILDREN) into pid[] and start them
 * together: child i runs child(ctx, i), which checks in (bench_child_start)
 * and ends with _exit. Once all n have checked in, the time goes into *t0
 * and they get the go. Returns 0, or -errno when a fork failed.
 */
int bench_fork_start(bench_start *s, int n, pid_t pid[],
                     void (*child)(void *ctx, int i), void *ctx, int64_t *t0);

/* In a child: have it killed by SIGALRM after alarm_s seconds (0: never),
 * pin it to cpu (-1: leave it), check in and wait (yielding) for the go. */
void bench_child_start(bench_start *s, int cpu, int alarm_s);

/*
 * Reap the n children in pid[]. One killed by SIGALRM is reported on stderr
 * as "NAME: FAIL: a WHAT child was stuck for ALARM_S s" (unless alarm_s is
 * 0). Returns 0 when all exited with status 0, 1 when one did not, or
 * -errno when waitpid failed.
 */
int bench_reap(int n, const pid_t pid[], const char *name, const char *what,
               int alarm_s);

/* ---- reporting ---------------------------------------------------------- */

/* Print a title line and the table header. */
void bench_begin(const char *title);

/*
 * Record one figure of `workload` against one peer (peer_value may be
 * BENCH_MISSING): prints its table row now and keeps its BENCH line.
 */
void bench_report(const char *workload, const char *unit, double mproc_value,
                  const char *peer, double peer_value);

/* Print a free-form note under the table (printf-style). */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- /dev/shm hygiene ----------------------------------------------------- */

/*
 * Remember the name ("/...") of a segment this benchmark created, so
 * bench_end() can check that it is gone from /dev/shm. Call it before the
 * object is destroyed (its name string may not outlive it).
 */
void bench_shm_track(const char *name);

/* Print the notes and every BENCH line recorded, then check that no tracked
 * segment is left in /dev/shm. Returns 0, or 1 (after a FAIL message on
 * stderr) when one is. */
int bench_end(void);

#endif /* MPROC_BENCH_H */
