/*
 * lib/mutex.c - robust, process-shared, error-checking pthread mutexes, the
 * mutual exclusion under Lock, RLock and Barrier. A holder's death is
 * reported as MP_EOWNERDEAD with the mutex already made consistent, so it is
 * never poisoned.
 */
#include "internal.h"

#include <errno.h>
#include <time.h>

/* ThreadSanitizer does not intercept pthread_mutex_clocklock (gcc 12): tell
 * it about locks taken that way so the unlock is not reported. */
#ifdef MP__TSAN
#include <sanitizer/tsan_interface.h>
#define tsan_pre_lock(m) __tsan_mutex_pre_lock((m), 0)
#define tsan_post_lock(m, ok)                                                  \
  __tsan_mutex_post_lock((m), (ok) ? 0 : __tsan_mutex_try_lock_failed, 0)
#else
#define tsan_pre_lock(m) ((void)(m))
#define tsan_post_lock(m, ok) ((void)(m), (void)(ok))
#endif

int mp__mutex_init(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  int rc = pthread_mutexattr_init(&a);
  if (rc)
    return -rc;
  /* PTHREAD_MUTEX_ROBUST is an enum in glibc: required, not #ifdef'd. */
  if (!(rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) &&
      !(rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) &&
      !(rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK)))
    rc = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  return -rc;
}

static int result(pthread_mutex_t *m, int rc) {
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(m);
    return MP_EOWNERDEAD;
  }
  return -rc;
}

/* Longest single wait for the mutex. The kernel wakes one waiter when the
 * mutex is released; if that waiter is killed before it runs while another
 * thread barges in, the wake-up is lost and the next waiter would sleep on
 * a free mutex for ever (the kernel's rescue covers only a mutex left
 * free). Waiting in slices bounds that to one slice: each retry re-arms the
 * waiters bit. */
#define SLICE_NS 100000000LL

/* Wait for m, which was just found busy, until d: in slices. */
static int wait_sliced(pthread_mutex_t *m, const mp__deadline *d) {
  int rc = EBUSY;
  while (rc == EBUSY) {
    int64_t left = mp__deadline_left_ns(d);
    if (left == 0)
      return -ETIMEDOUT;
    int64_t at_ns = mp__now_ns() + (left < SLICE_NS ? left : SLICE_NS);
    struct timespec at = {(time_t)(at_ns / 1000000000),
                          (long)(at_ns % 1000000000)};
    tsan_pre_lock(m);
    rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &at);
    tsan_post_lock(m, rc == 0 || rc == EOWNERDEAD);
    if (rc == ETIMEDOUT)
      rc = EBUSY; /* the end of a slice: look again */
  }
  return result(m, rc);
}

int mp__mutex_lock_until(pthread_mutex_t *m, const mp__deadline *d) {
  int rc = pthread_mutex_trylock(m);
  return rc == EBUSY ? wait_sliced(m, d) : result(m, rc);
}

int mp__mutex_lock(pthread_mutex_t *m, double timeout) {
  if (timeout != timeout) /* NaN */
    return -EINVAL;
  int rc = pthread_mutex_trylock(m);
  if (rc != EBUSY)
    return result(m, rc);
  if (timeout == 0)
    return -EAGAIN;
  mp__deadline d;
  if ((rc = mp__deadline_init(&d, timeout)) < 0)
    return rc;
  return wait_sliced(m, &d);
}

int mp__mutex_unlock(pthread_mutex_t *m) { return -pthread_mutex_unlock(m); }

int mp__mutex_destroy(pthread_mutex_t *m) {
  /* glibc does not refuse to destroy a held robust mutex: check here. */
  int rc = pthread_mutex_trylock(m);
  if (rc == EOWNERDEAD)
    pthread_mutex_consistent(m);
  else if (rc)
    return -EBUSY;
  pthread_mutex_unlock(m);
  return -pthread_mutex_destroy(m);
}
