/*
 * mproc/error.h - the one error convention of mproc.
 *
 * Every function that can fail returns an int: 0 on success, or a negative
 * code on failure. Codes are negative errno values wherever an errno fits
 * (MP_EINVAL == -EINVAL, ...); conditions errno lacks have codes of their own
 * in the band -4095..-4000, far from any errno. Objects come back through
 * out-parameters. No mproc function prints or exits on a user error.
 *
 * One code is not a failure: MP_EOWNERDEAD (-EOWNERDEAD) from an acquire
 * means the lock IS now held by the caller, but its previous owner died
 * holding it, so the data it protects may be half-updated. MP_ACQUIRED(rc)
 * tests for "the caller holds the lock".
 */
#ifndef MPROC_ERROR_H
#define MPROC_ERROR_H

#include <errno.h>

#include "common.h"

/*
 * XX(name, value, message): every code mproc returns, defined once. The
 * enum, mp_strerror() and mp_err_name() are generated from this list.
 */
#define MP_ERRNO_MAP(XX)                                                       \
  XX(EPERM, -EPERM, "operation not permitted")                                 \
  XX(ENOENT, -ENOENT, "no such object")                                        \
  XX(EINTR, -EINTR, "interrupted by a signal")                                 \
  XX(EBADF, -EBADF, "bad or closed object")                                    \
  XX(EAGAIN, -EAGAIN, "would block (non-blocking call)")                       \
  XX(ENOMEM, -ENOMEM, "out of memory")                                         \
  XX(EACCES, -EACCES, "permission denied")                                     \
  XX(EBUSY, -EBUSY, "object is busy")                                          \
  XX(EEXIST, -EEXIST, "object already exists")                                 \
  XX(EINVAL, -EINVAL, "invalid argument")                                      \
  XX(EMFILE, -EMFILE, "too many open files in this process")                   \
  XX(ENFILE, -ENFILE, "too many open files in the system")                     \
  XX(ENOSPC, -ENOSPC, "no space left")                                         \
  XX(EPIPE, -EPIPE, "peer closed")                                             \
  XX(ERANGE, -ERANGE, "value out of range")                                    \
  XX(EALREADY, -EALREADY, "already started")                                   \
  XX(EDEADLK, -EDEADLK, "would deadlock: caller already holds the lock")       \
  XX(ENAMETOOLONG, -ENAMETOOLONG, "name too long")                             \
  XX(ENOSYS, -ENOSYS, "not supported on this system")                          \
  XX(EOVERFLOW, -EOVERFLOW, "value too large")                                 \
  XX(EMSGSIZE, -EMSGSIZE, "message too long")                                  \
  XX(ESHUTDOWN, -ESHUTDOWN, "object was shut down")                            \
  XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                       \
  XX(ESRCH, -ESRCH, "no such process")                                         \
  XX(ECHILD, -ECHILD, "no such child process")                                 \
  XX(EOWNERDEAD, -EOWNERDEAD,                                                  \
     "acquired, but the previous owner died holding it")                       \
  XX(ENOTRECOVERABLE, -ENOTRECOVERABLE, "state not recoverable")

#define MP_OWN_ERR_MAP(XX)                                                     \
  XX(ENOTOBJ, -4000, "not an mproc object")                                    \
  XX(EKIND, -4001, "mproc object of another kind")                             \
  XX(EVERSION, -4002, "mproc object of an unsupported layout version")         \
  XX(EBROKEN, -4003, "barrier is broken")                                      \
  XX(EWORKERDIED, -4004, "worker process died")

#define MP_ERR_MAP(XX) MP_ERRNO_MAP(XX) MP_OWN_ERR_MAP(XX)

typedef enum mp_errno {
#define MP_ERR_ENUM_(name, value, msg) MP_##name = (value),
  MP_ERR_MAP(MP_ERR_ENUM_)
#undef MP_ERR_ENUM_
  MP_ERR_LAST_ = -4095
} mp_errno;

/* True when an acquire result means the caller now holds the lock. */
#define MP_ACQUIRED(rc) ((rc) == 0 || (rc) == MP_EOWNERDEAD)

MP_BEGIN_DECLS

/*
 * A static, human-readable description of `code` (0, any MP_E* code, any
 * negative errno, or anything else: "unknown error"). Never fails, never
 * allocates; thread-safe and async-signal-safe.
 */
MP_EXTERN const char *mp_strerror(int code);

/*
 * The symbolic name of `code`: "EINVAL", "EBROKEN", ..., "OK" for 0, the
 * errno name for any other negative errno value, "UNKNOWN" for anything
 * else. Static string; never fails, never allocates.
 */
MP_EXTERN const char *mp_err_name(int code);

MP_END_DECLS

#endif /* MPROC_ERROR_H */
