/* test/check_process.c - Process with the fork, spawn and forkserver start
 * methods: seed ports, exit codes, daemons, sentinels, zombies, bad input,
 * aligned arguments, forkserver handles used from many threads. */
#include "tests.h"

#include <pthread.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const mp_start_method methods[] = {MP_START_FORK, MP_START_SPAWN,
                                          MP_START_FORKSERVER};
#define NMETHODS 3

/* ---- entries (registered: spawn and forkserver children run them) ------- */

static int ret_arg(void *arg) { return arg ? *(int *)arg : 99; }
MP_REGISTER(ret_arg)

/* Starts later_entry (registered further down this file, so after this
 * entry's constructor) with the same method and returns its exit code, or
 * 100 + what failed. arg: the mp_start_method. */
static int later_entry(void *arg);
static int starts_later_entry(void *arg) {
  mp_process_options o = {.method = *(mp_start_method *)arg};
  mp_process *p;
  int code = -1;
  if (mp_process_create(later_entry, NULL, &o, &p) < 0)
    return 101;
  if (mp_process_start(p) < 0 || mp_process_join(p, 20.0) < 0 ||
      mp_process_exitcode(p, &code) < 0)
    return 102;
  mp_process_close(p);
  return code;
}
MP_REGISTER(starts_later_entry)

static int sleep_forever(void *arg) {
  (void)arg;
  while (pause() < 0 || 1)
    ;
  return 0;
}
MP_REGISTER(sleep_forever)

/* arg: "NAME" of an mp_shm holding an int array; writes its cube at index
 * i, where "i" follows the name after a ':'. */
static int cube_into_shm(void *arg) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", (char *)arg);
  char *colon = strchr(buf, ':');
  if (!colon)
    return 1;
  *colon = '\0';
  int i = atoi(colon + 1);
  mp_shm *shm;
  if (mp_shm_open(buf, &shm) != 0)
    return 2;
  ((long *)mp_shm_buf(shm))[i] = (long)i * i * i;
  return mp_shm_close(shm) == 0 ? 0 : 3;
}
MP_REGISTER(cube_into_shm)

/* arg: "LOCK:SHM" names; 10 000 locked increments of the long in SHM. */
static int increment_by_name(void *arg) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", (char *)arg);
  char *colon = strchr(buf, ':');
  if (!colon)
    return 1;
  *colon = '\0';
  mp_lock *lock;
  mp_shm *shm;
  if (mp_lock_open(buf, &lock) || mp_shm_open(colon + 1, &shm))
    return 2;
  long *v = mp_shm_buf(shm);
  for (int i = 0; i < 10000; i++) {
    if (mp_lock_acquire(lock, 10.0) != 0)
      return 3;
    ++*v;
    mp_lock_release(lock);
  }
  return mp_lock_close(lock) || mp_shm_close(shm) ? 4 : 0;
}
MP_REGISTER(increment_by_name)

/* Reports the names it sees: its own and its first child's default name,
 * written into the mp_shm named by arg. */
static int report_names(void *arg) {
  mp_shm *shm;
  if (mp_shm_open(arg, &shm))
    return 1;
  char *out = mp_shm_buf(shm);
  mp_process *p;
  if (mp_process_create(ret_arg, NULL, NULL, &p))
    return 2;
  snprintf(out, 256, "%s|%s|%d", mp_current_process_name(),
           mp_process_name(p), (int)mp_parent_pid());
  mp_process_close(p);
  return mp_shm_close(shm) ? 3 : 0;
}
MP_REGISTER(report_names)

/* A spawn/forkserver argument wider than a char, read in place: 0 when it
 * arrived 16-byte aligned and intact, 1 when misaligned, 2 when garbled. */
struct wide_arg {
  _Alignas(16) double x[2];
  char tag[8];
};

static int read_wide_in_place(void *arg) {
  if ((uintptr_t)arg % 16 != 0)
    return 1;
  const struct wide_arg *w = arg;
  if (w->x[0] != 1.5 || w->x[1] != -2.25 || strcmp(w->tag, "wide") != 0)
    return 2;
  return 0;
}
MP_REGISTER(read_wide_in_place)

