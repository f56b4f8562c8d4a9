/*
 * lib/fence.c - asymmetric fences across processes (membarrier(2)).
 *
 * A waker that commits with a plain store and then reads "does anyone
 * sleep?" needs a StoreLoad fence between the two, against a sleeper that
 * sets "I sleep" and then reads the commit (Dekker). A full fence on every
 * commit is the costly half: it waits for the cache line the other side is
 * polling. With membarrier the cost moves to the rare side: the sleeper's
 * heavy fence makes every running thread of every registered process pass
 * a full barrier, so either the waker's load comes after that barrier and
 * sees the sleeper, or its store was visible before the fence returned and
 * the sleeper's re-check sees it.
 *
 * The waker's process must have registered before it relies on this
 * (mp__fence_light_ok); where membarrier is missing (old kernels, seccomp,
 * valgrind) wakers keep their full fences and sleepers cap each sleep.
 */
#include "internal.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic int mp__fence_registered;

/* Tests: MPROC_NO_MEMBARRIER in the environment makes membarrier look
 * missing in this process (1), so the fallback runs; -1: not read yet. */
static _Atomic int hidden = -1;

static long membarrier(int cmd) {
  int h = atomic_load_explicit(&hidden, memory_order_relaxed);
  if (h < 0) {
    h = getenv("MPROC_NO_MEMBARRIER") != NULL;
    atomic_store_explicit(&hidden, h, memory_order_relaxed);
  }
  return h ? (errno = ENOSYS, -1) : syscall(SYS_membarrier, cmd, 0, 0);
}

bool mp__fence_register(void) {
  int r = membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0 ? 1 : -1;
  atomic_store_explicit(&mp__fence_registered, r, memory_order_relaxed);
  return r > 0;
}

bool mp__fence_heavy(void) {
  return membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

/* Registration belongs to a process: a forked child registers anew. */
static void fence_reset_in_child(void) {
  atomic_store(&mp__fence_registered, 0);
  atomic_store(&hidden, -1);
}

MP__SETUP static void fence_setup(void) {
  pthread_atfork(NULL, NULL, fence_reset_in_child);
}
