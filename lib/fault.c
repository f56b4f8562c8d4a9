/*
 * lib/fault.c - fault injection for tests (curl's torture tests): with
 * MPROC_FAULT=N in the environment, the N-th fallible step of this process
 * (counted from its first one) fails as if the system had refused it; with
 * MPROC_CRASH=N, the process kills itself with SIGKILL at the N-th crash
 * point it passes - the places inside updates of shared state where a
 * death leaves the most to repair. Read once per process (a forked child
 * reads them again); one branch when unset.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_long countdown; /* 0: off; else steps left until the fault */
/* Crash points left until the crash; 0: off; -1: MPROC_CRASH not read. */
_Atomic long mp__crash_countdown = -1;

static long env_count(const char *name) {
  const char *s = getenv(name);
  long n = s ? strtol(s, NULL, 10) : 0;
  return n > 0 ? n : 0;
}

static void read_env(void) {
  atomic_store(&countdown, env_count("MPROC_FAULT"));
}

bool mp__fault(void) {
  pthread_once(&once, read_env);
  if (atomic_load_explicit(&countdown, memory_order_relaxed) == 0)
    return false;
  return atomic_fetch_sub(&countdown, 1) == 1;
}

void mp__crash_point_slow(void) {
  long n = atomic_load(&mp__crash_countdown);
  if (n < 0) { /* the first crash point of this process: read the count */
    n = env_count("MPROC_CRASH");
    atomic_store(&mp__crash_countdown, n);
  }
  if (n > 0 && atomic_fetch_sub(&mp__crash_countdown, 1) == 1)
    raise(SIGKILL);
}

static void rearm_in_child(void) {
  once = (pthread_once_t)PTHREAD_ONCE_INIT;
  atomic_store(&countdown, 0);
  atomic_store(&mp__crash_countdown, -1);
}

MP__SETUP static void fault_setup(void) {
  pthread_atfork(NULL, NULL, rearm_in_child);
}