static int later_entry(void *arg) {
  (void)arg;
  return 42;
}
MP_REGISTER(later_entry)

static mp_process *start(mp_target fn, void *arg, size_t size,
                         mp_start_method m) {
  mp_process *p;
  mp_process_options o = {.method = m, .arg_size = size};
  ck_rc(mp_process_create(fn, arg, &o, &p), 0);
  ck_rc(mp_process_start(p), 0);
  return p;
}

static int exit_code(mp_process *p) {
  int code = -1000;
  ck_rc(mp_process_join(p, 20.0), 0);
  ck_rc(mp_process_exitcode(p, &code), 0);
  return code;
}

static bool gone(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", (int)pid);
  return access(path, F_OK) != 0;
}

/* ---- basics, every start method ------------------------------------------- */

START_TEST(exit_codes) {
  mp_start_method m = methods[_i];
  int v = 7;
  mp_process *p = start(ret_arg, &v, sizeof v, m);
  ck_assert_int_gt(mp_process_pid(p), 0);
  ck_assert_int_eq(exit_code(p), 7);
  ck_rc(mp_process_is_alive(p), 0);
  ck_assert(gone(mp_process_pid(p))); /* reaped: no zombie */
  ck_rc(mp_process_start(p), -EALREADY);
  ck_rc(mp_process_close(p), 0);
  v = 300; /* & 0xff */
  p = start(ret_arg, &v, sizeof v, m);
  ck_assert_int_eq(exit_code(p), 300 & 0xff);
  ck_rc(mp_process_close(p), 0);
}
END_TEST

/* A child's entry runs once every MP_REGISTER of the program has
 * registered: it can start an entry registered after its own. */
START_TEST(entry_starts_a_later_entry) {
  mp_start_method m = methods[_i];
  mp_process *p = start(starts_later_entry, &m, sizeof m, m);
  ck_assert_int_eq(exit_code(p), 42);
  ck_rc(mp_process_close(p), 0);
}
END_TEST

START_TEST(terminate_and_kill) {
  mp_start_method m = methods[_i];
  mp_process *p = start(sleep_forever, NULL, 0, m);
  ck_rc(mp_process_is_alive(p), 1);
  int code;
  ck_rc(mp_process_exitcode(p, &code), -EBUSY);
  ck_rc(mp_process_close(p), -EBUSY);
  double t0 = t_now();
  ck_rc(mp_process_join(p, 0.2), -ETIMEDOUT);
  double took = t_now() - t0;
  ck_assert_msg(took >= 0.2 && took < 1.0, "join took %.3f s", took);
  ck_rc(mp_process_join(p, 0), -EAGAIN);
  ck_rc(mp_process_terminate(p), 0);
  ck_assert_int_eq(exit_code(p), -SIGTERM);
  ck_rc(mp_process_is_alive(p), 0);
  ck_rc(mp_process_terminate(p), 0); /* ended: harmless */
  ck_rc(mp_process_close(p), 0);
  p = start(sleep_forever, NULL, 0, m);
  ck_rc(mp_process_kill(p), 0);
  ck_assert_int_eq(exit_code(p), -SIGKILL);
  ck_rc(mp_process_close(p), 0);
}
END_TEST

/* Seed: cubes of numbers computed in 5 processes into shared memory. */
START_TEST(cubes_in_shared_memory) {
  mp_start_method m = methods[_i];
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 5 * sizeof(long), &shm), 0);
  mp_process *p[5];
  char args[5][128];
  for (int i = 0; i < 5; i++) {
    snprintf(args[i], sizeof args[i], "%s:%d", mp_shm_name(shm), i);
    p[i] = start(cube_into_shm, args[i], strlen(args[i]) + 1, m);
  }
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(exit_code(p[i]), 0);
    ck_rc(mp_process_close(p[i]), 0);
  }
  long *cubes = mp_shm_buf(shm);
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(cubes[i], (long)i * i * i);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

