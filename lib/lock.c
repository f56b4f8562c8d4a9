/*
 * lib/lock.c - Lock and RLock on robust mutexes (mutex.c). Ownership (a
 * per-thread token) and RLock recursion are tracked here, so release by a
 * non-owner is refused without relying on the mutex type, owner death can
 * reset the recursion count, and Condition can release and restore an RLock
 * held several levels deep.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

struct lock_state {
  struct mp__obj head;    /* magic says Lock or RLock */
  pthread_mutex_t mutex;  /* robust, process-shared, error-checking */
  _Atomic uint64_t owner; /* token of the holding thread, 0 when free */
  uint32_t count;         /* RLock depth; written by the holder only */
};
_Static_assert(sizeof(struct lock_state) <= sizeof(mp_lock), "mp_lock size");
_Static_assert(sizeof(mp_lock) == sizeof(mp_rlock), "lock sizes differ");
_Static_assert(_Alignof(struct lock_state) <= _Alignof(mp_lock), "align");

static int init(void *obj, void *kind) {
  struct lock_state *s = obj;
  memset(s, 0, sizeof *s);
  int rc = mp__mutex_init(&s->mutex);
  if (rc == 0)
    mp__obj_init(s, *(enum mp__kind *)kind);
  return rc;
}

static int fini(void *obj) {
  return mp__mutex_destroy(&((struct lock_state *)obj)->mutex);
}

static bool held_by_caller(const struct lock_state *s) {
  return atomic_load_explicit(&s->owner, memory_order_relaxed) ==
         mp__thread_token();
}

/* Record the caller as owner at depth; reports owner death. */
static int took(struct lock_state *s, int rc, uint32_t depth) {
  if (MP_ACQUIRED(rc)) {
    atomic_store_explicit(&s->owner, mp__thread_token(), memory_order_relaxed);
    s->count = depth; /* after a holder's death this resets its depth */
  }
  return rc;
}

static int acquire(struct lock_state *s, double timeout) {
  if (timeout != timeout) /* NaN, before anything else */
    return -EINVAL;
  if (held_by_caller(s)) {
    if (s->head.magic != MP__MAGIC(MP__KIND_RLOCK))
      return -EDEADLK;
    if (s->count == UINT32_MAX)
      return -EOVERFLOW;
    s->count++;
    return 0;
  }
  return took(s, mp__mutex_lock(&s->mutex, timeout), 1);
}

static int release(struct lock_state *s) {
  if (!held_by_caller(s))
    return -EPERM;
  if (--s->count > 0)
    return 0;
  atomic_store_explicit(&s->owner, 0, memory_order_relaxed);
  return mp__mutex_unlock(&s->mutex);
}

/* ---- for Condition and Value ---------------------------------------------- */

bool mp__lock_held(const void *p) { return held_by_caller(p); }

enum mp__kind mp__lock_kind(const void *p) {
  if (mp__obj_check(p, MP__KIND_LOCK))
    return MP__KIND_LOCK;
  return mp__obj_check(p, MP__KIND_RLOCK) ? MP__KIND_RLOCK : 0;
}

int mp__lock_release_save(void *p, uint32_t *depth) {
  struct lock_state *s = p;
  if (!held_by_caller(s))
    return -EPERM;
  *depth = s->count;
  s->count = 1;
  return release(s);
}

int mp__lock_acquire_restore(void *p, uint32_t depth) {
  struct lock_state *s = p;
  return took(s, mp__mutex_lock(&s->mutex, MP_FOREVER), depth);
}

/* ---- public API: Lock and RLock are twins over the functions above ------- */

#define LOCK_API(type, prefix, kind)                                           \
  int prefix##_create(const char *name, type **out) {                          \
    enum mp__kind k = kind;                                                    \
    return mp__obj_create(name, kind, sizeof(type), init, &k, (void **)out);   \
  }                                                                            \
  int prefix##_init(type *lock) {                                              \
    enum mp__kind k = kind;                                                    \
    return lock ? init(lock, &k) : -EINVAL;                                    \
  }                                                                            \
  int prefix##_acquire(type *lock, double timeout) {                           \
    struct mp__obj *o = mp__obj_check(lock, kind);                             \
    return o ? acquire((struct lock_state *)o, timeout) : -EINVAL;             \
  }                                                                            \
  int prefix##_try_acquire(type *lock) { return prefix##_acquire(lock, 0); }   \
  int prefix##_release(type *lock) {                                           \
    struct mp__obj *o = mp__obj_check(lock, kind);                             \
    return o ? release((struct lock_state *)o) : -EINVAL;                      \
  }                                                                            \
  int prefix##_is_owned(const type *lock) {                                    \
    struct mp__obj *o = mp__obj_check(lock, kind);                             \
    return o ? held_by_caller((struct lock_state *)o) : -EINVAL;               \
  }                                                                            \
  MP__OBJ_LIFECYCLE(type, prefix, kind, fini)

LOCK_API(mp_lock, mp_lock, MP__KIND_LOCK)
LOCK_API(mp_rlock, mp_rlock, MP__KIND_RLOCK)
