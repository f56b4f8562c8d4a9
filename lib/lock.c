/*
 * lib/lock.c - Lock and RLock on robust, process-shared, error-checking
 * pthread mutexes. Ownership (a per-thread token) and RLock recursion are
 * tracked here, so release by a non-owner is refused without relying on
 * the mutex type, and owner death can reset the recursion count.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>


/* ThreadSanitizer does not intercept pthread_mutex_clocklock (gcc 12): tell
 * it about locks taken that way so the unlock is not reported. */
#if defined(__SANITIZE_THREAD__)
#define MP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MP_TSAN 1
#endif
#endif
#ifdef MP_TSAN
#include <sanitizer/tsan_interface.h>
#define tsan_pre_lock(m) __tsan_mutex_pre_lock((m), 0)
#define tsan_post_lock(m, ok)                                                  \
  __tsan_mutex_post_lock((m), (ok) ? 0 : __tsan_mutex_try_lock_failed, 0)
#else
#define tsan_pre_lock(m) ((void)(m))
#define tsan_post_lock(m, ok) ((void)(m), (void)(ok))
#endif

#define LOCK_MAGIC 0x4b434f4cu  /* "LOCK" */
#define RLOCK_MAGIC 0x4b4c4f52u /* "ROLK" */

struct lock_state {
  pthread_mutex_t mutex;  /* robust, process-shared, error-checking */
  uint32_t magic;         /* LOCK_MAGIC / RLOCK_MAGIC while initialised */
  uint32_t standalone;    /* 1 in a segment of its own */
  _Atomic uint64_t owner; /* token of the holding thread, 0 when free */
  uint32_t count;         /* RLock depth; written by the holder only */
};
_Static_assert(sizeof(struct lock_state) <= sizeof(mp_lock), "mp_lock size");
_Static_assert(sizeof(mp_lock) == sizeof(mp_rlock), "lock sizes differ");
_Static_assert(_Alignof(struct lock_state) <= _Alignof(mp_lock), "align");

