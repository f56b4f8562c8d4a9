/*
 * lib/timer.c - Timer (threading.Timer): a thread that waits on a private
 * Event for `interval` seconds and calls fn unless the Event was set by
 * cancel. A second Event tells joiners that the thread is done.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct mp_timer {
  double interval;
  mp_timer_fn fn;
  void *arg;
  pid_t pid;             /* the owning process */
  pthread_mutex_t mu;   /* start against join and destroy */
  pthread_t thread;
  _Atomic int started;   /* 1 once the thread exists */
  _Atomic int fired;     /* 1 once fn returned */
  mp_event cancelled;    /* set by cancel */
  mp_event finished;     /* set by the thread as it ends */
};

int mp_timer_create(double interval, mp_timer_fn fn, void *arg,
                    mp_timer **out) {
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (!fn || interval != interval || interval < 0)
    return -EINVAL;
  mp_timer *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  t->interval = interval;
  t->fn = fn;
  t->arg = arg;
  t->pid = getpid();
  pthread_mutex_init(&t->mu, NULL);
  mp_event_init(&t->cancelled);
  mp_event_init(&t->finished);
  *out = t;
  return 0;
}

static void *run(void *arg) {
  mp_timer *t = arg;
  /* 0: cancelled; -ETIMEDOUT (or -EAGAIN for interval 0): time to fire. */
  if (mp_event_wait(&t->cancelled, t->interval) != 0) {
    t->fn(t->arg);
    atomic_store(&t->fired, 1);
  }
  mp_event_set(&t->finished);
  return NULL;
}

/* Refuse a NULL timer or one of another process. */
static int check(const mp_timer *t) {
  if (!t)
    return -EINVAL;
  return t->pid == getpid() ? 0 : -EPERM;
}

int mp_timer_start(mp_timer *t) {
  int rc = check(t);
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&t->mu);
  if (atomic_load(&t->started))
    rc = -EALREADY;
  else if ((rc = -pthread_create(&t->thread, NULL, run, t)) == 0)
    atomic_store(&t->started, 1);
  pthread_mutex_unlock(&t->mu);
  return rc;
}

int mp_timer_cancel(mp_timer *t) {
  int rc = check(t);
  return rc < 0 ? rc : mp_event_set(&t->cancelled);
}

int mp_timer_join(mp_timer *t, double timeout) {
  int rc = check(t);
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&t->mu);
  rc = !atomic_load(&t->started) || timeout != timeout ? -EINVAL
       : pthread_equal(pthread_self(), t->thread)      ? -EDEADLK
                                                       : 0;
  pthread_mutex_unlock(&t->mu);
  return rc < 0 ? rc : mp_event_wait(&t->finished, timeout);
}

int mp_timer_fired(const mp_timer *t) {
  return t ? atomic_load(&t->fired) : -EINVAL;
}

int mp_timer_destroy(mp_timer *t) {
  if (!t)
    return 0;
  int rc = check(t);
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&t->mu);
  bool started = atomic_load(&t->started);
  if (started && pthread_equal(pthread_self(), t->thread)) {
    pthread_mutex_unlock(&t->mu);
    return -EDEADLK;
  }
  pthread_mutex_unlock(&t->mu);
  if (started) {
    mp_event_set(&t->cancelled);
    pthread_join(t->thread, NULL);
  }
  pthread_mutex_destroy(&t->mu);
  free(t);
  return 0;
}
