/* test/bench/bench.c - the shared benchmark harness (see bench.h). */
#include "bench.h"

#include <sched.h>

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- timing ------------------------------------------------------------ */

int64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_best(int runs, bench_case *cases, size_t ncases) {
  for (size_t i = 0; i < ncases; i++)
    cases[i].best_ns = INT64_MAX;
  for (int r = 0; r < runs; r++) {
    for (size_t i = 0; i < ncases; i++) {
      int64_t ns = cases[i].fn(cases[i].ctx);
      if (ns < 0)
        return (int)ns;
      if (ns < cases[i].best_ns)
        cases[i].best_ns = ns;
    }
  }
  return 0;
}

/* ---- peers --------------------------------------------------------------- */

static void peer_parse_line(bench_peer *peer, char *line) {
  char key[sizeof peer->kv[0].key], value[sizeof peer->kv[0].value];
  if (peer->n == sizeof peer->kv / sizeof peer->kv[0])
    return;
  if (sscanf(line, "%63s %63s", key, value) != 2)
    return;
  bench_kv *kv = &peer->kv[peer->n++];
  memcpy(kv->key, key, sizeof key);
  memcpy(kv->value, value, sizeof value);
}

int bench_peer_run(char *const argv[], bench_peer *peer) {
  int fds[2];
  pid_t pid;
  posix_spawn_file_actions_t fa;

  memset(peer, 0, sizeof *peer);
  peer->status = -1;
  if (pipe(fds) < 0)
    return -1;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  fflush(stdout);
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }

  FILE *in = fdopen(fds[0], "r");
  if (in) {
    char line[256];
    while (fgets(line, sizeof line, in))
      peer_parse_line(peer, line);
    fclose(in);
  } else {
    close(fds[0]);
  }

  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  peer->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return peer->status == 0 ? 0 : -1;
}

const char *bench_peer_str(const bench_peer *peer, const char *key) {
  for (size_t i = 0; i < peer->n; i++)
    if (strcmp(peer->kv[i].key, key) == 0)
      return peer->kv[i].value;
  return NULL;
}

double bench_peer_num(const bench_peer *peer, const char *key) {
  const char *s = bench_peer_str(peer, key);
  char *end;
  if (!s)
    return BENCH_MISSING;
  double v = strtod(s, &end);
  return end != s && *end == '\0' && isfinite(v) && v > 0 ? v : BENCH_MISSING;
}

/* ---- reporting ----------------------------------------------------------- */

#define MAX_LINES 64
#define MAX_NOTES 16

static char bench_lines[MAX_LINES][256];
static size_t bench_nlines;
static char bench_notes[MAX_NOTES][512];
static size_t bench_nnotes;

static int unit_is_rate(const char *unit) {
  size_t n = strlen(unit);
  return n >= 2 && strcmp(unit + n - 2, "/s") == 0;
}

/* Rates are large: no decimals. Costs are small: two. */
static void format_value(char *buf, size_t size, const char *unit, double v) {
  if (isnan(v))
    snprintf(buf, size, "-");
  else
    snprintf(buf, size, unit_is_rate(unit) ? "%.0f" : "%.2f", v);
}

#define ROW_FMT "%-24s %14s %-6s  %-26s %14s %7s\n"

void bench_begin(const char *title) {
  printf("%s\n\n", title);
  printf(ROW_FMT, "workload", "mproc", "unit", "peer", "peer", "ratio");
  printf(ROW_FMT, "--------", "-----", "----", "----", "----", "-----");
}

void bench_report(const char *workload, const char *unit, double mproc_value,
                  const char *peer, double peer_value) {
  char mv[32], pv[32], ratio[32];
  double r = BENCH_MISSING;
  if (!isnan(peer_value) && mproc_value > 0 && peer_value > 0)
    r = unit_is_rate(unit) ? mproc_value / peer_value
                           : peer_value / mproc_value;
  format_value(mv, sizeof mv, unit, mproc_value);
  format_value(pv, sizeof pv, unit, peer_value);
  if (isnan(r))
    snprintf(ratio, sizeof ratio, "-");
  else
    snprintf(ratio, sizeof ratio, "%.2f", r);

  printf(ROW_FMT, workload, mv, unit, peer, pv, ratio);
  fflush(stdout);
  if (bench_nlines < MAX_LINES)
    snprintf(bench_lines[bench_nlines++], sizeof bench_lines[0],
             "BENCH\t%s\t%s\t%s\t%s\t%s\t%s", workload, mv, unit, peer, pv,
             ratio);
}

void bench_note(const char *fmt, ...) {
  va_list ap;
  if (bench_nnotes == MAX_NOTES)
    return;
  va_start(ap, fmt);
  vsnprintf(bench_notes[bench_nnotes++], sizeof bench_notes[0], fmt, ap);
  va_end(ap);
}

/* ---- /dev/shm hygiene ----------------------------------------------------- */

#define MAX_SEGS 16

static char bench_segs[MAX_SEGS][300];
static size_t bench_nsegs;

void bench_shm_track(const char *name) {
  if (name && bench_nsegs < MAX_SEGS)
    snprintf(bench_segs[bench_nsegs++], sizeof bench_segs[0], "/dev/shm%s",
             name);
}

static int shm_leftovers(void) {
  int left = 0;
  for (size_t i = 0; i < bench_nsegs; i++) {
    if (access(bench_segs[i], F_OK) == 0) {
      fprintf(stderr, "bench: FAIL: %s was left behind\n", bench_segs[i]);
      left++;
    }
  }
  return left;
}