static int state_init(struct lock_state *s, uint32_t magic, bool standalone) {
  pthread_mutexattr_t a;
  int rc = pthread_mutexattr_init(&a);
  if (rc)
    return -rc;
  /* PTHREAD_MUTEX_ROBUST is an enum in glibc: required, not #ifdef'd. */
  if ((rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
      (rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
      (rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK))) {
    pthread_mutexattr_destroy(&a);
    return -rc;
  }
  memset(s, 0, sizeof *s);
  rc = pthread_mutex_init(&s->mutex, &a);
  pthread_mutexattr_destroy(&a);
  if (rc)
    return -rc;
  s->standalone = standalone;
  s->magic = magic;
  return 0;
}

static struct lock_state *state(const void *lock, uint32_t magic) {
  struct lock_state *s = (struct lock_state *)lock;
  return s && s->magic == magic ? s : NULL;
}

/* Take the mutex per the timeout convention; 0, MP_EOWNERDEAD or < 0. */
static int take(struct lock_state *s, double timeout) {
  int rc;
  if (timeout < 0 || timeout >= MP_TIMEOUT_MAX) {
    rc = pthread_mutex_lock(&s->mutex);
  } else {
    rc = pthread_mutex_trylock(&s->mutex);
    if (rc == EBUSY && timeout == 0)
      return -EAGAIN;
    if (rc == EBUSY) {
      mp__deadline d;
      if ((rc = mp__deadline_init(&d, timeout)) < 0)
        return rc;
      tsan_pre_lock(&s->mutex);
      rc = pthread_mutex_clocklock(&s->mutex, CLOCK_MONOTONIC, &d.at);
      tsan_post_lock(&s->mutex, rc == 0 || rc == EOWNERDEAD);
    }
  }
  if (rc == EOWNERDEAD) {
    /* The holder died: the mutex is ours. Repair what the lock itself
     * keeps, make the mutex consistent, and tell the caller. */
    s->count = 0;
    pthread_mutex_consistent(&s->mutex);
    return MP_EOWNERDEAD;
  }
  return -rc;
}

static int acquire(struct lock_state *s, double timeout, bool recursive) {
  if (timeout != timeout) /* NaN */
    return -EINVAL;
  uint64_t me = mp__thread_token();
  if (atomic_load_explicit(&s->owner, memory_order_relaxed) == me) {
    if (!recursive)
      return -EDEADLK;
    if (s->count == UINT32_MAX)
      return -EOVERFLOW;
    s->count++;
    return 0;
  }
  int rc = take(s, timeout);
  if (MP_ACQUIRED(rc)) {
    atomic_store_explicit(&s->owner, me, memory_order_relaxed);
    s->count = 1;
  }
  return rc;
}

static int release(struct lock_state *s) {
  if (atomic_load_explicit(&s->owner, memory_order_relaxed) !=
      mp__thread_token())
    return -EPERM;
  if (--s->count > 0)
    return 0;
  atomic_store_explicit(&s->owner, 0, memory_order_relaxed);
  return -pthread_mutex_unlock(&s->mutex);
}

static int is_owned(const struct lock_state *s) {
  return atomic_load_explicit(&s->owner, memory_order_relaxed) ==
         mp__thread_token();
}

static int lock_seg_init(void *obj, size_t size, void *arg) {
  (void)size;
  return state_init(obj, *(uint32_t *)arg, true);
}

static int create(const char *name, enum mp__kind kind, uint32_t magic,
                  void **out) {
  return mp__seg_create(name, kind, sizeof(mp_lock), lock_seg_init, &magic,
                        out);
}



static int destroy(struct lock_state *s) {
  if (s->standalone) {
    int rc = mp__seg_unlink(s);
    if (rc == -EINVAL)
      return rc;
    int crc = mp__seg_close(s);
    return rc ? rc : crc;
  }
  /* glibc does not refuse to destroy a held robust mutex: check here. */
  int rc = pthread_mutex_trylock(&s->mutex);
  if (rc == EOWNERDEAD)
    pthread_mutex_consistent(&s->mutex);
  else if (rc)
    return -EBUSY;
  pthread_mutex_unlock(&s->mutex);
  s->magic = 0;
  return -pthread_mutex_destroy(&s->mutex);
}

/* ---- public API: Lock and RLock are thin twins over the functions above */

#define LOCK_API(type, prefix, kind, magic, recursive)                         \
  int prefix##_create(const char *name, type **out) {                          \
    return create(name, kind, magic, (void **)out);                            \
  }                                                                            \
  int prefix##_open(const char *name, type **out) {                            \
    return mp__seg_open(name, kind, (void **)out);                             \
  }                                                                            \
  int prefix##_init(type *lock) {                                              \
    return lock ? state_init((struct lock_state *)lock, magic, false)          \
                : -EINVAL;                                                     \
  }                                                                            \
  int prefix##_acquire(type *lock, double timeout) {                           \
    struct lock_state *s = state(lock, magic);                                 \
    return s ? acquire(s, timeout, recursive) : -EINVAL;                       \
  }                                                                            \
  int prefix##_try_acquire(type *lock) { return prefix##_acquire(lock, 0); }   \
  int prefix##_release(type *lock) {                                           \
    struct lock_state *s = state(lock, magic);                                 \
    return s ? release(s) : -EINVAL;                                           \
  }                                                                            \
  int prefix##_is_owned(const type *lock) {                                    \
    const struct lock_state *s = state(lock, magic);                           \
    return s ? is_owned(s) : -EINVAL;                                          \
  }                                                                            \
  const char *prefix##_name(const type *lock) {                                \
    const struct lock_state *s = state(lock, magic);                           \
    return s && s->standalone ? mp__seg_name(s) : NULL;                        \
  }                                                                            \
  int prefix##_close(type *lock) {                                             \
    /* Only a mapping of this process can be closed: checked before the     \
     * memory is touched, so a second close is refused, not a crash. */     \
    if (!lock)                                                                 \
      return 0;                                                                \
    return mp__seg_mapped(lock) && state(lock, magic) ? mp__seg_close(lock)   \
                                                      : -EINVAL;               \
  }                                                                            \
  int prefix##_destroy(type *lock) {                                           \
    if (!lock)                                                                 \
      return 0;                                                                \
    struct lock_state *s = state(lock, magic);                                 \
    return s ? destroy(s) : -EINVAL;                                           \
  }

LOCK_API(mp_lock, mp_lock, MP__KIND_LOCK, LOCK_MAGIC, false)
LOCK_API(mp_rlock, mp_rlock, MP__KIND_RLOCK, RLOCK_MAGIC, true)
