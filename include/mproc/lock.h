/*
 * mproc/lock.h - Lock and RLock (Python's multiprocessing.Lock / RLock)
 * that work across threads and processes, and survive a holder's death.
 *
 * Both are robust, process-shared mutexes. Two ways to have one:
 *  - standalone: mp_lock_create() puts it in a shared-memory segment of its
 *    own, with a name any process can mp_lock_open(); a forked child simply
 *    uses its parent's pointer;
 *  - embedded: mp_lock_init() on an mp_lock inside memory the processes
 *    already share (an mp_shm segment, a MAP_SHARED mapping), like
 *    pthread_mutex_init() with PTHREAD_PROCESS_SHARED. mp_lock is a public
 *    size (MP_LOCK_SIZE bytes, 8-byte aligned) with opaque contents.
 *
 * Ownership: the process that created a standalone lock destroys it
 * (mp_lock_destroy() unmaps it and removes its name; failing that the name
 * is removed at that process's normal exit). Every other process that
 * opened it calls mp_lock_close(). An embedded lock is finished with
 * mp_lock_destroy() by whoever initialised it, once nobody uses it; never
 * call close on it.
 *
 * A lock is released by the thread that acquired it (-EPERM otherwise; in
 * Python any process may release a multiprocessing.Lock: use a Semaphore for
 * that hand-off pattern). Acquiring a Lock the calling thread already holds
 * is -EDEADLK, not a hang. An RLock may be acquired again by its holder and
 * is free once released as many times as acquired.
 *
 * Owner death: if a holder dies (process killed, thread exited) the next
 * acquirer gets the lock together with MP_EOWNERDEAD (-EOWNERDEAD). The lock
 * is then held by that caller, RLock recursion restarts at 1, and the lock
 * stays fully usable; the data it protects may be half-updated, so repair it
 * before releasing. Test with MP_ACQUIRED(rc).
 *
 * Timeouts follow mproc/common.h. The uncontended acquire and release make
 * no system call. Every function is safe from any thread of any process.
 */
#ifndef MPROC_LOCK_H
#define MPROC_LOCK_H

#include <stdint.h>

#include "common.h"

MP_BEGIN_DECLS

#define MP_LOCK_SIZE 64

/* A Lock: public size for embedding, opaque contents. */
typedef struct mp_lock {
  uint64_t opaque_[MP_LOCK_SIZE / 8];
} mp_lock;

/* An RLock (re-entrant lock): same size and rules as mp_lock. */
typedef struct mp_rlock {
  uint64_t opaque_[MP_LOCK_SIZE / 8];
} mp_rlock;

/*
 * Create a standalone lock in a new segment named `name` (NULL: a generated
 * "/mproc-<uuid>"). *out receives a pointer into the shared mapping.
 * Returns 0, -EINVAL (NULL out, bad name), -EEXIST, -ENOMEM, -EMFILE,
 * -EACCES. Does not block.
 */
MP_EXTERN int mp_lock_create(const char *name, mp_lock **out);
MP_EXTERN int mp_rlock_create(const char *name, mp_rlock **out);

/*
 * Map the standalone lock `name` created by any process.
 * Returns 0, -EINVAL, -ENOENT, MP_ENOTOBJ, MP_EKIND (the segment holds
 * another kind of object, e.g. an RLock opened as a Lock), MP_EVERSION,
 * -EACCES, -ENOMEM. Does not block.
 */
MP_EXTERN int mp_lock_open(const char *name, mp_lock **out);
MP_EXTERN int mp_rlock_open(const char *name, mp_rlock **out);

/*
 * Initialise a lock in caller-provided memory (shared with other processes
 * or not). The memory must stay mapped while the lock is in use.
 * Returns 0, -EINVAL (NULL), -ENOMEM, -EAGAIN (system resources).
 */
MP_EXTERN int mp_lock_init(mp_lock *lock);
MP_EXTERN int mp_rlock_init(mp_rlock *lock);

/*
 * Acquire, waiting at most `timeout` seconds (mproc/common.h).
 * Returns 0 (acquired), MP_EOWNERDEAD (acquired; previous holder died),
 * -EAGAIN (timeout 0 and the lock is held), -ETIMEDOUT, -EDEADLK (Lock
 * only: the caller already holds it), -EOVERFLOW (RLock held 2^32-1 times),
 * -EINVAL (NULL, not an initialised lock, NaN timeout).
 */
MP_EXTERN int mp_lock_acquire(mp_lock *lock, double timeout);
MP_EXTERN int mp_rlock_acquire(mp_rlock *lock, double timeout);

/* mp_*_acquire(lock, 0): 0, MP_EOWNERDEAD, -EAGAIN if held, -EDEADLK, ... */
MP_EXTERN int mp_lock_try_acquire(mp_lock *lock);
MP_EXTERN int mp_rlock_try_acquire(mp_rlock *lock);

/*
 * Release. Returns 0, -EPERM (the calling thread does not hold it),
 * -EINVAL (NULL or not an initialised lock).
 */
MP_EXTERN int mp_lock_release(mp_lock *lock);
MP_EXTERN int mp_rlock_release(mp_rlock *lock);

/*
 * 1 when the calling thread holds the lock, 0 when it does not, -EINVAL for
 * NULL or an uninitialised lock. Never blocks.
 */
MP_EXTERN int mp_lock_is_owned(const mp_lock *lock);
MP_EXTERN int mp_rlock_is_owned(const mp_rlock *lock);

/* The segment name of a standalone lock (valid until close); NULL for an
 * embedded lock or NULL. */
MP_EXTERN const char *mp_lock_name(const mp_lock *lock);
MP_EXTERN const char *mp_rlock_name(const mp_rlock *lock);

/*
 * Unmap a standalone lock opened or created by this process (the name
 * stays). NULL is harmless. -EINVAL for an embedded lock, or one this
 * process has already closed.
 */
MP_EXTERN int mp_lock_close(mp_lock *lock);
MP_EXTERN int mp_rlock_close(mp_rlock *lock);

/*
 * Standalone: remove the name and unmap (-ENOENT if the name was already
 * gone; the mapping is still released). Embedded: finish the lock; -EBUSY
 * (and nothing changes) while it is held, -EINVAL when already destroyed.
 * NULL is harmless. Like free(), destroying a standalone lock twice is
 * undefined: its memory is gone after the first call.
 */
MP_EXTERN int mp_lock_destroy(mp_lock *lock);
MP_EXTERN int mp_rlock_destroy(mp_rlock *lock);

MP_END_DECLS

#endif /* MPROC_LOCK_H */