/* Seed: the bank balance race, with processes that open the lock and the
 * balance by name (so it also holds for spawn and forkserver). */
START_TEST(locked_counter_by_name) {
  mp_start_method m = methods[_i];
  mp_lock *lock;
  mp_shm *shm;
  ck_rc(mp_lock_create(NULL, &lock), 0);
  ck_rc(mp_shm_create(NULL, sizeof(long), &shm), 0);
  char arg[256];
  snprintf(arg, sizeof arg, "%s:%s", mp_lock_name(lock), mp_shm_name(shm));
  mp_process *a = start(increment_by_name, arg, strlen(arg) + 1, m);
  mp_process *b = start(increment_by_name, arg, strlen(arg) + 1, m);
  ck_assert_int_eq(exit_code(a), 0);
  ck_assert_int_eq(exit_code(b), 0);
  ck_assert_int_eq(*(long *)mp_shm_buf(shm), 20000);
  mp_process_close(a);
  mp_process_close(b);
  ck_rc(mp_lock_destroy(lock), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

START_TEST(names_in_children) {
  mp_start_method m = methods[_i];
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 256, &shm), 0);
  mp_process *p;
  mp_process_options o = {.method = m,
                          .name = "worker",
                          .arg_size = strlen(mp_shm_name(shm)) + 1};
  ck_rc(mp_process_create(report_names, (void *)mp_shm_name(shm), &o, &p), 0);
  ck_assert_str_eq(mp_process_name(p), "worker");
  ck_rc(mp_process_start(p), 0);
  ck_assert_int_eq(exit_code(p), 0);
  /* "Process-1:1": the child's first child, named under the child's own
   * identity (which it got as the parent's next number). */
  char expect[128];
  const char *out = mp_shm_buf(shm);
  ck_assert_msg(strncmp(out, "worker|Process-", 15) == 0, "got %s", out);
  snprintf(expect, sizeof expect, ":1|%d", (int)getpid());
  ck_assert_msg(strstr(out, expect) != NULL, "got %s", out);
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

/* ---- fork-only seeds -------------------------------------------------------- */

static int worker_writes_slot(void *arg) {
  long *slot = arg;
  *slot = getpid();
  return 0;
}

/* Seed: five workers. */
START_TEST(five_workers) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 5 * sizeof(long), &shm), 0);
  long *slots = mp_shm_buf(shm);
  mp_process *p[5];
  for (int i = 0; i < 5; i++)
    p[i] = start(worker_writes_slot, &slots[i], 0, MP_START_FORK);
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(exit_code(p[i]), 0);
    ck_assert_int_eq(slots[i], mp_process_pid(p[i]));
    ck_rc(mp_process_close(p[i]), 0);
  }
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

START_TEST(default_names_count_up) {
  mp_process *a, *b;
  ck_rc(mp_process_create(ret_arg, NULL, NULL, &a), 0);
  ck_rc(mp_process_create(ret_arg, NULL, NULL, &b), 0);
  int na, nb;
  ck_assert_int_eq(sscanf(mp_process_name(a), "Process-%d", &na), 1);
  ck_assert_int_eq(sscanf(mp_process_name(b), "Process-%d", &nb), 1);
  ck_assert_int_eq(nb, na + 1);
  ck_assert_str_eq(mp_current_process_name(), "MainProcess");
  ck_assert_int_eq(mp_parent_pid(), 0);
  ck_rc(mp_process_close(a), 0); /* never started: fine */
  ck_rc(mp_process_close(b), 0);
}
END_TEST

struct order {
  long done[2]; /* finishing times, in arrival order */
  long seq;
  mp_lock lock;
};

static int sleep_then_mark(void *arg) {
  struct order *o = arg;
  usleep(200000);
  mp_lock_acquire(&o->lock, MP_FOREVER);
  o->done[0] = ++o->seq;
  mp_lock_release(&o->lock);
  return 0;
}


/* A parent that ends normally joins its non-daemon child first and
 * terminates its daemon child (seed: daemon vs non-daemon ordering). */
