/*
 * test/bench/bench_process.c - Process start+join benchmarks (issue 4).
 *
 * Every workload starts an empty child (its function returns 0 at once) and
 * joins it, one at a time, and reports the time per start+join in us/op:
 *
 *  process_fork        mp_process_create + start + join + close with
 *                      MP_START_FORK; peers: raw fork() / _exit(0) /
 *                      waitpid(), Python multiprocessing.Process with the
 *                      'fork' start method.
 *  process_spawn       the same with MP_START_SPAWN (the child re-executes
 *                      this program, whose entry is registered with
 *                      MP_REGISTER, so it runs before main); peers:
 *                      posix_spawn() of /bin/true + waitpid(), Python
 *                      'spawn'.
 *  process_forkserver  the same with MP_START_FORKSERVER (the server is
 *                      started, and one child run, before timing); peers:
 *                      posix_spawn(/bin/true), Python 'forkserver' (its
 *                      server also started before timing).
 *
 * The fork pair is measured first, alternately, before any forkserver
 * exists; then spawn, forkserver and posix_spawn, alternately. Every figure
 * is the best of --runs runs. Every child's exit code is checked (0). The
 * Python figures come from bench_process.py (skipped, "-", when python3 is
 * missing). Exits 1 if anything fails.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

extern char **environ;

#define BENCH_US_PER_OP "us/op"
#define TRUE_PATH "/bin/true"

static const char usage[] =
    "usage: bench_process [--fork-n=N] [--spawn-n=N] [--forkserver-n=N]\n"
    "                     [--runs=N] [--python=PROG] [--py-script=PATH]\n"
    "                     [--py-fork-n=N] [--py-spawn-n=N]\n"
    "                     [--py-forkserver-n=N] [--quick]\n"
    "  counts are start+join per run; --python= (empty) skips the\n"
    "  Python peer; --quick divides every count by 10 (a smoke test,\n"
    "  not a measurement).\n";

static bench_opts common = {
    .name = "bench_process",
    .usage = usage,
    .max_runs = 100,
    .runs = 5,
    .python = "python3",
    .py_script = "bench_process.py",
};

static struct options {
  uint64_t fork_n;       /* start+join per run: fork and raw fork */
  uint64_t spawn_n;      /* spawn and posix_spawn(/bin/true) */
  uint64_t forkserver_n; /* forkserver */
  uint64_t py_fork_n, py_spawn_n, py_forkserver_n;
} opt = {
    .fork_n = 1000,
    .spawn_n = 300,
    .forkserver_n = 1000,
    .py_fork_n = 200,
    .py_spawn_n = 10,
    .py_forkserver_n = 100,
};

static void die(const char *what, int rc) {
  fprintf(stderr, "bench_process: FAIL: %s: %s\n", what, mp_strerror(rc));
  exit(1);
}

/* ---- the child ------------------------------------------------------------ */

/* The empty child. Registered for spawn and forkserver: a spawned child
 * runs it from this constructor, before main. */
static int empty_entry(void *arg) {
  (void)arg;
  return 0;
}
MP_REGISTER(empty_entry)

/* ---- mproc ------------------------------------------------------------------ */

struct mp_case {
  mp_start_method method;
  uint64_t n;
};

static const char *method_name(mp_start_method m) {
  return m == MP_START_FORK    ? "fork"
         : m == MP_START_SPAWN ? "spawn"
                               : "forkserver";
}

/* One start+join of an empty child, its exit code checked. */
static void mp_once(mp_start_method method) {
  mp_process_options o = {.method = method};
  mp_process *p;
  int code = -1, rc;
  if ((rc = mp_process_create(empty_entry, NULL, &o, &p)))
    die("mp_process_create", rc);
  if ((rc = mp_process_start(p)))
    die("mp_process_start", rc);
  if ((rc = mp_process_join(p, MP_FOREVER)))
    die("mp_process_join", rc);
  if ((rc = mp_process_exitcode(p, &code)))
    die("mp_process_exitcode", rc);
  if ((rc = mp_process_close(p)))
    die("mp_process_close", rc);
  if (code != 0) {
    fprintf(stderr, "bench_process: FAIL: a %s child exited with %d\n",
            method_name(method), code);
    exit(1);
  }
}

static int64_t run_mproc(void *ctx) {
  const struct mp_case *k = ctx;
  fflush(NULL);
  int64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < k->n; i++)
    mp_once(k->method);
  return bench_now_ns() - t0;
}

