/*
 * mproc/timer.h - Timer (Python's threading.Timer): run a function once,
 * after an interval, in a background thread of this process, unless
 * cancelled first.
 *
 * A Timer belongs to the process that created it (its thread does not exist
 * in a forked child: calls from another process get -EPERM). The handle is
 * allocated by mp_timer_create() and freed by mp_timer_destroy(), which
 * cancels and joins first. Safe from any thread of the owning process.
 */
#ifndef MPROC_TIMER_H
#define MPROC_TIMER_H

#include "common.h"

MP_BEGIN_DECLS

typedef struct mp_timer mp_timer;
typedef void (*mp_timer_fn)(void *arg);

/* A timer that will call fn(arg) `interval` seconds (>= 0) after start.
 * -EINVAL (NULL fn or out, negative or NaN interval), -ENOMEM. */
MP_EXTERN int mp_timer_create(double interval, mp_timer_fn fn, void *arg,
                              mp_timer **out);
/* Start the countdown (once: -EALREADY after). -EAGAIN when no thread can
 * be made, -EPERM from another process, -EINVAL (NULL). */
MP_EXTERN int mp_timer_start(mp_timer *timer);
/* Stop a timer that has not fired yet (it then never will). Harmless when
 * not started, already fired or cancelled. 0, -EPERM, -EINVAL. */
MP_EXTERN int mp_timer_cancel(mp_timer *timer);
/* Wait until the timer is finished (fired and fn returned, or cancelled):
 * 0, -ETIMEDOUT, -EAGAIN (timeout 0), -EINVAL (not started, NULL, NaN),
 * -EDEADLK (called from fn itself), -EPERM. */
MP_EXTERN int mp_timer_join(mp_timer *timer, double timeout);
/* 1 when fn has run to completion, 0 otherwise, -EINVAL. */
MP_EXTERN int mp_timer_fired(const mp_timer *timer);
/* Cancel, join and free. NULL is harmless; -EDEADLK from fn itself. */
MP_EXTERN int mp_timer_destroy(mp_timer *timer);

MP_END_DECLS

#endif /* MPROC_TIMER_H */
