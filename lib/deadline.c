/* lib/deadline.c - the timeout convention of mproc/common.h. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <time.h>


#define NS_PER_S 1000000000LL

int64_t mp__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int mp__deadline_init(mp__deadline *d, double timeout) {
  if (isnan(timeout))
    return -EINVAL;
  d->forever = timeout < 0 || timeout >= MP_TIMEOUT_MAX;
  if (d->forever)
    return 0;
  /* timeout < 1e9 s, so the sum stays far below INT64_MAX ns. */
  int64_t at = mp__now_ns() + (int64_t)(timeout * (double)NS_PER_S);
  d->at.tv_sec = (time_t)(at / NS_PER_S);
  d->at.tv_nsec = (long)(at % NS_PER_S);
  return 0;
}

int64_t mp__deadline_left_ns(const mp__deadline *d) {
  if (d->forever)
    return INT64_MAX;
  int64_t left =
      (int64_t)d->at.tv_sec * NS_PER_S + d->at.tv_nsec - mp__now_ns();
  return left > 0 ? left : 0;
}