static int parent_with_children(void *arg) {
  struct order *o = arg;
  mp_process *nd, *d;
  mp_process_options daemon = {.daemon = 1};
  if (mp_process_create(sleep_then_mark, o, NULL, &nd) ||
      mp_process_create(sleep_forever, NULL, &daemon, &d) ||
      mp_process_start(nd) || mp_process_start(d))
    return 1;
  o->done[1] = mp_process_pid(d);
  return 0; /* no join: the exit does it */
}

START_TEST(exit_joins_children_and_ends_daemons) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, sizeof(struct order), &shm), 0);
  struct order *o = mp_shm_buf(shm);
  ck_rc(mp_lock_init(&o->lock), 0);
  mp_process *p = start(parent_with_children, o, 0, MP_START_FORK);
  ck_assert_int_eq(exit_code(p), 0);
  ck_assert_int_eq(o->done[0], 1);     /* the non-daemon child finished */
  ck_assert(gone((pid_t)o->done[1]));  /* the daemon was ended and reaped */
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_lock_destroy(&o->lock), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

struct killed_parent {
  int fds[2];
  mp_start_method method;
};

static int start_daemon_then_wait(void *arg) {
  struct killed_parent *k = arg;
  mp_process *d;
  mp_process_options o = {.daemon = 1, .method = k->method};
  if (mp_process_create(sleep_forever, NULL, &o, &d) || mp_process_start(d))
    return 1;
  pid_t pid = mp_process_pid(d);
  if (write(k->fds[1], &pid, sizeof pid) != sizeof pid)
    return 2;
  pause();
  return 3;
}

/* Parent SIGKILLed: its daemon children are gone within a second. */
START_TEST(daemons_die_with_killed_parent) {
  if (t_instrumented())
    return; /* valgrind has no pidfd_open */
  struct killed_parent k = {.method = methods[_i]};
  t_pipe(k.fds);
  pid_t parent = t_fork(start_daemon_then_wait, &k);
  pid_t daemon;
  ck_assert(t_recv_bytes(k.fds[0], &daemon, sizeof daemon));
  int pidfd = (int)syscall(SYS_pidfd_open, daemon, 0);
  ck_assert_int_ge(pidfd, 0);
  t_kill(parent);
  ck_rc(mp_wait(&pidfd, 1, 1.0, NULL), 1);
  close(pidfd);
  close(k.fds[0]);
  close(k.fds[1]);
}
END_TEST

/* ---- sentinels, mp_wait, active children ------------------------------------ */

START_TEST(wait_on_many_sentinels) {
  if (t_instrumented())
    return; /* valgrind has no pidfd_open: no sentinels */
  mp_process *p[3];
  int v = 5;
  p[0] = start(sleep_forever, NULL, 0, MP_START_FORK);
  p[1] = start(ret_arg, &v, 0, MP_START_FORK);
  p[2] = start(sleep_forever, NULL, 0, MP_START_FORK);
  int fds[3];
  for (int i = 0; i < 3; i++)
    fds[i] = mp_process_sentinel(p[i]);
  unsigned char ready[3];
  ck_rc(mp_wait(fds, 3, 10.0, ready), 1);
  ck_assert(!ready[0] && ready[1] && !ready[2]);
  ck_assert_int_eq(exit_code(p[1]), 5);
  ck_rc(mp_active_children(NULL, 0), 2);
  mp_process *live[4];
  ck_rc(mp_active_children(live, 4), 2);
  ck_assert((live[0] == p[0] && live[1] == p[2]) ||
            (live[0] == p[2] && live[1] == p[0]));
  ck_rc(mp_process_kill(p[2]), 0);
  ck_rc(mp_wait(&fds[2], 1, 10.0, NULL), 1);
  ck_rc(mp_active_children(NULL, 0), 1); /* reaps p[2]: no zombie */
  ck_assert(gone(mp_process_pid(p[2])));
  ck_rc(mp_wait(fds, 1, 0, ready), -EAGAIN);
  ck_rc(mp_wait(fds, 1, 0.1, ready), -ETIMEDOUT);
  ck_rc(mp_process_kill(p[0]), 0);
  for (int i = 0; i < 3; i++) {
    mp_process_join(p[i], 10.0);
    ck_rc(mp_process_close(p[i]), 0);
  }
}
END_TEST

