/*
 * lib/value.c - Value and Array: a typed element array after a small
 * header and an RLock, in a segment of their own. A Value is an Array of
 * length 1. Atomic integer operations use the compiler's __atomic builtins
 * on the element itself, so they need no lock.
 */
#include "internal.h"

#include <errno.h>
#include <stdalign.h>
#include <string.h>

/*
 * The lock is placed so that its mutex, owner and depth and the first
 * element share one cache line (the lock's own read-only head ends the line
 * before): two processes taking turns at "lock, read, write, unlock" then
 * pass one line between their CPUs, not two: about twice the contended
 * increments/s. The object starts on a cache line (segment.c).
 */
struct array_state {
  struct mp__obj head;
  char typecode;
  uint8_t raw;
  uint16_t itemsize;
  uint32_t reserved_;
  uint64_t length;
  unsigned char pad_[32];
  mp_rlock lock;
  alignas(8) unsigned char data[];
};
_Static_assert(offsetof(struct array_state, lock) % 64 == 64 - 8, "lock");
_Static_assert(offsetof(struct array_state, data) % 64 == 64 - 8,
               "the first 8-byte element shares the lock's line");

static const struct {
  char code;
  uint8_t size;
  uint8_t is_signed; /* 2: not an integer */
} types[] = {
    {'b', 1, 1}, {'B', 1, 0}, {'h', 2, 1},
    {'H', 2, 0}, {'i', 4, 1}, {'I', 4, 0},
    {'l', sizeof(long), 1}, {'L', sizeof(long), 0}, {'q', 8, 1},
    {'Q', 8, 0}, {'f', sizeof(float), 2}, {'d', sizeof(double), 2},
    {'c', 1, 2},
};

static int type_index(char c) {
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (types[i].code == c)
      return (int)i;
  return -1;
}

size_t mp_typecode_size(char c) {
  int i = type_index(c);
  return i < 0 ? 0 : types[i].size;
}

static struct array_state *array(const void *a) {
  return (struct array_state *)mp__obj_check(a, MP__KIND_ARRAY);
}

/* A Value is an Array of one element. */
static struct array_state *value(const void *v) {
  struct array_state *a = array(v);
  return a && a->length == 1 ? a : NULL;
}

struct init_arg {
  char typecode;
  size_t length;
  const void *init;
  unsigned flags;
};

static int init(void *obj, void *arg) {
  struct array_state *a = obj;
  struct init_arg *in = arg;
  a->typecode = in->typecode;
  a->itemsize = (uint16_t)mp_typecode_size(in->typecode);
  a->length = in->length;
  a->raw = (in->flags & MP_VALUE_RAW) != 0;
  if (!a->raw) {
    int rc = mp_rlock_init(&a->lock);
    if (rc < 0)
      return rc;
  }
  if (in->init)
    memcpy(a->data, in->init, a->length * a->itemsize);
  mp__obj_init(a, MP__KIND_ARRAY);
  return 0;
}

int mp_array_create(const char *name, char typecode, size_t length,
                    const void *initial, unsigned flags, mp_array **out) {
  struct init_arg in = {typecode, length, initial, flags};
  size_t size = mp_typecode_size(typecode);
  if (out)
    *out = NULL;
  if (!out || !size || !length || (flags & ~MP_VALUE_RAW))
    return -EINVAL;
  if (length > (SIZE_MAX - sizeof(struct array_state)) / size)
    return -ENOSPC;
  return mp__obj_create(name, MP__KIND_ARRAY,
                        sizeof(struct array_state) + length * size, init, &in,
                        (void **)out);
}

int mp_value_create(const char *name, char typecode, const void *initial,
                    unsigned flags, mp_value **out) {
  return mp_array_create(name, typecode, 1, initial, flags, (mp_array **)out);
}

int mp_value_open(const char *name, mp_value **out) {
  int rc = mp__seg_open(name, MP__KIND_ARRAY, (void **)out);
  if (rc == 0 && !value(*out)) {
    mp__seg_close(*out);
    *out = NULL;
    rc = MP_EKIND; /* an Array of more than one element */
  }
  return rc;
}

size_t mp_array_length(const mp_array *ap) {
  struct array_state *a = array(ap);
  return a ? a->length : 0;
}

char mp_array_typecode(const mp_array *ap) {
  struct array_state *a = array(ap);
  return a ? a->typecode : 0;
}

size_t mp_array_itemsize(const mp_array *ap) {
  struct array_state *a = array(ap);
  return a ? a->itemsize : 0;
}

/* Copy count elements at start to (write: from) buf, under the lock. */
static int copy(struct array_state *a, size_t start, size_t count, void *buf,
                bool write) {
  if (start > a->length || count > a->length - start)
    return -ERANGE;
  /* A caller inside a compound update (get_lock held) needs no re-acquire. */
  bool lock = !a->raw && !mp__lock_held(&a->lock);
  int rc = lock ? mp_rlock_acquire(&a->lock, MP_FOREVER) : 0;
  if (!MP_ACQUIRED(rc))
    return rc;
  unsigned char *p = a->data + start * a->itemsize;
  size_t n = count * a->itemsize;
  void *dst = write ? p : buf;
  const void *src = write ? buf : p;
  if (n == 8) { /* one element of the common sizes: no library call */
    uint64_t t;
    memcpy(&t, src, 8);
    memcpy(dst, &t, 8);
  } else if (n == 4) {
    uint32_t t;
    memcpy(&t, src, 4);
    memcpy(dst, &t, 4);
  } else if (n) {
    memmove(dst, src, n);
  }
  if (lock)
    mp_rlock_release(&a->lock);
  return rc;
}