int bench_end(void) {
  printf("\nratio > 1: mproc is better (ns/op: peer/mproc; ops/s: "
         "mproc/peer)\n");
  for (size_t i = 0; i < bench_nnotes; i++)
    printf("note: %s\n", bench_notes[i]);
  printf("\n");
  for (size_t i = 0; i < bench_nlines; i++)
    printf("%s\n", bench_lines[i]);
  fflush(stdout);
  return shm_leftovers() ? 1 : 0;
}

int bench_python_peer(const bench_opts *o, char *const args[], bench_peer *py,
                      const char *detail) {
  char *argv[16];
  size_t n = 0;
  memset(py, 0, sizeof *py);
  if (!o->python[0]) {
    bench_note("Python peer skipped (--python=)");
    return -1;
  }
  argv[n++] = (char *)o->python;
  argv[n++] = (char *)o->py_script;
  for (size_t i = 0; args[i] && n < sizeof argv / sizeof argv[0] - 1; i++)
    argv[n++] = args[i];
  argv[n] = NULL;

  if (bench_peer_run(argv, py) == 0) {
    const char *v = bench_peer_str(py, "python_version");
    bench_note("Python peer: %s %s (Python %s, %s)", o->python, o->py_script,
               v ? v : "?", detail);
    return 0;
  }
  if (py->status == BENCH_PY_CHECK_FAILED) {
    fprintf(stderr, "%s: FAIL: a check of the Python peer failed\n", o->name);
    exit(1);
  }
  if (py->status < 0 || py->status == 127)
    bench_note("Python peer not measured: %s not found", o->python);
  else
    bench_note("Python peer not measured: %s %s exited with status %d",
               o->python, o->py_script, py->status);
  py->n = 0; /* no partial figures */
  return -1;
}

/* ---- command line ------------------------------------------------------- */

/* The common options' vals: below 256, where the programs' own start. */
enum { O_RUNS = 200, O_PYTHON, O_SCRIPT, O_QUICK };

void bench_parse_args(int argc, char **argv, bench_opts *o,
                      const struct option *own,
                      void (*set)(int val, const char *arg)) {
  /* The common options first: getopt_long then lists the possibilities of
   * an ambiguous abbreviation (--py) in the order the programs always had. */
  struct option longopts[32] = {
      {"runs", required_argument, NULL, O_RUNS},
      {"python", required_argument, NULL, O_PYTHON},
      {"py-script", required_argument, NULL, O_SCRIPT},
      {"quick", no_argument, NULL, O_QUICK},
      {"help", no_argument, NULL, 'h'},
  };
  size_t n = 5;
  for (size_t i = 0; own[i].name && n < sizeof longopts / sizeof longopts[0] - 1;
       i++)
    longopts[n++] = own[i];

  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case O_RUNS:
      o->runs = (int)bench_parse_count(o->name, optarg, "--runs",
                                       (uint64_t)o->max_runs);
      break;
    case O_PYTHON: o->python = optarg; break;
    case O_SCRIPT: o->py_script = optarg; break;
    case O_QUICK: o->quick = 1; break;
    case 'h': fputs(o->usage, stdout); exit(0);
    case '?': fputs(o->usage, stderr); exit(2);
    default: set(c, optarg); break;
    }
  }
  if (optind != argc) {
    fputs(o->usage, stderr);
    exit(2);
  }
}
uint64_t bench_parse_count(const char *name, const char *s, const char *what,
                           uint64_t max) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end || v == 0 || (max && v > max)) {
    fprintf(stderr, "%s: bad %s: %s\n", name, what, s);
    exit(2);
  }
  return v;
}

double bench_parse_seconds(const char *name, const char *s, const char *what,
                           double max) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v > 0) || v > max) {
    fprintf(stderr, "%s: bad %s: %s\n", name, what, s);
    exit(2);
  }
  return v;
}

int bench_pick_cpus(int cpus[2]) {
  cpu_set_t set;
  int k = 0;
  cpus[0] = cpus[1] = -1;
  if (sched_getaffinity(0, sizeof set, &set) < 0)
    return 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && k < 2; cpu++)
    if (CPU_ISSET(cpu, &set))
      cpus[k++] = cpu;
  return k;
}

void bench_pin_to(int cpu) {
  cpu_set_t set;
  if (cpu < 0)
    return;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set); /* best effort */
}

/* ---- the measured children ------------------------------------------------ */

int bench_fork_start(bench_start *s, int n, pid_t pid[],
                     void (*child)(void *ctx, int i), void *ctx, int64_t *t0) {
  atomic_store(&s->ready, 0);
  atomic_store(&s->go, 0);
  fflush(stdout); /* nothing buffered, so nothing written twice */
  fflush(stderr);
  for (int i = 0; i < n; i++) {
    if ((pid[i] = fork()) < 0)
      return -errno;
    if (pid[i] == 0) {
      child(ctx, i);
      _exit(1); /* not reached: the child _exits */
    }
  }
  while (atomic_load(&s->ready) < n)
    sched_yield();
  *t0 = bench_now_ns();
  atomic_store(&s->go, 1);
  return 0;
}

void bench_child_start(bench_start *s, int cpu, int alarm_s) {
  if (alarm_s > 0)
    alarm((unsigned)alarm_s);
  bench_pin_to(cpu);
  atomic_fetch_add(&s->ready, 1);
  while (!atomic_load(&s->go))
    sched_yield();
}

int bench_reap(int n, const pid_t pid[], const char *name, const char *what,
               int alarm_s) {
  int failed = 0;
  for (int i = 0; i < n; i++) {
    int st;
    while (waitpid(pid[i], &st, 0) < 0)
      if (errno != EINTR)
        return -errno;
    if (alarm_s > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
      fprintf(stderr, "%s: FAIL: a %s child was stuck for %d s\n", name, what,
              alarm_s);
    failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  return failed;
}