/* ---- the C peers ---------------------------------------------------------- */

static void wait_ok(pid_t pid, const char *what) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      die("waitpid", -errno);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "bench_process: FAIL: a %s child failed (status %#x)\n",
            what, st);
    exit(1);
  }
}

/* fork(); the child _exit(0)s at once; waitpid(). */
static int64_t run_raw_fork(void *ctx) {
  const uint64_t n = *(const uint64_t *)ctx;
  fflush(NULL); /* nothing buffered, so nothing written twice */
  int64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0)
      die("fork", -errno);
    if (pid == 0)
      _exit(0);
    wait_ok(pid, "fork");
  }
  return bench_now_ns() - t0;
}

/* posix_spawn(/bin/true) with this environment; waitpid(). */
static int64_t run_posix_spawn(void *ctx) {
  const uint64_t n = *(const uint64_t *)ctx;
  char *argv[] = {(char *)TRUE_PATH, NULL};
  int64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    pid_t pid;
    int rc = posix_spawn(&pid, TRUE_PATH, NULL, NULL, argv, environ);
    if (rc)
      die("posix_spawn " TRUE_PATH, -rc);
    wait_ok(pid, TRUE_PATH);
  }
  return bench_now_ns() - t0;
}

struct results {
  double fork_mp, fork_raw;               /* us/op */
  double spawn_mp, forkserver_mp, spawn_true;
};

static double us_per_op(int64_t ns, uint64_t n) {
  return bench_ns_per_op(ns, n) / 1000.0;
}

static void measure_c(struct results *r) {
  /* fork and raw fork first: no forkserver exists yet, so raw fork()
   * pays for no more of mproc's pthread_atfork handlers than any program
   * linking mproc does. */
  struct mp_case mf = {MP_START_FORK, opt.fork_n};
  uint64_t raw_n = opt.fork_n;
  mp_once(MP_START_FORK); /* warm-up */
  bench_case fork_cases[] = {{run_mproc, &mf, 0}, {run_raw_fork, &raw_n, 0}};
  if (bench_best(common.runs, fork_cases, 2) < 0)
    die("fork runs", -EINVAL);
  r->fork_mp = us_per_op(fork_cases[0].best_ns, opt.fork_n);
  r->fork_raw = us_per_op(fork_cases[1].best_ns, opt.fork_n);

  /* Then the exec-based ones. Warm-up: the page cache, and the forkserver
   * is started (its first use spawns it) before timing. */
  struct mp_case ms = {MP_START_SPAWN, opt.spawn_n};
  struct mp_case mfs = {MP_START_FORKSERVER, opt.forkserver_n};
  uint64_t true_n = opt.spawn_n;
  mp_once(MP_START_SPAWN);
  mp_once(MP_START_FORKSERVER);
  run_posix_spawn(&(uint64_t){1});
  bench_case cases[] = {{run_mproc, &ms, 0},
                        {run_mproc, &mfs, 0},
                        {run_posix_spawn, &true_n, 0}};
  if (bench_best(common.runs, cases, 3) < 0)
    die("spawn runs", -EINVAL);
  r->spawn_mp = us_per_op(cases[0].best_ns, opt.spawn_n);
  r->forkserver_mp = us_per_op(cases[1].best_ns, opt.forkserver_n);
  r->spawn_true = us_per_op(cases[2].best_ns, opt.spawn_n);
}

/* ---- Python peer ----------------------------------------------------------- */

static void python_peer(bench_peer *py) {
  char fn[48], sn[48], fsn[48], runs[32];
  snprintf(fn, sizeof fn, "--fork-n=%llu", (unsigned long long)opt.py_fork_n);
  snprintf(sn, sizeof sn, "--spawn-n=%llu",
           (unsigned long long)opt.py_spawn_n);
  snprintf(fsn, sizeof fsn, "--forkserver-n=%llu",
           (unsigned long long)opt.py_forkserver_n);
  snprintf(runs, sizeof runs, "--runs=%d", common.runs > 3 ? 3 : common.runs);
  char *args[] = {fn, sn, fsn, runs, NULL};
  char detail[160];
  snprintf(detail, sizeof detail,
           "%llu fork, %llu spawn, %llu forkserver start+join per run, "
           "best of %d",
           (unsigned long long)opt.py_fork_n,
           (unsigned long long)opt.py_spawn_n,
           (unsigned long long)opt.py_forkserver_n, common.runs > 3 ? 3 : common.runs);
  bench_python_peer(&common, args, py, detail);
}

