/*
 * mproc/list.h - a list of byte strings in one shared segment: Python's
 * Manager().list() without the server process.
 *
 * Items are byte strings of 0 or more bytes, kept in order; indices follow
 * Python: 0 is the first item, -1 the last, and an index out of range is
 * -ERANGE (Python's IndexError). Appending, setting, and inserting or
 * popping at either end take the same short time whatever the length;
 * inserting or popping in the middle copies the index table (8 bytes per
 * item), as Python's list moves its pointers.
 *
 * Capacity is fixed at creation: bytes of items, and a number of items. An
 * append, insert or set that does not fit is -ENOSPC and changes nothing;
 * popping or replacing an item frees its bytes for reuse (free blocks are
 * coalesced, so set/pop churn does not fragment the space without bound).
 *
 * Every operation holds the list's robust lock for its duration (a few
 * hundred nanoseconds plus the copy); it waits only while another thread or
 * process is inside an operation, at most the list's timeout (options).
 * A process killed in the middle of an update leaves the list consistent:
 * the next operation rolls the half-done update back (or finds it
 * committed) and goes on.
 *
 * Ownership as for every standalone object (mproc/lock.h). Safe from any
 * thread of any process.
 */
#ifndef MPROC_LIST_H
#define MPROC_LIST_H

#include <stddef.h>

#include "common.h"

MP_BEGIN_DECLS

typedef struct mp_list mp_list;

typedef struct mp_list_options {
  size_t capacity;  /* bytes of items; 0: MP_LIST_DEFAULT_CAPACITY */
  size_t max_items; /* 0: capacity / 32 (at least 16) */
  /* Longest any operation waits for another process's operation (e.g. one
   * stopped by a debugger or SIGSTOP inside it), in every process: seconds
   * as in mproc/common.h, except that 0, the default, waits forever. Past
   * it an operation fails with -ETIMEDOUT. */
  double timeout;
} mp_list_options;

#define MP_LIST_DEFAULT_CAPACITY ((size_t)1 << 20)
#define MP_LIST_CAPACITY_MAX ((size_t)1 << 32)
#define MP_LIST_MAX_ITEMS_MAX ((size_t)1 << 30)

/* Create / open. -EINVAL (NULL out, capacity above MP_LIST_CAPACITY_MAX,
 * max_items above MP_LIST_MAX_ITEMS_MAX, NaN timeout), and the errors of
 * mp_lock_create / mp_lock_open. */
MP_EXTERN int mp_list_create(const char *name, const mp_list_options *opts,
                             mp_list **out);
MP_EXTERN int mp_list_open(const char *name, mp_list **out);

/*
 * Every function below that takes the list's lock fails with -ETIMEDOUT,
 * changing nothing, when another process held it longer than the list's
 * timeout; MP_EOWNERDEAD is never returned (the list is repaired).
 */

/* l.append(item) (len may be 0). -ENOSPC (full: no room for the bytes or
 * the item; nothing changes), -EMSGSIZE (len larger than the capacity: it
 * could never fit), -EINVAL (NULL l, NULL item with len > 0), -ETIMEDOUT. */
MP_EXTERN int mp_list_append(mp_list *l, const void *item, size_t len);
/* l.insert(index, item): before the item at index; an index past either
 * end is clamped to it, a negative one counts from the end (Python). The
 * errors of mp_list_append. */
MP_EXTERN int mp_list_insert(mp_list *l, long index, const void *item,
                             size_t len);
/* l[index] = item. -ERANGE (no such index), and the errors of
 * mp_list_append. */
MP_EXTERN int mp_list_set(mp_list *l, long index, const void *item, size_t len);

/* Copy l[index] into buf (cap bytes); *len receives its length. -ERANGE
 * (Python's IndexError), -EMSGSIZE (cap too small; *len is the size
 * needed), -EINVAL (NULL l or len, NULL buf with cap > 0), -ETIMEDOUT. */
MP_EXTERN int mp_list_get(mp_list *l, long index, void *buf, size_t cap,
                          size_t *len);
/* l[index] in a malloc'd buffer the caller frees (non-NULL for an empty
 * item; *item is NULL after a failure). -ERANGE, -ENOMEM, -EINVAL,
 * -ETIMEDOUT. */
MP_EXTERN int mp_list_get_alloc(mp_list *l, long index, void **item,
                                size_t *len);
/* l.pop(index) (-1: the last item) into buf: copies the item as
 * mp_list_get, then removes it. -ERANGE (no such index; an empty list),
 * -EMSGSIZE (cap too small: *len is the size needed and the item stays),
 * -EINVAL, -ETIMEDOUT. */
MP_EXTERN int mp_list_pop(mp_list *l, long index, void *buf, size_t cap,
                          size_t *len);
/* l.pop(index) into a malloc'd buffer the caller frees, as
 * mp_list_get_alloc (-ENOMEM: the item stays). */
MP_EXTERN int mp_list_pop_alloc(mp_list *l, long index, void **item,
                                size_t *len);

/* len(l), or -EINVAL, -ETIMEDOUT. */
MP_EXTERN long mp_list_len(mp_list *l);
/* Remove every item. 0, -EINVAL, -ETIMEDOUT. */
MP_EXTERN int mp_list_clear(mp_list *l);

/*
 * Call cb(index, item, len, ctx) for every item of a consistent snapshot,
 * in order (copied under the lock, so cb runs without it and may use the
 * list). A non-zero return from cb stops the walk and is returned. 0,
 * -ENOMEM, -EINVAL, -ETIMEDOUT.
 */
typedef int (*mp_list_item_cb)(size_t index, const void *item, size_t len,
                               void *ctx);
MP_EXTERN int mp_list_items(mp_list *l, mp_list_item_cb cb, void *ctx);

MP_EXTERN const char *mp_list_name(const mp_list *l);
MP_EXTERN int mp_list_close(mp_list *l);
MP_EXTERN int mp_list_destroy(mp_list *l);

MP_END_DECLS

#endif /* MPROC_LIST_H */
