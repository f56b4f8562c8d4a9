/*
 * lib/futex.c - sleeping and waking on a 32-bit word shared by processes.
 * Waiting never depends on bookkeeping kept by other processes: the kernel
 * compares the word and queues the sleeper, and a dead sleeper simply
 * leaves the queue.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How many times a waiter re-reads the word before it sleeps. Long enough to
 * catch a wake-up from a process running on another core (a few
 * microseconds), short enough to cost little when none comes. */
#define SPIN_ROUNDS 2000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Longest single sleep. A waker killed between its commit (the store the
 * sleeper waits for) and its wake call cannot strand a sleeper: every sleep
 * ends within this time and the caller re-checks its condition. */
#define SLEEP_SLICE_NS 100000000LL

int mp__futex_wait(_Atomic uint32_t *word, uint32_t expected,
                   const mp__deadline *d) {
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a call
   * interrupted by a signal is simply made again by the caller's loop. */
  int64_t left = d ? mp__deadline_left_ns(d) : INT64_MAX;
  if (left == 0)
    return -ETIMEDOUT;
  bool sliced = left > SLEEP_SLICE_NS;
  int64_t at_ns = mp__now_ns() + (sliced ? SLEEP_SLICE_NS : left);
  struct timespec at = {(time_t)(at_ns / 1000000000),
                        (long)(at_ns % 1000000000)};
  long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expected,
                    &at, NULL, FUTEX_BITSET_MATCH_ANY);
  if (rc < 0 && errno == ETIMEDOUT && !sliced)
    return -ETIMEDOUT;
  return 0; /* woken, value changed, a signal or the end of a slice */
}

void mp__futex_wake(_Atomic uint32_t *word, int n) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
}

#define SPIN_WHILE(word, value)                                                \
  do {                                                                         \
    for (int i = 0; i < SPIN_ROUNDS; i++) {                                    \
      if (atomic_load_explicit(word, memory_order_acquire) != (value))         \
        break;                                                                 \
      cpu_relax();                                                             \
    }                                                                          \
    return atomic_load_explicit(word, memory_order_acquire);                   \
  } while (0)

uint32_t mp__spin_while(_Atomic uint32_t *word, uint32_t value) {
  SPIN_WHILE(word, value);
}

uint64_t mp__spin_while64(_Atomic uint64_t *word, uint64_t value) {
  SPIN_WHILE(word, value);
}
