/*
 * lib/fault.c - fault injection for tests (curl's torture tests): with
 * MPROC_FAULT=N in the environment, the N-th fallible step of this process
 * (counted from its first one) fails as if the system had refused it. Read
 * once per process (a forked child reads it again); one branch when unset.
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_long countdown; /* 0: off; else steps left until the fault */

static void read_env(void) {
  const char *s = getenv("MPROC_FAULT");
  long n = s ? strtol(s, NULL, 10) : 0;
  atomic_store(&countdown, n > 0 ? n : 0);
}

bool mp__fault(void) {
  pthread_once(&once, read_env);
  if (atomic_load_explicit(&countdown, memory_order_relaxed) == 0)
    return false;
  return atomic_fetch_sub(&countdown, 1) == 1;
}

static void rearm_in_child(void) {
  once = (pthread_once_t)PTHREAD_ONCE_INIT;
  atomic_store(&countdown, 0);
}

__attribute__((constructor)) static void fault_setup(void) {
  pthread_atfork(NULL, NULL, rearm_in_child);
}
