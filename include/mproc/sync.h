/*
 * mproc/sync.h - Event, Semaphore, BoundedSemaphore, Condition and Barrier
 * (Python's multiprocessing / threading synchronization primitives) that
 * work across threads and processes.
 *
 * Every object here, like mp_lock, comes two ways:
 *  - standalone: mp_<kind>_create() puts it in a shared-memory segment of its
 *    own whose name any process can mp_<kind>_open(); a forked child simply
 *    uses its parent's pointer;
 *  - embedded: mp_<kind>_init() on the public-size type placed in memory the
 *    processes already share (an mp_shm segment, a MAP_SHARED mapping).
 * Ownership is as for mp_lock (mproc/lock.h): the creator destroys (removes
 * the name; failing that the name goes at its normal exit), every other
 * process that opened it closes; an embedded object is finished with
 * mp_<kind>_destroy() by whoever initialised it, once nobody uses it.
 * close/destroy of NULL are harmless; a second close is -EINVAL.
 *
 * Blocking calls take the timeout of mproc/common.h: MP_FOREVER, 0 (never
 * block: -EAGAIN where it would have to) or seconds (-ETIMEDOUT).
 *
 * Robustness: sleeping is built on futexes over words in the object, never
 * on waiter bookkeeping that a dead process could leave wrong. A process
 * killed while waiting takes nothing with it: a wake-up is never spent on a
 * dead waiter, so set / notify_all wake every live waiter and release(n) /
 * notify(n) up to n live ones. (A Barrier party that died after arriving
 * still counts as arrived: the others' timeout breaks the barrier, and
 * reset heals it.) Wake-ups cost a system call only when someone sleeps; a
 * waiter spins briefly before sleeping, so a ping-pong between two
 * processes on two cores rarely enters the kernel.
 *
 * Every function is safe from any thread of any process.
 */
#ifndef MPROC_SYNC_H
#define MPROC_SYNC_H

#include <stdint.h>

#include "common.h"
#include "lock.h"

MP_BEGIN_DECLS

/* ==== Event ==============================================================
 * A flag that waiters block on until it is set (Python's Event). */

typedef struct mp_event {
  uint64_t opaque_[2];
} mp_event;

/* Create / open a standalone Event (initially clear). Errors as for
 * mp_lock_create / mp_lock_open (-EINVAL, -EEXIST, -ENOENT, MP_EKIND, ...). */
MP_EXTERN int mp_event_create(const char *name, mp_event **out);
MP_EXTERN int mp_event_open(const char *name, mp_event **out);
/* Initialise an embedded Event, clear. -EINVAL for NULL. */
MP_EXTERN int mp_event_init(mp_event *event);
/* Set the flag and wake every waiter. 0 or -EINVAL. */
MP_EXTERN int mp_event_set(mp_event *event);
/* Clear the flag. 0 or -EINVAL. */
MP_EXTERN int mp_event_clear(mp_event *event);
/* 1 when set, 0 when clear, -EINVAL. */
MP_EXTERN int mp_event_is_set(const mp_event *event);
/* Wait until the flag is set: 0 (it is set), -EAGAIN (timeout 0 and clear),
 * -ETIMEDOUT, -EINVAL (NULL, NaN). Python's wait() returning False is
 * -ETIMEDOUT here. */
MP_EXTERN int mp_event_wait(mp_event *event, double timeout);
MP_EXTERN const char *mp_event_name(const mp_event *event);
MP_EXTERN int mp_event_close(mp_event *event);
MP_EXTERN int mp_event_destroy(mp_event *event);

/* ==== Semaphore and BoundedSemaphore =====================================
 * A counter: acquire takes one unit, waiting while there is none; release
 * gives units back. A bounded semaphore refuses to go above its initial
 * value (Python's BoundedSemaphore). */

typedef struct mp_semaphore {
  uint64_t opaque_[3];
} mp_semaphore;

/* Largest value a semaphore can hold. */
#define MP_SEMAPHORE_MAX 0x7fffffff
/* Flag for create/init: a BoundedSemaphore. */
#define MP_SEMAPHORE_BOUNDED 1u

