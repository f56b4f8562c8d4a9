/*
 * mproc/value.h - Value and Array (Python's multiprocessing.Value / Array,
 * RawValue / RawArray): typed numbers in shared memory. A Value is an
 * Array of length 1; both share one layout and most functions.
 *
 * Types are Python's typecodes with their C types:
 *   'b' int8_t   'B' uint8_t   'h' int16_t  'H' uint16_t  'i' int32_t
 *   'I' uint32_t 'l' long      'L' unsigned long           'q' int64_t
 *   'Q' uint64_t 'f' float     'd' double   'c' char
 *
 * With a lock (the default, Python's lock=True) each get/set of an element
 * or a slice holds the object's RLock, which mp_*_get_lock() returns for
 * compound updates ("read, add, write" under one acquire, as in the bank
 * balance example). The lock is waited for without a limit; to bound the
 * wait, acquire the lock with a timeout first: a get or set by the lock's
 * holder takes it again without waiting. With MP_VALUE_RAW there is no
 * lock (RawValue). Integer
 * Values also have atomic add, exchange and compare-exchange that need no
 * lock at all.
 *
 * Ownership as for every standalone object (mproc/lock.h): the creator
 * destroys it (the name also goes at its normal exit); other processes that
 * opened it close it. Safe from any thread of any process.
 */
#ifndef MPROC_VALUE_H
#define MPROC_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "lock.h"

MP_BEGIN_DECLS

typedef struct mp_array mp_array;
typedef struct mp_value mp_value;

/* Flag: no lock (RawValue / RawArray). */
#define MP_VALUE_RAW 1u

/* Bytes of one element of typecode c, or 0 for an unknown typecode. */
MP_EXTERN size_t mp_typecode_size(char typecode);

/*
 * Create an Array of `length` (>= 1) elements of `typecode` in a new
 * segment `name` (NULL: generated). init, if not NULL, holds length
 * elements to copy in; else the elements are zero. flags: 0 or
 * MP_VALUE_RAW. -EINVAL (unknown typecode, length 0, unknown flags, NULL
 * out), -ENOSPC (too large), and the errors of mp_lock_create.
 */
MP_EXTERN int mp_array_create(const char *name, char typecode, size_t length,
                              const void *init, unsigned flags,
                              mp_array **out);
/* Map the Array `name`. Errors as mp_lock_open (MP_EKIND for another kind;
 * a Value is an Array of length 1 and opens as either). */
MP_EXTERN int mp_array_open(const char *name, mp_array **out);

MP_EXTERN size_t mp_array_length(const mp_array *a);  /* 0 for NULL */
MP_EXTERN char mp_array_typecode(const mp_array *a);  /* 0 for NULL */
MP_EXTERN size_t mp_array_itemsize(const mp_array *a); /* 0 for NULL */

/* Copy element i out / in (itemsize bytes at out / in). -ERANGE for i out
 * of bounds (Python's IndexError), MP_EOWNERDEAD (done; the lock's holder
 * had died), -EINVAL (NULL). */
MP_EXTERN int mp_array_get(mp_array *a, size_t i, void *out);
MP_EXTERN int mp_array_set(mp_array *a, size_t i, const void *in);

/* Copy count elements from index start out / in, under the lock once.
 * -ERANGE when [start, start + count) is not inside the array, nothing
 * copied; otherwise as mp_array_get. */
MP_EXTERN int mp_array_read(mp_array *a, size_t start, size_t count,
                            void *out);
MP_EXTERN int mp_array_write(mp_array *a, size_t start, size_t count,
                             const void *in);

/* The elements themselves, for direct use (hold the lock for consistency
 * across processes, or use the array raw). NULL for NULL. */
MP_EXTERN void *mp_array_data(mp_array *a);
/* The lock (NULL for a raw array or NULL). */
MP_EXTERN mp_rlock *mp_array_get_lock(mp_array *a);

MP_EXTERN const char *mp_array_name(const mp_array *a);
MP_EXTERN int mp_array_close(mp_array *a);
MP_EXTERN int mp_array_destroy(mp_array *a);

/*
 * Create a Value of `typecode` (init: one element, or NULL for zero);
 * flags 0 or MP_VALUE_RAW. Errors as mp_array_create. mp_value_open maps
 * any Array of length 1.
 */
MP_EXTERN int mp_value_create(const char *name, char typecode, const void *init,
                              unsigned flags, mp_value **out);
MP_EXTERN int mp_value_open(const char *name, mp_value **out);

/* Copy the value out / in (under the lock unless raw). 0, MP_EOWNERDEAD
 * (done; the lock's holder had died), -EINVAL. */
MP_EXTERN int mp_value_get(mp_value *v, void *out);
MP_EXTERN int mp_value_set(mp_value *v, const void *in);

/*
 * Atomic operations on an integer Value (typecodes b B h H i I l L q Q),
 * lock-free, wrapping like C unsigned arithmetic in the element's width.
 * *old (if not NULL) receives the value before, converted to int64_t.
 * -EINVAL for a float or char Value, NULL.
 */
MP_EXTERN int mp_value_add(mp_value *v, int64_t delta, int64_t *old);
MP_EXTERN int mp_value_exchange(mp_value *v, int64_t desired, int64_t *old);
/* Store desired if the value equals *expected: 0; otherwise -EAGAIN and
 * *expected receives the value found. */
MP_EXTERN int mp_value_compare_exchange(mp_value *v, int64_t *expected,
                                        int64_t desired);

MP_EXTERN char mp_value_typecode(const mp_value *v);
MP_EXTERN void *mp_value_ptr(mp_value *v);
MP_EXTERN mp_rlock *mp_value_get_lock(mp_value *v);
MP_EXTERN const char *mp_value_name(const mp_value *v);
MP_EXTERN int mp_value_close(mp_value *v);
MP_EXTERN int mp_value_destroy(mp_value *v);

MP_END_DECLS

#endif /* MPROC_VALUE_H */