/* ---- main ------------------------------------------------------------------- */

static uint64_t parse_count(const char *s, const char *what) {
  return bench_parse_count("bench_process", s, what, 1000000);
}

enum { O_FN = 256, O_SN, O_FSN, O_PYFN, O_PYSN, O_PYFSN };

static void set_option(int val, const char *arg) {
  switch (val) {
  case O_FN: opt.fork_n = parse_count(arg, "--fork-n"); break;
  case O_SN: opt.spawn_n = parse_count(arg, "--spawn-n"); break;
  case O_FSN: opt.forkserver_n = parse_count(arg, "--forkserver-n"); break;
  case O_PYFN: opt.py_fork_n = parse_count(arg, "--py-fork-n"); break;
  case O_PYSN: opt.py_spawn_n = parse_count(arg, "--py-spawn-n"); break;
  case O_PYFSN:
    opt.py_forkserver_n = parse_count(arg, "--py-forkserver-n");
    break;
  }
}

static void parse_args(int argc, char **argv) {
  static const struct option longopts[] = {
      {"fork-n", required_argument, NULL, O_FN},
      {"spawn-n", required_argument, NULL, O_SN},
      {"forkserver-n", required_argument, NULL, O_FSN},
      {"py-fork-n", required_argument, NULL, O_PYFN},
      {"py-spawn-n", required_argument, NULL, O_PYSN},
      {"py-forkserver-n", required_argument, NULL, O_PYFSN},
      {NULL, 0, NULL, 0},
  };
  bench_parse_args(argc, argv, &common, longopts, set_option);
  if (common.quick) {
    opt.fork_n = opt.fork_n / 10 + 1;
    opt.spawn_n = opt.spawn_n / 10 + 1;
    opt.forkserver_n = opt.forkserver_n / 10 + 1;
    opt.py_fork_n = opt.py_fork_n / 10 + 1;
    opt.py_spawn_n = opt.py_spawn_n / 10 + 1;
    opt.py_forkserver_n = opt.py_forkserver_n / 10 + 1;
  }
}

static const char *goal(double ratio, double min) {
  return isnan(ratio) ? "not checked (no figure)"
         : ratio >= min ? "met"
                        : "NOT met";
}

int main(int argc, char **argv) {
  parse_args(argc, argv);

  char title[256];
  snprintf(title, sizeof title,
           "mproc %s Process start+join benchmarks: %ld CPUs, best of %d "
           "runs of %llu fork, %llu spawn, %llu forkserver",
           mp_version_string(), sysconf(_SC_NPROCESSORS_ONLN), common.runs,
           (unsigned long long)opt.fork_n, (unsigned long long)opt.spawn_n,
           (unsigned long long)opt.forkserver_n);

  /* The C figures first, then Python, so nothing competes. */
  struct results r;
  measure_c(&r);
  bench_peer py;
  python_peer(&py);

  bench_begin(title);
  bench_report("process_fork", BENCH_US_PER_OP, r.fork_mp, "raw_fork",
               r.fork_raw);
  bench_report("process_fork", BENCH_US_PER_OP, r.fork_mp, "python_mp_fork",
               bench_peer_num(&py, "fork_us"));
  bench_report("process_spawn", BENCH_US_PER_OP, r.spawn_mp,
               "posix_spawn_true", r.spawn_true);
  bench_report("process_spawn", BENCH_US_PER_OP, r.spawn_mp,
               "python_mp_spawn", bench_peer_num(&py, "spawn_us"));
  bench_report("process_forkserver", BENCH_US_PER_OP, r.forkserver_mp,
               "posix_spawn_true", r.spawn_true);
  bench_report("process_forkserver", BENCH_US_PER_OP, r.forkserver_mp,
               "python_mp_forkserver", bench_peer_num(&py, "forkserver_us"));

  bench_note("one op: create + start + join + close of a child whose "
             "function returns 0 at once");
  bench_note("goal: process_fork within 1.5x of raw_fork (ratio >= 0.67): %s",
             goal(r.fork_raw / r.fork_mp, 0.67));
  bench_note("goal: process_spawn within 2x of posix_spawn_true "
             "(ratio >= 0.5): %s",
             goal(r.spawn_true / r.spawn_mp, 0.5));
  bench_note("goal: process_forkserver within 2x of posix_spawn_true "
             "(ratio >= 0.5): %s",
             goal(r.spawn_true / r.forkserver_mp, 0.5));
  return bench_end();
}