/*
 * Create / initialise a semaphore of initial `value` (0..MP_SEMAPHORE_MAX);
 * flags 0 or MP_SEMAPHORE_BOUNDED. -EINVAL for a negative value, unknown
 * flags, NULL; create/open errors as for mp_lock_create.
 */
MP_EXTERN int mp_semaphore_create(const char *name, int value, unsigned flags,
                                  mp_semaphore **out);
MP_EXTERN int mp_semaphore_open(const char *name, mp_semaphore **out);
MP_EXTERN int mp_semaphore_init(mp_semaphore *sem, int value, unsigned flags);
/* Take one unit: 0, -EAGAIN (timeout 0, none left), -ETIMEDOUT, -EINVAL. */
MP_EXTERN int mp_semaphore_acquire(mp_semaphore *sem, double timeout);
/*
 * Give back n >= 1 units, waking up to n waiters. -ERANGE (bounded: the
 * value would exceed the initial one; nothing changes), -EOVERFLOW (above
 * MP_SEMAPHORE_MAX; nothing changes), -EINVAL (NULL, n < 1).
 */
MP_EXTERN int mp_semaphore_release(mp_semaphore *sem, int n);
/* The current value (>= 0), or -EINVAL. */
MP_EXTERN int mp_semaphore_value(const mp_semaphore *sem);
MP_EXTERN const char *mp_semaphore_name(const mp_semaphore *sem);
MP_EXTERN int mp_semaphore_close(mp_semaphore *sem);
MP_EXTERN int mp_semaphore_destroy(mp_semaphore *sem);

/* ==== Condition ==========================================================
 * A condition variable bound to a Lock or an RLock (Python's Condition). By
 * default it has an RLock of its own; mp_condition_init_lock/_rlock bind it
 * to a lock in the SAME shared mapping (e.g. both in one struct in an mp_shm
 * segment) - the binding is kept as an offset, never a pointer.
 *
 * As with POSIX condition variables, wait may return without a notify
 * (rarely, e.g. when a notify raced with its start): re-check the predicate,
 * or use mp_condition_wait_for(). */

typedef struct mp_condition {
  uint64_t opaque_[12];
} mp_condition;

/* Create / open a standalone Condition with its own RLock. */
MP_EXTERN int mp_condition_create(const char *name, mp_condition **out);
MP_EXTERN int mp_condition_open(const char *name, mp_condition **out);
/* Initialise an embedded Condition with its own RLock. */
MP_EXTERN int mp_condition_init(mp_condition *cond);
/* Initialise an embedded Condition bound to `lock` / `rlock`, which must be
 * initialised and live in the same mapping. -EINVAL otherwise. */
MP_EXTERN int mp_condition_init_lock(mp_condition *cond, mp_lock *lock);
MP_EXTERN int mp_condition_init_rlock(mp_condition *cond, mp_rlock *rlock);

/* Acquire / release the underlying lock (results as mp_lock_acquire /
 * mp_lock_release, MP_EOWNERDEAD included). */
MP_EXTERN int mp_condition_acquire(mp_condition *cond, double timeout);
MP_EXTERN int mp_condition_release(mp_condition *cond);

/*
 * Release the lock (completely, however deep an RLock is held), wait for a
 * notify, then take the lock back at the same depth - even after a timeout.
 * Returns 0 (notified), -ETIMEDOUT, -EAGAIN (timeout 0), MP_EOWNERDEAD
 * (notified or not: re-taking the lock found its holder dead; it is held
 * now), -EPERM (the caller does not hold the lock; Python's RuntimeError),
 * -EINVAL.
 */
MP_EXTERN int mp_condition_wait(mp_condition *cond, double timeout);

/*
 * Wait until pred(ctx) is true, calling it with the lock held; the timeout
 * covers the whole wait. Returns 0 (pred true), -ETIMEDOUT (still false),
 * -EAGAIN (timeout 0 and pred false), MP_EOWNERDEAD (re-taking the lock
 * found its holder dead, whatever pred says: repair the data, re-check; the
 * lock is held), -EPERM (lock not held), -EINVAL.
 */
