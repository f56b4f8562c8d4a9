/*
 * mproc/dict.h - a dict of byte-string keys and values in one shared
 * segment: Python's Manager().dict() without the server process.
 *
 * Capacity is fixed at creation: bytes for keys and values, and a number of
 * items. A set that does not fit is -ENOSPC and changes nothing; deleting
 * frees the space for reuse (blocks are coalesced, so set/delete churn does
 * not fragment it without bound).
 *
 * Every operation holds the dict's robust lock for its duration (a few
 * hundred nanoseconds plus the copy); it blocks only while another process
 * is inside an operation - for as long as the `timeout` option allows
 * (without a limit by default), after which it fails with -ETIMEDOUT and
 * changes nothing. A process killed in the middle of an update
 * leaves the dict consistent: the next operation rolls the half-done update
 * back (or finds it committed) and goes on.
 *
 * Ownership as for every standalone object (mproc/lock.h). Safe from any
 * thread of any process.
 */
#ifndef MPROC_DICT_H
#define MPROC_DICT_H

#include <stddef.h>

#include "common.h"

MP_BEGIN_DECLS

typedef struct mp_dict mp_dict;

typedef struct mp_dict_options {
  size_t capacity;  /* bytes of keys and values; 0: MP_DICT_DEFAULT_CAPACITY */
  size_t max_items; /* 0: capacity / 32 (at least 16) */
  /* Longest any operation waits for another process's operation (e.g. one
   * stopped by a debugger or SIGSTOP inside it), in every process: seconds
   * as in mproc/common.h, except that 0, the default, waits forever. Past
   * it an operation fails with -ETIMEDOUT. */
  double timeout;
} mp_dict_options;

#define MP_DICT_DEFAULT_CAPACITY ((size_t)1 << 20)
#define MP_DICT_CAPACITY_MAX ((size_t)1 << 32)

/* Create / open. -EINVAL (NULL out, capacity or max_items too large, NaN
 * timeout), and the errors of mp_lock_create / mp_lock_open. */
MP_EXTERN int mp_dict_create(const char *name, const mp_dict_options *opts,
                             mp_dict **out);
MP_EXTERN int mp_dict_open(const char *name, mp_dict **out);

/*
 * d[key] = value (klen >= 1; vlen may be 0). -ENOSPC (full: no room for
 * the bytes or the item; nothing changes), -EMSGSIZE (klen + vlen larger
 * than the capacity: it could never fit), -EINVAL (NULL d or key, klen 0,
 * NULL value with vlen > 0), MP_EOWNERDEAD is never returned (repaired).
 * Every operation below may also fail with -ETIMEDOUT (the `timeout`
 * option), having changed nothing.
 */
MP_EXTERN int mp_dict_set(mp_dict *d, const void *key, size_t klen,
                          const void *value, size_t vlen);

/* Copy d[key] into buf (cap bytes); *vlen receives its length. -ENOENT
 * (Python's KeyError), -EMSGSIZE (cap too small; *vlen is the size needed),
 * -EINVAL. */
MP_EXTERN int mp_dict_get(mp_dict *d, const void *key, size_t klen, void *buf,
                          size_t cap, size_t *vlen);
/* d[key] in a malloc'd buffer the caller frees (non-NULL for an empty
 * value). -ENOENT, -ENOMEM, -EINVAL. */
MP_EXTERN int mp_dict_get_alloc(mp_dict *d, const void *key, size_t klen,
                                void **value, size_t *vlen);
/* del d[key]: 0 or -ENOENT, -EINVAL. */
MP_EXTERN int mp_dict_delete(mp_dict *d, const void *key, size_t klen);
/* 1 / 0, or -EINVAL. */
MP_EXTERN int mp_dict_contains(mp_dict *d, const void *key, size_t klen);
/* Number of items, or -EINVAL. */
MP_EXTERN long mp_dict_len(mp_dict *d);
/* Remove every item. 0 or -EINVAL. */
MP_EXTERN int mp_dict_clear(mp_dict *d);

/*
 * Call cb(key, klen, value, vlen, ctx) for every item of a consistent
 * snapshot (copied under the lock, so cb runs without it and may use the
 * dict). A non-zero return from cb stops the walk and is returned. Order is
 * unspecified. 0, -ENOMEM, -EINVAL.
 */
typedef int (*mp_dict_item_cb)(const void *key, size_t klen, const void *value,
                               size_t vlen, void *ctx);
MP_EXTERN int mp_dict_items(mp_dict *d, mp_dict_item_cb cb, void *ctx);

MP_EXTERN const char *mp_dict_name(const mp_dict *d);
MP_EXTERN int mp_dict_close(mp_dict *d);
MP_EXTERN int mp_dict_destroy(mp_dict *d);

MP_END_DECLS

#endif /* MPROC_DICT_H */