/* ---- spawn specifics ---------------------------------------------------------- */

static _Atomic int stop_spinning;

static void *spin(void *arg) {
  (void)arg;
  while (!stop_spinning)
    ;
  return NULL;
}

START_TEST(spawn_from_busy_threads) {
  if (t_instrumented())
    return; /* valgrind runs one thread at a time: spinners starve it */
  pthread_t t[8];
  for (int i = 0; i < 8; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, spin, NULL), 0);
  for (int k = 0; k < 2; k++) {
    int v = 11 + k;
    mp_process *p =
        start(ret_arg, &v, sizeof v, k ? MP_START_FORKSERVER : MP_START_SPAWN);
    ck_assert_int_eq(exit_code(p), 11 + k);
    ck_rc(mp_process_close(p), 0);
  }
  stop_spinning = 1;
  for (int i = 0; i < 8; i++)
    pthread_join(t[i], NULL);
}
END_TEST

static int not_registered(void *arg) { return arg != NULL; }

START_TEST(unregistered_entry_refused) {
  mp_process *p = (mp_process *)1;
  mp_process_options o = {.method = MP_START_SPAWN};
  ck_rc(mp_process_create(not_registered, NULL, &o, &p), -ENOENT);
  ck_assert_ptr_null(p);
  o.method = MP_START_FORKSERVER;
  ck_rc(mp_process_create(not_registered, NULL, &o, &p), -ENOENT);
  o.method = MP_START_FORK; /* fork needs no registration */
  ck_rc(mp_process_create(not_registered, NULL, &o, &p), 0);
  ck_rc(mp_process_start(p), 0);
  ck_assert_int_eq(exit_code(p), 0);
  ck_rc(mp_process_close(p), 0);
  /* Names: registering the same pair again is fine, another fn is not. */
  ck_rc(mp_register("ret_arg", ret_arg), 0);
  ck_rc(mp_register("ret_arg", sleep_forever), -EEXIST);
  ck_rc(mp_register("", ret_arg), -EINVAL);
  ck_rc(mp_register(NULL, ret_arg), -EINVAL);
  ck_rc(mp_register("x", NULL), -EINVAL);
  char longname[80];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  ck_rc(mp_register(longname, ret_arg), -EINVAL);
}
END_TEST

START_TEST(unrunnable_executable_reported_in_parent) {
  if (t_instrumented())
    return; /* valgrind's launcher hides the exec failure */
  ck_rc(mp_set_executable("/nonexistent/mproc-test"), 0);
  mp_process *p;
  mp_process_options o = {.method = MP_START_SPAWN};
  ck_rc(mp_process_create(ret_arg, NULL, &o, &p), 0);
  ck_rc(mp_process_start(p), -ENOENT);
  ck_rc(mp_process_join(p, 0), -EINVAL); /* never started */
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_set_executable("/etc/passwd"), 0); /* not executable */
  ck_rc(mp_process_create(ret_arg, NULL, &o, &p), 0);
  ck_rc(mp_process_start(p), -EACCES);
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_set_executable(NULL), 0);
  ck_rc(mp_set_executable(""), -EINVAL);
}
END_TEST

START_TEST(start_method_default) {
  ck_assert_int_eq(mp_get_start_method(), MP_START_FORK);
  ck_rc(mp_set_start_method(MP_START_SPAWN), 0);
  ck_assert_int_eq(mp_get_start_method(), MP_START_SPAWN);
  int v = 3;
  mp_process *p;
  mp_process_options o = {.arg_size = sizeof v};
  ck_rc(mp_process_create(ret_arg, &v, &o, &p), 0);
  ck_rc(mp_process_start(p), 0);
  ck_assert_int_eq(exit_code(p), 3);
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_set_start_method(MP_START_DEFAULT), -EINVAL);
  ck_rc(mp_set_start_method((mp_start_method)9), -EINVAL);
  ck_rc(mp_set_start_method(MP_START_FORK), 0);
}
END_TEST