int mp_array_get(mp_array *ap, size_t i, void *out) {
  struct array_state *a = array(ap);
  return a && out ? copy(a, i, 1, out, false) : -EINVAL;
}

int mp_array_set(mp_array *ap, size_t i, const void *in) {
  struct array_state *a = array(ap);
  return a && in ? copy(a, i, 1, (void *)in, true) : -EINVAL;
}

int mp_array_read(mp_array *ap, size_t start, size_t count, void *out) {
  struct array_state *a = array(ap);
  return a && (out || !count) ? copy(a, start, count, out, false) : -EINVAL;
}

int mp_array_write(mp_array *ap, size_t start, size_t count, const void *in) {
  struct array_state *a = array(ap);
  return a && (in || !count) ? copy(a, start, count, (void *)in, true)
                              : -EINVAL;
}

void *mp_array_data(mp_array *ap) {
  struct array_state *a = array(ap);
  return a ? a->data : NULL;
}

mp_rlock *mp_array_get_lock(mp_array *ap) {
  struct array_state *a = array(ap);
  return a && !a->raw ? &a->lock : NULL;
}

MP__OBJ_LIFECYCLE(mp_array, mp_array, MP__KIND_ARRAY, NULL)

/* ---- Value ------------------------------------------------------------------ */

int mp_value_get(mp_value *v, void *out) {
  struct array_state *a = value(v);
  return a && out ? copy(a, 0, 1, out, false) : -EINVAL;
}

int mp_value_set(mp_value *v, const void *in) {
  struct array_state *a = value(v);
  return a && in ? copy(a, 0, 1, (void *)in, true) : -EINVAL;
}

char mp_value_typecode(const mp_value *v) {
  struct array_state *a = value(v);
  return a ? a->typecode : 0;
}

void *mp_value_ptr(mp_value *v) {
  struct array_state *a = value(v);
  return a ? a->data : NULL;
}

mp_rlock *mp_value_get_lock(mp_value *v) {
  struct array_state *a = value(v);
  return a && !a->raw ? &a->lock : NULL;
}

const char *mp_value_name(const mp_value *v) { return mp_array_name((const mp_array *)v); }
int mp_value_close(mp_value *v) { return mp_array_close((mp_array *)v); }
int mp_value_destroy(mp_value *v) { return mp_array_destroy((mp_array *)v); }

enum atomic_op { ADD, XCHG, CAS };

/* The element as int64_t, sign- or zero-extended from its width. */
static int64_t widen(int t, uint64_t bits) {
  unsigned width = types[t].size * 8;
  if (width == 64)
    return (int64_t)bits;
  uint64_t mask = (1ull << width) - 1;
  bits &= mask;
  if (types[t].is_signed && (bits >> (width - 1)))
    bits |= ~mask;
  return (int64_t)bits;
}

#define ATOMIC_OP(T)                                                           \
  do {                                                                         \
    T *p = (T *)a->data, e = (T)*expected;                                     \
    if (op == ADD)                                                             \
      old = (uint64_t)__atomic_fetch_add(p, (T)arg, __ATOMIC_SEQ_CST);         \
    else if (op == XCHG)                                                       \
      old = (uint64_t)__atomic_exchange_n(p, (T)arg, __ATOMIC_SEQ_CST);        \
    else {                                                                     \
      ok = __atomic_compare_exchange_n(p, &e, (T)arg, false,                   \
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);    \
      old = (uint64_t)e;                                                       \
    }                                                                          \
  } while (0)

static int atomic_op(mp_value *v, enum atomic_op op, int64_t arg,
                     int64_t *expected, int64_t *out) {
  struct array_state *a = value(v);
  int t = a ? type_index(a->typecode) : -1;
  if (t < 0 || types[t].is_signed == 2)
    return -EINVAL;
  int64_t unused = 0;
  if (!expected)
    expected = &unused;
  uint64_t old = 0;
  bool ok = true;
  switch (a->itemsize) {
  case 1:
    ATOMIC_OP(uint8_t);
    break;
  case 2:
    ATOMIC_OP(uint16_t);
    break;
  case 4:
    ATOMIC_OP(uint32_t);
    break;
  default:
    ATOMIC_OP(uint64_t);
    break;
  }
  if (out)
    *out = widen(t, old);
  if (op == CAS && !ok) {
    *expected = widen(t, old);
    return -EAGAIN;
  }
  return 0;
}

int mp_value_add(mp_value *v, int64_t delta, int64_t *old) {
  return atomic_op(v, ADD, delta, NULL, old);
}

int mp_value_exchange(mp_value *v, int64_t desired, int64_t *old) {
  return atomic_op(v, XCHG, desired, NULL, old);
}

int mp_value_compare_exchange(mp_value *v, int64_t *expected,
                              int64_t desired) {
  if (!expected)
    return -EINVAL;
  return atomic_op(v, CAS, desired, expected, NULL);
}