typedef int (*mp_condition_pred)(void *ctx);
MP_EXTERN int mp_condition_wait_for(mp_condition *cond, mp_condition_pred pred,
                                    void *ctx, double timeout);

/* Wake up to n >= 1 waiters / every waiter. The caller must hold the lock:
 * -EPERM otherwise. Never waits for a waiter to respond. */
MP_EXTERN int mp_condition_notify(mp_condition *cond, int n);
MP_EXTERN int mp_condition_notify_all(mp_condition *cond);
MP_EXTERN const char *mp_condition_name(const mp_condition *cond);
MP_EXTERN int mp_condition_close(mp_condition *cond);
MP_EXTERN int mp_condition_destroy(mp_condition *cond);

/* ==== Barrier ============================================================
 * `parties` processes or threads wait until all have arrived, then all go
 * on (Python's Barrier); reusable for any number of cycles. */

typedef struct mp_barrier {
  uint64_t opaque_[12];
} mp_barrier;

/* Create / initialise a barrier of parties >= 1 (-EINVAL for 0). */
MP_EXTERN int mp_barrier_create(const char *name, unsigned parties,
                                mp_barrier **out);
MP_EXTERN int mp_barrier_open(const char *name, mp_barrier **out);
MP_EXTERN int mp_barrier_init(mp_barrier *barrier, unsigned parties);

/*
 * Wait for all parties. *index (if not NULL) receives a distinct number
 * 0..parties-1 for this cycle (the last to arrive gets parties-1).
 * Returns 0, MP_EBROKEN (the barrier is or became broken: aborted, reset
 * while waiting, a party's wait timed out - as in Python, a timeout breaks
 * the barrier for everyone, the timed-out party included, so timeout 0 from
 * any but the last party breaks it - or a process died inside the barrier's
 * own lock), -EAGAIN / -ETIMEDOUT (the barrier's own lock stayed busy, e.g.
 * during a long action: the caller did not arrive and nothing broke),
 * -EDEADLK (called from inside an action), -EINVAL (NULL, NaN). More
 * threads than parties may use a barrier, as in Python.
 */
MP_EXTERN int mp_barrier_wait(mp_barrier *barrier, double timeout,
                              unsigned *index);

/*
 * mp_barrier_wait, and if the caller is the last to arrive it runs
 * action(ctx) before the others are released (Python's `action`). Pass the
 * same action from every party. A non-zero return from action breaks the
 * barrier: every party gets MP_EBROKEN.
 */
typedef int (*mp_barrier_action)(void *ctx);
MP_EXTERN int mp_barrier_wait_action(mp_barrier *barrier, double timeout,
                                     mp_barrier_action action, void *ctx,
                                     unsigned *index);

/* Break the barrier: current and later waiters get MP_EBROKEN until reset.
 * 0, -EDEADLK (from inside an action), -EINVAL. */
MP_EXTERN int mp_barrier_abort(mp_barrier *barrier);
/* Back to the empty, unbroken state; current waiters get MP_EBROKEN.
 * 0, -EDEADLK (from inside an action), -EINVAL. */
MP_EXTERN int mp_barrier_reset(mp_barrier *barrier);
/* Number of parties (>= 1), or -EINVAL. */
MP_EXTERN int mp_barrier_parties(const mp_barrier *barrier);
/* Number of parties waiting in the current cycle, or -EINVAL. */
MP_EXTERN int mp_barrier_n_waiting(const mp_barrier *barrier);
/* 1 when broken, 0 when not, or -EINVAL. */
MP_EXTERN int mp_barrier_broken(const mp_barrier *barrier);
MP_EXTERN const char *mp_barrier_name(const mp_barrier *barrier);
MP_EXTERN int mp_barrier_close(mp_barrier *barrier);
MP_EXTERN int mp_barrier_destroy(mp_barrier *barrier);

MP_END_DECLS

#endif /* MPROC_SYNC_H */
