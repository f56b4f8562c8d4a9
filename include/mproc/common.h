/*
 * mproc/common.h - definitions shared by every mproc module.
 *
 * Timeout convention (every call that can block takes one):
 *   a `double` number of seconds, measured on CLOCK_MONOTONIC;
 *   MP_FOREVER (any negative value) waits forever;
 *   0 does not block: the call fails with -EAGAIN where it would have to wait;
 *   > 0 waits at most that long and fails with -ETIMEDOUT;
 *   values of MP_TIMEOUT_MAX seconds or more wait forever; NaN is -EINVAL.
 * A wait interrupted by a signal is resumed with the remaining time.
 */
#ifndef MPROC_COMMON_H
#define MPROC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(MP_STATIC_BUILD)
#define MP_EXTERN __attribute__((visibility("default")))
#else
#define MP_EXTERN
#endif

#ifdef __cplusplus
#define MP_BEGIN_DECLS extern "C" {
#define MP_END_DECLS }
#else
#define MP_BEGIN_DECLS
#define MP_END_DECLS
#endif

/* Wait without a time limit. */
#define MP_FOREVER (-1.0)
/* Timeouts at or above this many seconds (about 31 years) mean forever. */
#define MP_TIMEOUT_MAX 1e9

/* Longest object name, leading '/' included (names are "/" + 1..254 chars). */
#define MP_NAME_MAX 255

#endif /* MPROC_COMMON_H */
