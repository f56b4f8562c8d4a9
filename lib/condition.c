/*
 * lib/condition.c - Condition over a Lock or RLock. One futex word: a
 * sequence bumped by every notify (in steps of 2) and a "someone sleeps" bit
 * (bit 0). Every change of the word happens with the lock held, so waiters
 * and notifiers never race on it; a waiter reads it, releases the lock and
 * sleeps until it changes. notify(n) wakes n sleepers and never waits for
 * them; notify_all also clears the bit, so a waiter killed in its sleep is
 * forgotten at the next notify_all. The bound lock is kept as an offset from
 * the condition: both must live in the same mapping.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>

#define SLEEPERS 1u
#define STEP 2u

struct cond_state {
  struct mp__obj head;
  _Atomic uint32_t seq;
  uint32_t reserved_;
  int64_t lock_off; /* from this struct to its lock */
  mp_rlock own;     /* the lock when none is given */
};
_Static_assert(sizeof(struct cond_state) <= sizeof(mp_condition), "size");

static int init_with(struct cond_state *c, void *lock) {
  if (!lock) {
    int rc = mp_rlock_init(&c->own);
    if (rc < 0)
      return rc;
    lock = &c->own;
  } else if (!mp__lock_kind(lock) || !mp__same_mapping(c, lock)) {
    return -EINVAL; /* the offset would not hold in another process */
  }
  atomic_store(&c->seq, 0);
  c->lock_off = (char *)lock - (char *)c;
  mp__obj_init(c, MP__KIND_CONDITION);
  return 0;
}

static int init(void *obj, void *arg) {
  (void)arg;
  return init_with(obj, NULL);
}

static int fini(void *obj) {
  struct cond_state *c = obj;
  return c->lock_off == offsetof(struct cond_state, own)
             ? mp_rlock_destroy(&c->own)
             : 0;
}

static struct cond_state *cond(const mp_condition *c) {
  return (struct cond_state *)mp__obj_check(c, MP__KIND_CONDITION);
}

static void *lock_of(struct cond_state *c) {
  return (char *)c + c->lock_off;
}

/* True when the caller holds the condition's lock (false too when the
 * lock was destroyed under it). */
static bool owned(struct cond_state *c) {
  void *l = lock_of(c);
  return (mp__lock_kind(l) == MP__KIND_LOCK ? mp_lock_is_owned(l)
                                            : mp_rlock_is_owned(l)) == 1;
}

int mp_condition_create(const char *name, mp_condition **out) {
  return mp__obj_create(name, MP__KIND_CONDITION, sizeof(mp_condition), init,
                        NULL, (void **)out);
}

int mp_condition_init(mp_condition *c) {
  return c ? init_with((struct cond_state *)c, NULL) : -EINVAL;
}

int mp_condition_init_lock(mp_condition *c, mp_lock *lock) {
  return c && lock ? init_with((struct cond_state *)c, lock) : -EINVAL;
}

int mp_condition_init_rlock(mp_condition *c, mp_rlock *lock) {
  return c && lock ? init_with((struct cond_state *)c, lock) : -EINVAL;
}

int mp_condition_acquire(mp_condition *cp, double timeout) {
  struct cond_state *c = cond(cp);
  if (!c)
    return -EINVAL;
  void *l = lock_of(c);
  return mp__lock_kind(l) == MP__KIND_LOCK ? mp_lock_acquire(l, timeout)
                                           : mp_rlock_acquire(l, timeout);
}

int mp_condition_release(mp_condition *cp) {
  struct cond_state *c = cond(cp);
  if (!c)
    return -EINVAL;
  void *l = lock_of(c);
  return mp__lock_kind(l) == MP__KIND_LOCK ? mp_lock_release(l)
                                           : mp_rlock_release(l);
}

/* wait with a deadline already set up. */
static int wait_until(struct cond_state *c, const mp__deadline *d,
                      bool nonblocking) {
  uint32_t depth;
  uint32_t w = atomic_load(&c->seq) | SLEEPERS;
  if (!owned(c))
    return -EPERM;
  atomic_store(&c->seq, w); /* we hold the lock: no one else writes it */
  int rc = mp__lock_release_save(lock_of(c), &depth);
  if (rc < 0)
    return rc;
  int result = -EAGAIN;
  if (!nonblocking) {
    result = 0;
    while (atomic_load_explicit(&c->seq, memory_order_acquire) == w &&
           result == 0)
      result = mp__futex_wait(&c->seq, w, d);
    if (atomic_load_explicit(&c->seq, memory_order_acquire) != w)
      result = 0; /* notified, if only just */
  }
  rc = mp__lock_acquire_restore(lock_of(c), depth);
  return rc == MP_EOWNERDEAD ? rc : result;
}

int mp_condition_wait(mp_condition *cp, double timeout) {
  struct cond_state *c = cond(cp);
  mp__deadline d;
  if (!c || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  return wait_until(c, &d, timeout == 0);
}

int mp_condition_wait_for(mp_condition *cp, mp_condition_pred pred, void *ctx,
                          double timeout) {
  struct cond_state *c = cond(cp);
  mp__deadline d;
  if (!c || !pred || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  if (!owned(c))
    return -EPERM;
  int owner_died = 0;
  for (;;) {
    /* Owner death is reported whatever the predicate says: the caller holds
     * a lock whose data may be half-updated. */
    if (pred(ctx) || owner_died)
      return owner_died ? MP_EOWNERDEAD : 0;
    if (timeout == 0)
      return -EAGAIN;
    if (!d.forever && mp__deadline_left_ns(&d) == 0)
      return -ETIMEDOUT;
    int rc = wait_until(c, &d, false);
    if (rc == MP_EOWNERDEAD)
      owner_died = 1;
    else if (rc < 0 && rc != -ETIMEDOUT)
      return rc;
  }
}

static int notify(mp_condition *cp, int n) {
  struct cond_state *c = cond(cp);
  if (!c || n < 1)
    return -EINVAL;
  if (!owned(c))
    return -EPERM;
  uint32_t w = atomic_load(&c->seq);
  if (!(w & SLEEPERS))
    return 0; /* nobody waits: no system call */
  /* notify_all forgets the sleepers (all are woken); notify(n) keeps the
   * bit for those it leaves asleep. */
  uint32_t next = n == INT_MAX ? (w + STEP) & ~SLEEPERS : w + STEP;
  atomic_store_explicit(&c->seq, next, memory_order_release);
  mp__futex_wake(&c->seq, n);
  return 0;
}

int mp_condition_notify(mp_condition *c, int n) {
  return notify(c, n == INT_MAX ? INT_MAX - 1 : n);
}

int mp_condition_notify_all(mp_condition *c) { return notify(c, INT_MAX); }

MP__OBJ_LIFECYCLE(mp_condition, mp_condition, MP__KIND_CONDITION, fini)