/* The child's copy of the argument is 16-byte aligned, whatever the lengths
 * of the strings sent before it (entry, name, identity): names of 1 to 16
 * characters cover every offset. */
START_TEST(spawn_arg_aligned) {
  mp_start_method m = methods[_i];
  struct wide_arg w;
  memset(&w, 0, sizeof w); /* no uninitialized padding sent */
  w.x[0] = 1.5;
  w.x[1] = -2.25;
  strcpy(w.tag, "wide");
  mp_process *p[16];
  for (int i = 0; i < 16; i++) {
    char name[17];
    memset(name, 'n', (size_t)i + 1);
    name[i + 1] = '\0';
    mp_process_options o = {.method = m, .name = name, .arg_size = sizeof w};
    ck_rc(mp_process_create(read_wide_in_place, &w, &o, &p[i]), 0);
    ck_rc(mp_process_start(p[i]), 0);
  }
  for (int i = 0; i < 16; i++) {
    int code = exit_code(p[i]);
    ck_assert_msg(code == 0, "name of %d characters: exit code %d", i + 1,
                  code);
    ck_rc(mp_process_close(p[i]), 0);
  }
}
END_TEST

/* ---- forkserver specifics ----------------------------------------------------- */

struct joiner {
  mp_process *p;
  int fds[2]; /* the joiner says it is about to join */
  pid_t tid;
  int rc, code;
};

static void *join_forever(void *arg) {
  struct joiner *j = arg;
  j->tid = (pid_t)syscall(SYS_gettid);
  t_send(j->fds[1]);
  j->rc = mp_process_join(j->p, MP_FOREVER);
  if (j->rc == 0)
    j->rc = mp_process_exitcode(j->p, &j->code);
  return NULL;
}

/* While a thread joins a forkserver child without a limit, the handle is
 * not locked: another thread's calls on it return at once, and its
 * terminate ends the join. */
START_TEST(forkserver_join_leaves_handle_free) {
  struct joiner j = {.code = -1000};
  j.p = start(sleep_forever, NULL, 0, MP_START_FORKSERVER);
  t_pipe(j.fds);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, join_forever, &j), 0);
  ck_assert(t_recv(j.fds[0]));
  ck_assert(t_wait_sleeping(j.tid)); /* waiting inside the join */
  double t0 = t_now();
  ck_rc(mp_process_is_alive(j.p), 1);
  int code;
  ck_rc(mp_process_exitcode(j.p, &code), -EBUSY);
  ck_rc(mp_process_join(j.p, 0), -EAGAIN);
  ck_rc(mp_process_terminate(j.p), 0);
  double took = t_now() - t0;
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  ck_assert_msg(took < 1.0, "calls during the join took %.3f s", took);
  ck_rc(j.rc, 0);
  ck_assert_int_eq(j.code, -SIGTERM);
  ck_rc(mp_process_close(j.p), 0);
  close(j.fds[0]);
  close(j.fds[1]);
}
END_TEST

struct first_use {
  mp_process *p;
  pid_t tid;
  int rc;
};

/* The first use of the forkserver in the process: a daemon child. */
static void *start_forkserver_daemon(void *arg) {
  struct first_use *f = arg;
  f->tid = (pid_t)syscall(SYS_gettid);
  mp_process_options o = {.method = MP_START_FORKSERVER, .daemon = 1};
  f->rc = mp_process_create(sleep_forever, NULL, &o, &f->p);
  if (f->rc == 0)
    f->rc = mp_process_start(f->p);
  return NULL;
}

/* Wait (at most 10 s) until thread tid of this process is gone for good. */
static bool task_gone(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
  for (double t0 = t_now(); t_now() - t0 < 10.0; sched_yield())
    if (access(path, F_OK) != 0)
      return true;
  return false;
}

