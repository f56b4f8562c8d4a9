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

/*
 * Spinning before sleeping. A wake-up that arrives while the waiter spins
 * costs neither side a system call, and the waiter skips the sleep/wake-up
 * latency (5-10 us on a VM, where an idle vCPU must be kicked awake). But
 * the time spent spinning is lost when the waker cannot run meanwhile - when
 * both share one CPU the waker runs only once the waiter gives up, so every
 * hand-off would cost a whole spin - and it burns CPU when the wake-up comes
 * late anyway.
 *
 * So a spin is bounded by time, not rounds (PAUSE takes ~10 cycles on some
 * x86 cores and ~140 on others), and the bound adapts per thread: a spin
 * that ends in a wake-up doubles this thread's budget (to at least
 * SPIN_GROW_NS, at most SPIN_MAX_NS); one that ends in a sleep halves it,
 * down to no spinning at all. With a reduced budget, every
 * SPIN_PROBE_EVERY-th wait spins SPIN_MAX_NS once, so a thread whose waker
 * moved to another CPU finds out. (Yielding the CPU, sched_yield(), would
 * also fix the shared-CPU case, but it hands the CPU to any CPU-bound
 * process there for a whole time slice: 100x slower next to one.)
 */
#define SPIN_MAX_NS 50000
#define SPIN_GROW_NS 1000
#define SPIN_MIN_NS 250 /* halving below this goes to 0: no spinning */
#define SPIN_PROBE_EVERY 256
#define SPIN_CHECK_EVERY 16 /* rounds between two reads of the clock */

static _Thread_local int64_t spin_budget_ns = SPIN_MAX_NS;
static _Thread_local unsigned spin_waits;

/* This wait's budget: the thread's, or the full one when probing. */
static inline int64_t spin_budget(void) {
  int64_t b = spin_budget_ns;
  if (b < SPIN_MAX_NS && ++spin_waits % SPIN_PROBE_EVERY == 0)
    b = SPIN_MAX_NS;
  return b;
}

/* Learn from how a spin ended: woken while spinning, or not. */
static inline void spin_learn(bool woken) {
  int64_t b = spin_budget_ns;
  if (woken)
    b = 2 * b < SPIN_GROW_NS ? SPIN_GROW_NS
        : 2 * b > SPIN_MAX_NS ? SPIN_MAX_NS
                              : 2 * b;
  else
    b = b / 2 < SPIN_MIN_NS ? 0 : b / 2;
  spin_budget_ns = b;
}

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

/* Spin while *word == value, within this thread's budget; the last value
 * read. */
#define SPIN_WHILE(word, value)                                                \
  do {                                                                         \
    int64_t budget_ = spin_budget(), start_ = 0;                               \
    if (budget_ == 0)                                                          \
      return atomic_load_explicit(word, memory_order_acquire);                 \
    for (unsigned i_ = 1;; i_++) {                                             \
      if (atomic_load_explicit(word, memory_order_acquire) != (value)) {       \
        spin_learn(true);                                                      \
        return atomic_load_explicit(word, memory_order_acquire);               \
      }                                                                        \
      if (i_ % SPIN_CHECK_EVERY == 0) {                                        \
        int64_t now_ = mp__now_ns();                                           \
        if (!start_)                                                           \
          start_ = now_;                                                       \
        else if (now_ - start_ >= budget_)                                     \
          break;                                                               \
      }                                                                        \
      cpu_relax();                                                             \
    }                                                                          \
    spin_learn(false);                                                         \
    return atomic_load_explicit(word, memory_order_acquire);                   \
  } while (0)

uint32_t mp__spin_while(_Atomic uint32_t *word, uint32_t value) {
  SPIN_WHILE(word, value);
}

uint64_t mp__spin_while64(_Atomic uint64_t *word, uint64_t value) {
  SPIN_WHILE(word, value);
}
