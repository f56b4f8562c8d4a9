/*
 * lib/semaphore.c - Semaphore and BoundedSemaphore: the value is the futex
 * word. A count of sleepers lets release() skip the wake-up system call when
 * nobody sleeps; a sleeper killed in its sleep leaves the count one too high,
 * which costs later releases a harmless wake-up call and never a lost one.
 */
#include "internal.h"

#include <errno.h>

struct sem_state {
  struct mp__obj head;
  _Atomic uint32_t value;
  _Atomic uint32_t sleepers;
  uint32_t bound;   /* the largest value: the initial one if bounded */
  uint32_t bounded; /* 1 for a BoundedSemaphore */
};
_Static_assert(sizeof(struct sem_state) <= sizeof(mp_semaphore), "size");

struct sem_arg {
  int value;
  unsigned flags;
};

static int check_args(int value, unsigned flags) {
  return value < 0 || (flags & ~MP_SEMAPHORE_BOUNDED) ? -EINVAL : 0;
}

static int init(void *obj, void *arg) {
  struct sem_state *s = obj;
  struct sem_arg *a = arg;
  atomic_store(&s->value, (uint32_t)a->value);
  atomic_store(&s->sleepers, 0);
  s->bounded = (a->flags & MP_SEMAPHORE_BOUNDED) != 0;
  s->bound = s->bounded ? (uint32_t)a->value : MP_SEMAPHORE_MAX;
  mp__obj_init(s, MP__KIND_SEMAPHORE);
  return 0;
}

static struct sem_state *sem(const mp_semaphore *s) {
  return (struct sem_state *)mp__obj_check(s, MP__KIND_SEMAPHORE);
}

int mp_semaphore_create(const char *name, int value, unsigned flags,
                        mp_semaphore **out) {
  struct sem_arg a = {value, flags};
  int rc = check_args(value, flags);
  if (rc < 0) {
    if (out)
      *out = NULL;
    return rc;
  }
  return mp__obj_create(name, MP__KIND_SEMAPHORE, sizeof(mp_semaphore), init,
                        &a, (void **)out);
}

int mp_semaphore_init(mp_semaphore *s, int value, unsigned flags) {
  struct sem_arg a = {value, flags};
  if (!s)
    return -EINVAL;
  int rc = check_args(value, flags);
  return rc < 0 ? rc : init(s, &a);
}

/* Take a unit if there is one. */
static bool try_take(struct sem_state *s) {
  uint32_t v = atomic_load(&s->value);
  while (v > 0)
    if (atomic_compare_exchange_weak(&s->value, &v, v - 1))
      return true;
  return false;
}

int mp_semaphore_acquire(mp_semaphore *sp, double timeout) {
  struct sem_state *s = sem(sp);
  if (!s || timeout != timeout)
    return -EINVAL;
  if (try_take(s))
    return 0;
  if (timeout == 0)
    return -EAGAIN;
  mp__deadline d;
  mp__deadline_init(&d, timeout);
  mp__spin_while(&s->value, 0);
  if (try_take(s))
    return 0;
  atomic_fetch_add(&s->sleepers, 1);
  int rc = 0;
  bool got; /* after a timeout, one last try */
  while (!(got = try_take(s)) && rc != -ETIMEDOUT)
    rc = mp__futex_wait(&s->value, 0, &d);
  atomic_fetch_sub(&s->sleepers, 1);
  return got ? 0 : -ETIMEDOUT;
}

int mp_semaphore_release(mp_semaphore *sp, int n) {
  struct sem_state *s = sem(sp);
  if (!s || n < 1)
    return -EINVAL;
  uint32_t v = atomic_load(&s->value);
  do {
    if (v + (uint64_t)n > s->bound)
      return s->bounded ? -ERANGE : -EOVERFLOW;
  } while (!atomic_compare_exchange_weak(&s->value, &v, v + (uint32_t)n));
  if (atomic_load(&s->sleepers) > 0)
    mp__futex_wake(&s->value, n);
  return 0;
}

int mp_semaphore_value(const mp_semaphore *sp) {
  struct sem_state *s = sem(sp);
  return s ? (int)atomic_load(&s->value) : -EINVAL;
}

MP__OBJ_LIFECYCLE(mp_semaphore, mp_semaphore, MP__KIND_SEMAPHORE, NULL)