/* The server is not tied to the thread that started it: that thread exits,
 * and the server goes on serving, its daemon child lives, and exit codes
 * are still reported. */
START_TEST(forkserver_outlives_first_thread) {
  struct first_use f = {.rc = -1000};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, start_forkserver_daemon, &f), 0);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  ck_rc(f.rc, 0);
  ck_assert(task_gone(f.tid)); /* its exit is complete */
  int v = 5;
  mp_process *p = start(ret_arg, &v, sizeof v, MP_START_FORKSERVER);
  ck_assert_int_eq(exit_code(p), 5);
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_process_is_alive(f.p), 1);
  ck_rc(mp_process_terminate(f.p), 0);
  ck_rc(mp_process_join(f.p, 5.0), 0);
  int code = -1000;
  ck_rc(mp_process_exitcode(f.p, &code), 0);
  ck_assert_int_eq(code, -SIGTERM);
  ck_rc(mp_process_close(f.p), 0);
}
END_TEST

struct timed_join {
  mp_process *p;
  int rc, code;
};

static void *join_within(void *arg) {
  struct timed_join *j = arg;
  j->rc = mp_process_join(j->p, 5.0);
  if (j->rc == 0)
    j->rc = mp_process_exitcode(j->p, &j->code);
  return NULL;
}

/* Threads join forkserver children at once: whichever looks first takes the
 * server's reports, and every join still ends as soon as its child has
 * ended, not at its timeout. */
START_TEST(forkserver_concurrent_joins) {
  for (int round = 0; round < 10; round++) {
    struct timed_join j[8];
    pthread_t t[8];
    int v[8];
    for (int i = 0; i < 8; i++) {
      v[i] = 10 * round + i;
      j[i] = (struct timed_join){.code = -1000};
      j[i].p = start(ret_arg, &v[i], sizeof v[i], MP_START_FORKSERVER);
    }
    double t0 = t_now();
    for (int i = 0; i < 8; i++)
      ck_assert_int_eq(pthread_create(&t[i], NULL, join_within, &j[i]), 0);
    for (int i = 0; i < 8; i++)
      ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    double took = t_now() - t0; /* a lost report: a join sleeps to its end */
    ck_assert_msg(took < 2.0, "round %d: the joins took %.3f s", round, took);
    for (int i = 0; i < 8; i++) {
      ck_assert_msg(j[i].rc == 0, "round %d, child %d: join returned %s", round,
                    i, mp_err_name(j[i].rc));
      ck_assert_int_eq(j[i].code, v[i]);
      ck_rc(mp_process_close(j[i].p), 0);
    }
  }
}
END_TEST

/* ---- misc --------------------------------------------------------------------- */

static int count_cpus(void *arg) {
  (void)arg;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  if (sched_setaffinity(0, sizeof one, &one))
    return 100;
  return mp_cpu_count();
}

START_TEST(cpu_count_respects_affinity) {
  ck_assert_int_ge(mp_cpu_count(), 1);
  ck_assert_int_le(mp_cpu_count(), (int)sysconf(_SC_NPROCESSORS_ONLN));
  mp_process *p = start(count_cpus, NULL, 0, MP_START_FORK);
  ck_assert_int_eq(exit_code(p), 1);
  ck_rc(mp_process_close(p), 0);
}
END_TEST

