/*
 * lib/event.c - Event: one futex word holding the flag, a "someone sleeps"
 * bit and a count of sets. set() wakes only when the bit says someone
 * sleeps, and clears the bit, so a waiter that died leaves no trace beyond
 * the next set(). A waiter returns once the flag is set or a set() happened
 * since it began (a set immediately followed by a clear still releases it,
 * as in Python).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>

#define FLAG 1u
#define SLEEPERS 2u
#define SET_STEP 4u /* the count of sets lives in the upper bits */

struct event_state {
  struct mp__obj head;
  _Atomic uint32_t word;
};
_Static_assert(sizeof(struct event_state) <= sizeof(mp_event), "size");

static int init(void *obj, void *arg) {
  (void)arg;
  struct event_state *e = obj;
  atomic_store(&e->word, 0);
  mp__obj_init(e, MP__KIND_EVENT);
  return 0;
}

static struct event_state *event(const mp_event *e) {
  return (struct event_state *)mp__obj_check(e, MP__KIND_EVENT);
}

int mp_event_create(const char *name, mp_event **out) {
  return mp__obj_create(name, MP__KIND_EVENT, sizeof(mp_event), init, NULL,
                        (void **)out);
}

int mp_event_init(mp_event *e) { return e ? init(e, NULL) : -EINVAL; }

int mp_event_set(mp_event *ev) {
  struct event_state *e = event(ev);
  if (!e)
    return -EINVAL;
  uint32_t w = atomic_load(&e->word);
  do {
    if (w & FLAG)
      return 0;
  } while (!atomic_compare_exchange_weak(&e->word, &w,
                                         ((w & ~SLEEPERS) + SET_STEP) | FLAG));
  if (w & SLEEPERS)
    mp__futex_wake(&e->word, INT_MAX);
  return 0;
}

int mp_event_clear(mp_event *ev) {
  struct event_state *e = event(ev);
  if (!e)
    return -EINVAL;
  atomic_fetch_and(&e->word, ~FLAG);
  return 0;
}

int mp_event_is_set(const mp_event *ev) {
  struct event_state *e = event(ev);
  return e ? (int)(atomic_load(&e->word) & FLAG) : -EINVAL;
}

int mp_event_wait(mp_event *ev, double timeout) {
  struct event_state *e = event(ev);
  if (!e || timeout != timeout)
    return -EINVAL;
  uint32_t w = atomic_load_explicit(&e->word, memory_order_acquire);
  const uint32_t sets = w / SET_STEP;
#define RELEASED(w) (((w)&FLAG) || (w) / SET_STEP != sets)
  if (RELEASED(w))
    return 0;
  if (timeout == 0)
    return -EAGAIN;
  mp__deadline d;
  mp__deadline_init(&d, timeout);
  w = mp__spin_while(&e->word, w);
  for (;;) {
    if (RELEASED(w))
      return 0;
    if (!(w & SLEEPERS) &&
        !atomic_compare_exchange_weak(&e->word, &w, w | SLEEPERS))
      continue; /* w was reloaded */
    int rc = mp__futex_wait(&e->word, w | SLEEPERS, &d);
    w = atomic_load_explicit(&e->word, memory_order_acquire);
    if (rc == -ETIMEDOUT && !RELEASED(w))
      return -ETIMEDOUT;
  }
#undef RELEASED
}

MP__OBJ_LIFECYCLE(mp_event, mp_event, MP__KIND_EVENT, NULL)
