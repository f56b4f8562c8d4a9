/*
 * lib/barrier.c - Barrier. Arrivals are counted under a robust mutex; the
 * waiters sleep on a futex word `gen` that every end of a cycle (release or
 * break) advances by 2, bit 0 saying someone sleeps. `history` keeps how
 * each of the last 64 cycles ended (bit set: released), so a waiter that
 * wakes late - other threads may already have run further cycles, as when
 * more threads than parties share a barrier - still learns how its own
 * cycle ended. A waiter that times out breaks the barrier, as in Python; a
 * process that dies holding the mutex leaves the barrier broken rather than
 * half-updated.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>

#define SLEEPERS 1u
#define STEP 2u

struct barrier_state {
  struct mp__obj head;
  pthread_mutex_t mutex;
  uint32_t parties;
  _Atomic uint32_t count;  /* arrived in this cycle */
  _Atomic uint32_t gen;    /* futex word */
  _Atomic uint64_t history; /* bit (gen / 2) % 64: that cycle released */
  _Atomic uint32_t broken; /* 1 until reset */
};
_Static_assert(sizeof(struct barrier_state) <= sizeof(mp_barrier), "size");

static int init(void *obj, void *arg) {
  struct barrier_state *b = obj;
  unsigned parties = *(unsigned *)arg;
  if (parties < 1 || parties > INT_MAX)
    return -EINVAL;
  int rc = mp__mutex_init(&b->mutex);
  if (rc < 0)
    return rc;
  b->parties = parties;
  atomic_store(&b->count, 0);
  atomic_store(&b->gen, 0);
  atomic_store(&b->history, 0);
  atomic_store(&b->broken, 0);
  mp__obj_init(b, MP__KIND_BARRIER);
  return 0;
}

static int fini(void *obj) {
  return mp__mutex_destroy(&((struct barrier_state *)obj)->mutex);
}

static struct barrier_state *barrier(const mp_barrier *b) {
  return (struct barrier_state *)mp__obj_check(b, MP__KIND_BARRIER);
}

int mp_barrier_create(const char *name, unsigned parties, mp_barrier **out) {
  if (parties < 1 || parties > INT_MAX) {
    if (out)
      *out = NULL;
    return -EINVAL;
  }
  return mp__obj_create(name, MP__KIND_BARRIER, sizeof(mp_barrier), init,
                        &parties, (void **)out);
}

int mp_barrier_init(mp_barrier *b, unsigned parties) {
  return b ? init(b, &parties) : -EINVAL;
}

static uint64_t cycle_bit(uint32_t gen) { return 1ull << ((gen / STEP) % 64); }

/* End the current cycle (mutex held): waiters wake and read `history`. */
static void end_cycle(struct barrier_state *b, bool released) {
  uint32_t w = atomic_load(&b->gen);
  uint32_t next = (w + STEP) & ~SLEEPERS;
  atomic_store(&b->count, 0);
  uint64_t h = atomic_load_explicit(&b->history, memory_order_relaxed);
  h = released ? h | cycle_bit(w) : h & ~cycle_bit(w);
  atomic_store_explicit(&b->history, h, memory_order_relaxed);
  atomic_store_explicit(&b->gen, next, memory_order_release);
  if (w & SLEEPERS)
    mp__futex_wake(&b->gen, INT_MAX);
}

static void break_locked(struct barrier_state *b) {
  atomic_store(&b->broken, 1);
  end_cycle(b, false);
}

/* Lock the barrier's mutex (timeout 0: only try); a holder's death breaks
 * the barrier. */
static int lock(struct barrier_state *b, double timeout,
                const mp__deadline *d) {
  int rc = timeout == 0 ? mp__mutex_lock(&b->mutex, 0)
                        : mp__mutex_lock_until(&b->mutex, d);
  if (rc == MP_EOWNERDEAD) {
    break_locked(b);
    rc = 0;
  }
  return rc;
}

static int wait_action(struct barrier_state *b, double timeout,
                       mp_barrier_action action, void *ctx, unsigned *index) {
  mp__deadline d, forever = {.forever = true};
  if (mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  int rc = lock(b, timeout, &d);
  if (rc < 0)
    return rc;
  if (atomic_load(&b->broken)) {
    mp__mutex_unlock(&b->mutex);
    return MP_EBROKEN;
  }
  unsigned idx = atomic_fetch_add(&b->count, 1);
  if (index)
    *index = idx;
  if (idx + 1 == b->parties) {
    rc = action && action(ctx) != 0 ? MP_EBROKEN : 0;
    if (rc)
      break_locked(b);
    else
      end_cycle(b, true);
    mp__mutex_unlock(&b->mutex);
    return rc;
  }
  uint32_t w = atomic_load(&b->gen) | SLEEPERS;
  atomic_store(&b->gen, w);
  mp__mutex_unlock(&b->mutex);

  uint32_t v = mp__spin_while(&b->gen, w);
  while (v == w) {
    rc = mp__futex_wait(&b->gen, w, &d);
    v = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (rc == -ETIMEDOUT && v == w) {
      /* Timed out in a cycle still open: break it for everyone. */
      lock(b, MP_FOREVER, &forever);
      if (atomic_load(&b->gen) == w)
        break_locked(b);
      mp__mutex_unlock(&b->mutex);
      break;
    }
  }
  return atomic_load_explicit(&b->history, memory_order_relaxed) &
                 cycle_bit(w)
             ? 0
             : MP_EBROKEN;
}

int mp_barrier_wait(mp_barrier *bp, double timeout, unsigned *index) {
  struct barrier_state *b = barrier(bp);
  return b ? wait_action(b, timeout, NULL, NULL, index) : -EINVAL;
}

int mp_barrier_wait_action(mp_barrier *bp, double timeout,
                           mp_barrier_action action, void *ctx,
                           unsigned *index) {
  struct barrier_state *b = barrier(bp);
  return b ? wait_action(b, timeout, action, ctx, index) : -EINVAL;
}

/* Run fn with the mutex held (no timeout: it is only held briefly). */
static int locked(mp_barrier *bp, void (*fn)(struct barrier_state *)) {
  struct barrier_state *b = barrier(bp);
  mp__deadline forever = {.forever = true};
  if (!b)
    return -EINVAL;
  int rc = lock(b, MP_FOREVER, &forever);
  if (rc < 0)
    return rc;
  fn(b);
  return mp__mutex_unlock(&b->mutex);
}

static void do_reset(struct barrier_state *b) {
  if (atomic_load(&b->count) > 0)
    end_cycle(b, false); /* current waiters: broken */
  atomic_store(&b->broken, 0);
}

int mp_barrier_abort(mp_barrier *b) { return locked(b, break_locked); }

int mp_barrier_reset(mp_barrier *b) { return locked(b, do_reset); }

int mp_barrier_parties(const mp_barrier *bp) {
  struct barrier_state *b = barrier(bp);
  return b ? (int)b->parties : -EINVAL;
}

int mp_barrier_n_waiting(const mp_barrier *bp) {
  struct barrier_state *b = barrier(bp);
  return b ? (int)atomic_load(&b->count) : -EINVAL;
}

int mp_barrier_broken(const mp_barrier *bp) {
  struct barrier_state *b = barrier(bp);
  return b ? (int)atomic_load(&b->broken) : -EINVAL;
}

MP__OBJ_LIFECYCLE(mp_barrier, mp_barrier, MP__KIND_BARRIER, fini)