START_TEST(bad_input) {
  mp_process *p = (mp_process *)1;
  ck_rc(mp_process_create(NULL, NULL, NULL, &p), -EINVAL);
  ck_assert_ptr_null(p);
  ck_rc(mp_process_create(ret_arg, NULL, NULL, NULL), -EINVAL);
  mp_process_options o = {.method = (mp_start_method)7};
  ck_rc(mp_process_create(ret_arg, NULL, &o, &p), -EINVAL);
  mp_process_options big = {.method = MP_START_SPAWN,
                            .arg_size = MP_PROCESS_ARG_MAX + 1};
  int v = 0;
  ck_rc(mp_process_create(ret_arg, &v, &big, &p), -EINVAL);
  mp_process_options nullarg = {.method = MP_START_SPAWN, .arg_size = 4};
  ck_rc(mp_process_create(ret_arg, NULL, &nullarg, &p), -EINVAL);
  ck_rc(mp_process_create(ret_arg, NULL, NULL, &p), 0);
  ck_rc(mp_process_join(p, 1.0), -EINVAL); /* before start */
  ck_rc(mp_process_terminate(p), -EINVAL);
  ck_rc(mp_process_kill(p), -EINVAL);
  ck_rc(mp_process_sentinel(p), -EINVAL);
  int code;
  ck_rc(mp_process_exitcode(p, &code), -EINVAL);
  ck_rc(mp_process_is_alive(p), 0);
  ck_rc(mp_process_start(p), 0);
  ck_rc(mp_process_join(p, NAN), -EINVAL);
  ck_rc(mp_process_exitcode(p, NULL), -EINVAL);
  ck_rc(mp_process_join(p, 10.0), 0);
  ck_rc(mp_process_close(p), 0);
  ck_rc(mp_process_close(NULL), 0);
  ck_rc(mp_process_start(NULL), -EINVAL);
  ck_rc(mp_process_join(NULL, 1), -EINVAL);
  ck_rc(mp_process_is_alive(NULL), -EINVAL);
  ck_rc(mp_process_terminate(NULL), -EINVAL);
  ck_assert_int_eq(mp_process_pid(NULL), 0);
  ck_assert_ptr_null(mp_process_name(NULL));
  ck_rc(mp_wait(NULL, 1, 0, NULL), -EINVAL);
  int fd = 0;
  ck_rc(mp_wait(&fd, 0, 0, NULL), -EINVAL);
  ck_rc(mp_wait(&fd, 1, NAN, NULL), -EINVAL);
  ck_rc(mp_active_children(NULL, 3), -EINVAL);
}
END_TEST

Suite *process_suite(void) {
  Suite *s = suite_create("process");
  TCase *tm = tcase_create("methods");
  tcase_set_timeout(tm, T_TIMEOUT);
  tcase_add_loop_test(tm, exit_codes, 0, NMETHODS);
  tcase_add_loop_test(tm, entry_starts_a_later_entry, 0, NMETHODS);
  tcase_add_loop_test(tm, terminate_and_kill, 0, NMETHODS);
  tcase_add_loop_test(tm, cubes_in_shared_memory, 0, NMETHODS);
  tcase_add_loop_test(tm, locked_counter_by_name, 0, NMETHODS);
  tcase_add_loop_test(tm, names_in_children, 0, NMETHODS);
  tcase_add_loop_test(tm, daemons_die_with_killed_parent, 0, NMETHODS);
  suite_add_tcase(s, tm);
  TCase *tc = tcase_create("fork");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, five_workers);
  tcase_add_test(tc, default_names_count_up);
  tcase_add_test(tc, exit_joins_children_and_ends_daemons);
  tcase_add_test(tc, wait_on_many_sentinels);
  tcase_add_test(tc, cpu_count_respects_affinity);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  TCase *ts = tcase_create("spawn");
  tcase_set_timeout(ts, T_TIMEOUT);
  tcase_add_test(ts, spawn_from_busy_threads);
  tcase_add_test(ts, unregistered_entry_refused);
  tcase_add_test(ts, unrunnable_executable_reported_in_parent);
  tcase_add_test(ts, start_method_default);
  tcase_add_loop_test(ts, spawn_arg_aligned, 1, NMETHODS);
  suite_add_tcase(s, ts);
  TCase *tf = tcase_create("forkserver");
  tcase_set_timeout(tf, T_TIMEOUT);
  tcase_add_test(tf, forkserver_join_leaves_handle_free);
  tcase_add_test(tf, forkserver_outlives_first_thread);
  tcase_add_test(tf, forkserver_concurrent_joins);
  suite_add_tcase(s, tf);
  return s;
}
