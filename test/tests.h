/*
 * test/tests.h - shared by the Check suites (one test/check_<module>.c per
 * module) and the runner. A ck_assert in a child we fork ourselves is lost,
 * so children report through their exit status and tests assert on it.
 */
#ifndef MPROC_TESTS_H
#define MPROC_TESTS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <mproc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Assert an mproc return code, naming both codes on failure. */
#define ck_rc(expr, expected)                                                  \
  do {                                                                         \
    int rc_ = (expr), ex_ = (expected);                                        \
    ck_assert_msg(rc_ == ex_, "%s returned %d (%s), expected %d (%s)", #expr,  \
                  rc_, mp_err_name(rc_), ex_, mp_err_name(ex_));               \
  } while (0)

/* Default timeout of every TCase, in seconds. */
#define T_TIMEOUT 20

Suite *error_suite(void);
Suite *deadline_suite(void);
Suite *shm_suite(void);
Suite *lock_suite(void);
Suite *sync_suite(void);
Suite *timer_suite(void);
Suite *sync_kill_suite(void);
Suite *process_suite(void);
Suite *pipe_suite(void);
Suite *queue_suite(void);
Suite *value_suite(void);
Suite *dict_suite(void);
Suite *list_suite(void);
Suite *crash_suite(void);

/* ---- helpers (util.c) ---------------------------------------------------- */

/* Fork a child that runs fn(arg) and _exit()s with its return value. */
pid_t t_fork(int (*fn)(void *), void *arg);

/* Reap pid: its exit status, or -signum when a signal ended it. */
int t_wait(pid_t pid);

/* SIGKILL pid and reap it. */
void t_kill(pid_t pid);

/* One-byte messages between processes, for ordering steps. t_recv waits at
 * most 10 s and returns false if nothing came. */
void t_pipe(int fds[2]);
void t_send(int fd);
bool t_recv(int fd);
/* Read exactly len bytes (waiting at most 10 s). */
bool t_recv_bytes(int fd, void *buf, size_t len);

/* Wait (at most 10 s) until process pid sleeps in the kernel (state S),
 * e.g. in a futex wait; false if it never did or died. */
bool t_wait_sleeping(pid_t pid);

/* Seconds on CLOCK_MONOTONIC. */
double t_now(void);

/* xorshift64 on *state (non-zero): the same sequence every run. */
uint64_t t_rnd(uint64_t *state);

/* Start this test binary as an unrelated process (posix_spawn) running
 * helper `name` with args (NULL-terminated); its stdout goes to stdout_fd
 * when >= 0. */
pid_t t_spawn_helper(const char *name, const char *const args[], int stdout_fd);

/* Does /dev/shm hold an entry named name (with leading '/')? */
bool t_shm_exists(const char *name);

/* True under valgrind, which makes system calls of its own. */
bool t_instrumented(void);

/* Helper entry points the runner dispatches with `--helper NAME ARGS`. */
typedef int (*t_helper_fn)(int argc, char **argv);
int helper_lock_try(int argc, char **argv);
int helper_lock_hold(int argc, char **argv);

#endif /* MPROC_TESTS_H */
