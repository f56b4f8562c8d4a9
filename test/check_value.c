/* test/check_value.c - Value and Array (and their raw forms): every
 * typecode, atomics, bounds, opening by name from forked and spawned
 * processes, the seeds' square_list and bank balance, bad input. */
#include "tests.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
  char code;
  size_t size;
  int kind; /* 1 signed integer, 0 unsigned integer, 2 not an integer */
} types[] = {
    {'b', 1, 1},
    {'B', 1, 0},
    {'h', 2, 1},
    {'H', 2, 0},
    {'i', 4, 1},
    {'I', 4, 0},
    {'l', sizeof(long), 1},
    {'L', sizeof(unsigned long), 0},
    {'q', 8, 1},
    {'Q', 8, 0},
    {'f', sizeof(float), 2},
    {'d', sizeof(double), 2},
    {'c', 1, 2},
};
#define NTYPES ((int)(sizeof types / sizeof types[0]))
#define NINTS 10 /* the first NTYPES entries up to 'Q' are integers */

/* ---- helpers --------------------------------------------------------------- */

/* Store x truncated to the element's width at p. */
static void put_int(void *p, size_t size, int64_t x) {
  uint64_t u = (uint64_t)x;
  uint8_t u8 = (uint8_t)u;
  uint16_t u16 = (uint16_t)u;
  uint32_t u32 = (uint32_t)u;
  switch (size) {
  case 1:
    memcpy(p, &u8, 1);
    break;
  case 2:
    memcpy(p, &u16, 2);
    break;
  case 4:
    memcpy(p, &u32, 4);
    break;
  default:
    memcpy(p, &u, 8);
    break;
  }
}

/* The element at p, sign- or zero-extended to int64_t. */
static int64_t take_int(const void *p, size_t size, int is_signed) {
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  switch (size) {
  case 1:
    memcpy(&u8, p, 1);
    return is_signed ? (int64_t)(int8_t)u8 : (int64_t)u8;
  case 2:
    memcpy(&u16, p, 2);
    return is_signed ? (int64_t)(int16_t)u16 : (int64_t)u16;
  case 4:
    memcpy(&u32, p, 4);
    return is_signed ? (int64_t)(int32_t)u32 : (int64_t)u32;
  default:
    memcpy(&u64, p, 8);
    return (int64_t)u64;
  }
}

static void set_int(mp_value *v, int t, int64_t x) {
  unsigned char buf[8];
  put_int(buf, types[t].size, x);
  ck_rc(mp_value_set(v, buf), 0);
}

static int64_t get_int(mp_value *v, int t) {
  unsigned char buf[8];
  ck_rc(mp_value_get(v, buf), 0);
  return take_int(buf, types[t].size, types[t].kind == 1);
}

/* Largest and smallest value of integer type t, as int64_t (an unsigned
 * 64-bit maximum reads as -1, as the atomics report it). */
static int64_t type_max(int t) {
  unsigned w = (unsigned)types[t].size * 8;
  if (types[t].kind == 1)
    return (int64_t)((1ull << (w - 1)) - 1);
  return w == 64 ? -1 : (int64_t)((1ull << w) - 1);
}

static int64_t type_min(int t) {
  return types[t].kind == 1 ? -type_max(t) - 1 : 0;
}

/* ---- every typecode -------------------------------------------------------- */

START_TEST(typecode_sizes) {
  for (int t = 0; t < NTYPES; t++)
    ck_assert_uint_eq(mp_typecode_size(types[t].code), types[t].size);
  ck_assert_uint_eq(mp_typecode_size('x'), 0);
  ck_assert_uint_eq(mp_typecode_size('u'), 0);
  ck_assert_uint_eq(mp_typecode_size(0), 0);
}
END_TEST

/* _i: typecode index; both locked and raw, Array and Value, with and
 * without initial values. */
START_TEST(array_every_typecode) {
  int t = _i;
  char code = types[t].code;
  size_t size = types[t].size;
  enum { N = 5 };
  unsigned char init[N * 8], out[N * 8], zero[N * 8] = {0};
  for (size_t i = 0; i < sizeof init; i++)
    init[i] = (unsigned char)(i * 37 + 11);
  for (int raw = 0; raw < 2; raw++) {
    unsigned flags = raw ? MP_VALUE_RAW : 0;
    mp_array *a;
    ck_rc(mp_array_create(NULL, code, N, init, flags, &a), 0);
    ck_assert_uint_eq(mp_array_length(a), N);
    ck_assert_int_eq(mp_array_typecode(a), code);
    ck_assert_uint_eq(mp_array_itemsize(a), size);
    ck_assert_ptr_nonnull(mp_array_name(a));
    if (raw)
      ck_assert_ptr_null(mp_array_get_lock(a));
    else
      ck_assert_ptr_nonnull(mp_array_get_lock(a));
    ck_rc(mp_array_read(a, 0, N, out), 0);
    ck_assert_mem_eq(out, init, N * size);
    ck_assert_mem_eq(mp_array_data(a), init, N * size);
    for (size_t i = 0; i < N; i++) {
      ck_rc(mp_array_get(a, i, out), 0);
      ck_assert_mem_eq(out, init + i * size, size);
    }
    ck_rc(mp_array_destroy(a), 0);

    ck_rc(mp_array_create(NULL, code, N, NULL, flags, &a), 0);
    ck_rc(mp_array_read(a, 0, N, out), 0);
    ck_assert_mem_eq(out, zero, N * size);
    ck_rc(mp_array_destroy(a), 0);

    mp_value *v;
    ck_rc(mp_value_create(NULL, code, init, flags, &v), 0);
    ck_assert_int_eq(mp_value_typecode(v), code);
    ck_rc(mp_value_get(v, out), 0);
    ck_assert_mem_eq(out, init, size);
    ck_assert_mem_eq(mp_value_ptr(v), init, size);
    if (raw)
      ck_assert_ptr_null(mp_value_get_lock(v));
    else
      ck_assert_ptr_nonnull(mp_value_get_lock(v));
    /* A Value is an Array of one element. */
    ck_assert_uint_eq(mp_array_length((mp_array *)v), 1);
    ck_assert_uint_eq(mp_array_itemsize((mp_array *)v), size);
    ck_rc(mp_value_set(v, init + size), 0);
    ck_rc(mp_value_get(v, out), 0);
    ck_assert_mem_eq(out, init + size, size);
    ck_rc(mp_value_destroy(v), 0);

    ck_rc(mp_value_create(NULL, code, NULL, flags, &v), 0);
    ck_rc(mp_value_get(v, out), 0);
    ck_assert_mem_eq(out, zero, size);
    ck_rc(mp_value_destroy(v), 0);
  }
}
END_TEST

START_TEST(value_float_double_char) {
  mp_value *f, *d, *c;
  float fv = 3.25f, fo = 0;
  double dv = -1e300, dout = 0;
  char cv = 'z', co = 0;
  ck_rc(mp_value_create(NULL, 'f', &fv, 0, &f), 0);
  ck_rc(mp_value_create(NULL, 'd', &dv, MP_VALUE_RAW, &d), 0);
  ck_rc(mp_value_create(NULL, 'c', &cv, 0, &c), 0);
  ck_rc(mp_value_get(f, &fo), 0);
  ck_rc(mp_value_get(d, &dout), 0);
  ck_rc(mp_value_get(c, &co), 0);
  ck_assert(fo == 3.25f);
  ck_assert(dout == -1e300);
  ck_assert_int_eq(co, 'z');
  fv = -0.5f;
  dv = 6.02e23;
  cv = '\0';
  ck_rc(mp_value_set(f, &fv), 0);
  ck_rc(mp_value_set(d, &dv), 0);
  ck_rc(mp_value_set(c, &cv), 0);
  ck_assert(*(float *)mp_value_ptr(f) == -0.5f);
  ck_assert(*(double *)mp_value_ptr(d) == 6.02e23);
  ck_assert_int_eq(*(char *)mp_value_ptr(c), '\0');
  /* No atomics on non-integers. */
  mp_value *vs[] = {f, d, c};
  for (int i = 0; i < 3; i++) {
    int64_t old = 1234, exp = 0;
    ck_rc(mp_value_add(vs[i], 1, &old), -EINVAL);
    ck_rc(mp_value_exchange(vs[i], 1, &old), -EINVAL);
    ck_rc(mp_value_compare_exchange(vs[i], &exp, 1), -EINVAL);
    ck_assert_int_eq(old, 1234);
  }
  ck_assert(*(float *)mp_value_ptr(f) == -0.5f); /* untouched */
  ck_rc(mp_value_destroy(f), 0);
  ck_rc(mp_value_destroy(d), 0);
  ck_rc(mp_value_destroy(c), 0);
}
END_TEST

/* ---- atomics ----------------------------------------------------------------- */

/* _i: integer typecode index; locked and raw. */
START_TEST(atomics_every_integer_type) {
  int t = _i;
  unsigned w = (unsigned)types[t].size * 8;
  int64_t max = type_max(t), min = type_min(t), old;
  for (int raw = 0; raw < 2; raw++) {
    mp_value *v;
    ck_rc(mp_value_create(NULL, types[t].code, NULL, raw ? MP_VALUE_RAW : 0,
                          &v),
          0);
    /* add: wraps at the type's width; *old is the value before. */
    ck_rc(mp_value_add(v, 5, &old), 0);
    ck_assert_int_eq(old, 0);
    ck_assert_int_eq(get_int(v, t), 5);
    ck_rc(mp_value_add(v, -2, NULL), 0);
    ck_assert_int_eq(get_int(v, t), 3);
    set_int(v, t, max);
    ck_rc(mp_value_add(v, 1, &old), 0);
    ck_assert_int_eq(old, max);
    ck_assert_int_eq(get_int(v, t), min);
    ck_rc(mp_value_add(v, -1, &old), 0);
    ck_assert_int_eq(old, min);
    ck_assert_int_eq(get_int(v, t), max);
    if (w < 64) { /* a delta wider than the element wraps too */
      set_int(v, t, 0);
      ck_rc(mp_value_add(v, (int64_t)(1ull << w) + 3, &old), 0);
      ck_assert_int_eq(get_int(v, t), 3);
    }
    /* exchange, and *old sign- or zero-extended from the width. */
    int64_t neg5 = types[t].kind == 1 ? -5 : (w == 64 ? -5 : max - 4);
    set_int(v, t, neg5);
    ck_rc(mp_value_exchange(v, 7, &old), 0);
    ck_assert_int_eq(old, neg5);
    ck_assert_int_eq(get_int(v, t), 7);
    ck_rc(mp_value_exchange(v, 8, NULL), 0);
    ck_assert_int_eq(get_int(v, t), 8);
    if (w < 64) {
      ck_rc(mp_value_exchange(v, (int64_t)(1ull << w) + 9, &old), 0);
      ck_assert_int_eq(old, 8);
      ck_assert_int_eq(get_int(v, t), 9);
    }
    /* compare_exchange: success stores; failure reports what it found. */
    set_int(v, t, 10);
    int64_t exp = 11;
    ck_rc(mp_value_compare_exchange(v, &exp, 12), -EAGAIN);
    ck_assert_int_eq(exp, 10);
    ck_assert_int_eq(get_int(v, t), 10);
    exp = 10;
    ck_rc(mp_value_compare_exchange(v, &exp, 12), 0);
    ck_assert_int_eq(get_int(v, t), 12);
    set_int(v, t, max);
    exp = 0;
    ck_rc(mp_value_compare_exchange(v, &exp, 1), -EAGAIN);
    ck_assert_int_eq(exp, max);
    if (types[t].kind == 1) {
      set_int(v, t, min);
      exp = 0;
      ck_rc(mp_value_compare_exchange(v, &exp, 1), -EAGAIN);
      ck_assert_int_eq(exp, min); /* sign-extended */
      ck_assert_int_eq(get_int(v, t), min);
    }
    ck_rc(mp_value_compare_exchange(v, NULL, 1), -EINVAL);
    ck_rc(mp_value_destroy(v), 0);
  }
}
END_TEST

/* ---- Array bounds, slices, data ------------------------------------------------ */

START_TEST(array_bounds_and_slices) {
  int32_t init[4] = {10, 20, 30, 40}, x = 0, out[6];
  mp_array *a;
  ck_rc(mp_array_create(NULL, 'i', 4, init, 0, &a), 0);
  ck_rc(mp_array_get(a, 3, &x), 0);
  ck_assert_int_eq(x, 40);
  ck_rc(mp_array_get(a, 4, &x), -ERANGE); /* Python's IndexError */
  ck_rc(mp_array_get(a, SIZE_MAX, &x), -ERANGE);
  x = 99;
  ck_rc(mp_array_set(a, 4, &x), -ERANGE);
  ck_rc(mp_array_set(a, SIZE_MAX, &x), -ERANGE);
  ck_rc(mp_array_set(a, 0, &x), 0);
  ck_rc(mp_array_get(a, 0, &out[0]), 0);
  ck_assert_int_eq(out[0], 99);

  /* Slices inside. */
  ck_rc(mp_array_read(a, 1, 3, out), 0);
  ck_assert_int_eq(out[0], 20);
  ck_assert_int_eq(out[2], 40);
  int32_t two[2] = {-1, -2};
  ck_rc(mp_array_write(a, 2, 2, two), 0);
  ck_rc(mp_array_read(a, 0, 4, out), 0);
  ck_assert_int_eq(out[0], 99);
  ck_assert_int_eq(out[1], 20);
  ck_assert_int_eq(out[2], -1);
  ck_assert_int_eq(out[3], -2);
  ck_rc(mp_array_read(a, 4, 0, out), 0); /* empty slice at the end */
  ck_rc(mp_array_read(a, 0, 0, NULL), 0);
  ck_rc(mp_array_write(a, 1, 0, NULL), 0);

  /* Slices outside: -ERANGE and nothing copied either way. */
  for (int i = 0; i < 6; i++)
    out[i] = 777;
  ck_rc(mp_array_read(a, 1, 4, out), -ERANGE);
  ck_rc(mp_array_read(a, 5, 0, out), -ERANGE);
  ck_rc(mp_array_read(a, 0, 5, out), -ERANGE);
  ck_rc(mp_array_read(a, SIZE_MAX, 2, out), -ERANGE);
  ck_rc(mp_array_read(a, 2, SIZE_MAX, out), -ERANGE);
  for (int i = 0; i < 6; i++)
    ck_assert_int_eq(out[i], 777);
  ck_rc(mp_array_write(a, 3, 2, out), -ERANGE);
  ck_rc(mp_array_write(a, 2, SIZE_MAX, out), -ERANGE);
  ck_rc(mp_array_write(a, SIZE_MAX, 2, out), -ERANGE);
  ck_rc(mp_array_read(a, 0, 4, out), 0);
  ck_assert_int_eq(out[0], 99);
  ck_assert_int_eq(out[1], 20);
  ck_assert_int_eq(out[2], -1);
  ck_assert_int_eq(out[3], -2);

  /* The data pointer is the elements themselves. */
  int32_t *data = mp_array_data(a);
  ck_assert_ptr_nonnull(data);
  data[1] = 1234;
  ck_rc(mp_array_get(a, 1, &x), 0);
  ck_assert_int_eq(x, 1234);
  x = 4321;
  ck_rc(mp_array_set(a, 3, &x), 0);
  ck_assert_int_eq(data[3], 4321);
  ck_rc(mp_array_destroy(a), 0);
}
END_TEST

/* ---- by name: a forked child and a spawned process ------------------------------- */

struct names {
  char value[MP_NAME_MAX + 1];
  char array[MP_NAME_MAX + 1];
  int list[4];
};

/* Opens the Value ('q') and Array ('d', 3) by name, checks what the parent
 * stored, adds 1 to each. Exit status: the step that failed (from 11, so
 * it cannot be taken for a launcher's failure). */
static int value_open_child(void *arg) {
  const struct names *n = arg;
  mp_value *v;
  mp_array *a;
  if (mp_value_open(n->value, &v) != 0)
    return 11;
  if (mp_array_open(n->array, &a) != 0)
    return 12;
  if (mp_value_typecode(v) != 'q' || mp_array_typecode(a) != 'd' ||
      mp_array_length(a) != 3 || !mp_value_get_lock(v) ||
      !mp_array_get_lock(a))
    return 13;
  int64_t q;
  double d[3];
  if (mp_value_get(v, &q) != 0 || q != -42)
    return 14;
  if (mp_array_read(a, 0, 3, d) != 0 || d[0] != 0.5 || d[1] != 1.5 ||
      d[2] != 2.5)
    return 15;
  q += 1;
  for (int i = 0; i < 3; i++)
    d[i] += 1;
  if (mp_value_set(v, &q) != 0 || mp_array_write(a, 0, 3, d) != 0)
    return 16;
  if (mp_value_close(v) != 0 || mp_array_close(a) != 0)
    return 17;
  return 0;
}
MP_REGISTER(value_open_child)

static void open_by_name(mp_start_method method) {
  int64_t q = -42;
  double d[3] = {0.5, 1.5, 2.5};
  mp_value *v;
  mp_array *a;
  ck_rc(mp_value_create(NULL, 'q', &q, 0, &v), 0);
  ck_rc(mp_array_create(NULL, 'd', 3, d, 0, &a), 0);
  struct names n;
  memset(&n, 0, sizeof n);
  snprintf(n.value, sizeof n.value, "%s", mp_value_name(v));
  snprintf(n.array, sizeof n.array, "%s", mp_array_name(a));
  if (method == MP_START_FORK) {
    ck_assert_int_eq(t_wait(t_fork(value_open_child, &n)), 0);
  } else {
    mp_process *p;
    mp_process_options o = {.method = method, .arg_size = sizeof n};
    ck_rc(mp_process_create(value_open_child, &n, &o, &p), 0);
    ck_rc(mp_process_start(p), 0);
    ck_rc(mp_process_join(p, 15.0), 0);
    int code = -1000;
    ck_rc(mp_process_exitcode(p, &code), 0);
    ck_assert_int_eq(code, 0);
    ck_rc(mp_process_close(p), 0);
  }
  ck_rc(mp_value_get(v, &q), 0);
  ck_assert_int_eq(q, -41);
  ck_rc(mp_array_read(a, 0, 3, d), 0);
  ck_assert(d[0] == 1.5 && d[1] == 2.5 && d[2] == 3.5);
  ck_rc(mp_value_destroy(v), 0);
  ck_rc(mp_array_destroy(a), 0);
}

START_TEST(open_by_name_forked) { open_by_name(MP_START_FORK); }
END_TEST

START_TEST(open_by_name_spawned) { open_by_name(MP_START_SPAWN); }
END_TEST

START_TEST(open_kinds) {
  mp_array *a, *a2;
  mp_value *v, *v2;
  mp_lock *lock;
  ck_rc(mp_array_create(NULL, 'h', 3, NULL, 0, &a), 0);
  ck_rc(mp_value_create(NULL, 'h', NULL, MP_VALUE_RAW, &v), 0);
  ck_rc(mp_lock_create(NULL, &lock), 0);
  v2 = (mp_value *)&v2; /* not left as it was */
  ck_rc(mp_value_open(mp_array_name(a), &v2), MP_EKIND);
  ck_assert_ptr_null(v2);
  ck_rc(mp_array_open(mp_value_name(v), &a2), 0); /* length 1 */
  ck_assert_uint_eq(mp_array_length(a2), 1);
  ck_assert_ptr_null(mp_array_get_lock(a2)); /* raw stays raw */
  int16_t x = -300, y = 0;
  ck_rc(mp_array_set(a2, 0, &x), 0);
  ck_rc(mp_value_get(v, &y), 0);
  ck_assert_int_eq(y, -300);
  ck_rc(mp_array_close(a2), 0);
  ck_rc(mp_value_open(mp_value_name(v), &v2), 0);
  ck_assert_int_eq(mp_value_typecode(v2), 'h');
  ck_rc(mp_value_close(v2), 0);
  /* Any Array of length 1 opens as a Value. */
  mp_array *one;
  ck_rc(mp_array_create(NULL, 'Q', 1, NULL, 0, &one), 0);
  ck_rc(mp_value_open(mp_array_name(one), &v2), 0);
  ck_rc(mp_value_add(v2, -1, NULL), 0);
  uint64_t u = 0;
  ck_rc(mp_array_get(one, 0, &u), 0);
  ck_assert_uint_eq(u, UINT64_MAX);
  ck_rc(mp_value_close(v2), 0);
  ck_rc(mp_array_destroy(one), 0);
  ck_rc(mp_value_open(mp_lock_name(lock), &v2), MP_EKIND);
  ck_rc(mp_array_open(mp_lock_name(lock), &a2), MP_EKIND);
  mp_lock *l2;
  ck_rc(mp_lock_open(mp_array_name(a), &l2), MP_EKIND);
  char gone[MP_NAME_MAX + 1];
  snprintf(gone, sizeof gone, "%s", mp_array_name(a));
  ck_rc(mp_array_destroy(a), 0);
  ck_assert(!t_shm_exists(gone));
  ck_rc(mp_array_open(gone, &a2), -ENOENT);
  ck_rc(mp_value_open(gone, &v2), -ENOENT);
  ck_rc(mp_value_destroy(v), 0);
  ck_rc(mp_lock_destroy(lock), 0);
}
END_TEST

/* ---- the lock ------------------------------------------------------------------- */

static int set_value_to_7(void *arg) {
  int32_t x = 7;
  return mp_value_set(arg, &x) == 0 ? 0 : 1;
}

/* get/set take the Value's RLock: a setter in another process waits while
 * we hold it; we can still get/set under it ourselves (recursion). */
START_TEST(get_set_hold_the_lock) {
  mp_value *v;
  int32_t x = 1;
  ck_rc(mp_value_create(NULL, 'i', &x, 0, &v), 0);
  mp_rlock *lock = mp_value_get_lock(v);
  ck_rc(mp_rlock_acquire(lock, MP_FOREVER), 0);
  pid_t pid = t_fork(set_value_to_7, v);
  ck_assert(t_wait_sleeping(pid));
  ck_rc(mp_value_get(v, &x), 0); /* recursive */
  ck_assert_int_eq(x, 1);        /* the child waits */
  x = 2;
  ck_rc(mp_value_set(v, &x), 0);
  ck_rc(mp_rlock_release(lock), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_value_get(v, &x), 0);
  ck_assert_int_eq(x, 7);
  ck_rc(mp_value_destroy(v), 0);
}
END_TEST

struct holder {
  mp_array *a;
  int fds[2];
};

static int hold_array_lock(void *arg) {
  struct holder *h = arg;
  if (mp_rlock_acquire(mp_array_get_lock(h->a), MP_FOREVER) != 0)
    return 1;
  int32_t half = 5;
  ((int32_t *)mp_array_data(h->a))[0] = half; /* a half-done update */
  t_send(h->fds[1]);
  pause();
  return 2;
}

/* A process killed holding the lock: the next get reports MP_EOWNERDEAD
 * and still copies; later calls are plain. */
START_TEST(holder_killed) {
  struct holder h;
  t_pipe(h.fds);
  ck_rc(mp_array_create(NULL, 'i', 2, NULL, 0, &h.a), 0);
  pid_t pid = t_fork(hold_array_lock, &h);
  ck_assert(t_recv(h.fds[0]));
  t_kill(pid);
  int32_t x = 0;
  ck_rc(mp_array_get(h.a, 0, &x), MP_EOWNERDEAD);
  ck_assert_int_eq(x, 5);
  ck_rc(mp_array_get(h.a, 0, &x), 0);
  x = 6;
  ck_rc(mp_array_set(h.a, 1, &x), 0);
  ck_rc(mp_rlock_acquire(mp_array_get_lock(h.a), 0), 0); /* free again */
  ck_rc(mp_rlock_release(mp_array_get_lock(h.a)), 0);
  ck_rc(mp_array_destroy(h.a), 0);
  close(h.fds[0]);
  close(h.fds[1]);
}
END_TEST

/* ---- seed ports ----------------------------------------------------------------- */

/* The seed's square_list: squares of mylist into result, their sum into
 * square_sum, both opened by name (the child may be spawned). */
static int value_square_list(void *arg) {
  const struct names *n = arg;
  mp_array *result;
  mp_value *square_sum;
  if (mp_array_open(n->array, &result) != 0)
    return 21;
  if (mp_value_open(n->value, &square_sum) != 0)
    return 22;
  for (size_t idx = 0; idx < 4; idx++) {
    int32_t sq = n->list[idx] * n->list[idx];
    if (mp_array_set(result, idx, &sq) != 0)
      return 23;
  }
  int32_t r[4], sum = 0;
  if (mp_array_read(result, 0, 4, r) != 0)
    return 24;
  for (int i = 0; i < 4; i++)
    sum += r[i];
  if (mp_value_set(square_sum, &sum) != 0)
    return 25;
  return mp_array_close(result) || mp_value_close(square_sum) ? 26 : 0;
}
MP_REGISTER(value_square_list)

static const mp_start_method methods[] = {MP_START_FORK, MP_START_SPAWN};

START_TEST(seed_square_list) {
  mp_array *result;
  mp_value *square_sum;
  ck_rc(mp_array_create(NULL, 'i', 4, NULL, 0, &result), 0);
  ck_rc(mp_value_create(NULL, 'i', NULL, 0, &square_sum), 0);
  struct names n = {.list = {1, 2, 3, 4}};
  snprintf(n.value, sizeof n.value, "%s", mp_value_name(square_sum));
  snprintf(n.array, sizeof n.array, "%s", mp_array_name(result));
  mp_process *p1;
  mp_process_options o = {.method = methods[_i], .arg_size = sizeof n};
  ck_rc(mp_process_create(value_square_list, &n, &o, &p1), 0);
  ck_rc(mp_process_start(p1), 0);
  ck_rc(mp_process_join(p1, 15.0), 0);
  int code = -1000;
  ck_rc(mp_process_exitcode(p1, &code), 0);
  ck_assert_int_eq(code, 0);
  ck_rc(mp_process_close(p1), 0);
  int32_t r[4], sum;
  ck_rc(mp_array_read(result, 0, 4, r), 0);
  ck_assert_int_eq(r[0], 1);
  ck_assert_int_eq(r[1], 4);
  ck_assert_int_eq(r[2], 9);
  ck_assert_int_eq(r[3], 16);
  ck_rc(mp_value_get(square_sum, &sum), 0);
  ck_assert_int_eq(sum, 30);
  ck_rc(mp_array_destroy(result), 0);
  ck_rc(mp_value_destroy(square_sum), 0);
}
END_TEST

struct bank {
  mp_value *balance;
  int delta;
  int gate; /* read end: both start together */
};

/* lock.acquire(); balance.value = balance.value + delta; lock.release() */
static int bank_locked(void *arg) {
  struct bank *b = arg;
  mp_rlock *lock = mp_value_get_lock(b->balance);
  if (!lock || !t_recv(b->gate))
    return 1;
  for (int i = 0; i < 10000; i++) {
    int32_t x;
    if (mp_rlock_acquire(lock, MP_FOREVER) != 0)
      return 2;
    if (mp_value_get(b->balance, &x) != 0)
      return 3;
    x += b->delta;
    if (mp_value_set(b->balance, &x) != 0)
      return 4;
    if (mp_rlock_release(lock) != 0)
      return 5;
  }
  return 0;
}

static int bank_atomic(void *arg) {
  struct bank *b = arg;
  if (!t_recv(b->gate))
    return 2;
  for (int i = 0; i < 10000; i++)
    if (mp_value_add(b->balance, b->delta, NULL) != 0)
      return 1;
  return 0;
}

/* The seed's perform_transactions() ten times: 10 000 withdrawals and 10 000
 * deposits on Value('i', 100) end at exactly 100, with the Value's lock and
 * with the atomic add. */
START_TEST(seed_bank_balance) {
  int (*workers[])(void *) = {bank_locked, bank_atomic};
  for (int w = 0; w < 2; w++) {
    for (int run = 0; run < 10; run++) {
      int32_t x = 100;
      mp_value *balance;
      ck_rc(mp_value_create(NULL, 'i', &x, 0, &balance), 0);
      int gate[2];
      t_pipe(gate);
      struct bank withdraw = {balance, -1, gate[0]};
      struct bank deposit = {balance, +1, gate[0]};
      pid_t p1 = t_fork(workers[w], &withdraw);
      pid_t p2 = t_fork(workers[w], &deposit);
      t_send(gate[1]);
      t_send(gate[1]);
      ck_assert_int_eq(t_wait(p1), 0);
      ck_assert_int_eq(t_wait(p2), 0);
      ck_rc(mp_value_get(balance, &x), 0);
      ck_assert_msg(x == 100, "%s run %d: final balance = %d",
                    w ? "atomic" : "locked", run, (int)x);
      ck_rc(mp_value_destroy(balance), 0);
      close(gate[0]);
      close(gate[1]);
    }
  }
}
END_TEST

/* ---- threads and processes ------------------------------------------------------ */

struct counters {
  mp_value *sum;  /* 'q', mp_value_add */
  mp_value *cas;  /* 'I', compare-exchange loop */
};

#define ADDS 100000
#define CASES 20000

static void *add_thread(void *arg) {
  struct counters *c = arg;
  for (int i = 0; i < ADDS; i++)
    if (mp_value_add(c->sum, 1, NULL) != 0)
      return (void *)1;
  for (int i = 0; i < CASES; i++) {
    int64_t seen = 0;
    int rc;
    if (mp_value_add(c->cas, 0, &seen) != 0)
      return (void *)2;
    while ((rc = mp_value_compare_exchange(c->cas, &seen, seen + 1)) ==
           -EAGAIN)
      ;
    if (rc != 0)
      return (void *)3;
  }
  return NULL;
}

static int add_process(void *arg) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, add_thread, arg) != 0)
      return 10;
  int bad = 0;
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad |= (int)(intptr_t)r;
  }
  return bad;
}

START_TEST(atomic_add_processes_and_threads) {
  struct counters c;
  ck_rc(mp_value_create(NULL, 'q', NULL, 0, &c.sum), 0);
  ck_rc(mp_value_create(NULL, 'I', NULL, MP_VALUE_RAW, &c.cas), 0);
  pid_t p1 = t_fork(add_process, &c), p2 = t_fork(add_process, &c);
  ck_assert_int_eq(t_wait(p1), 0);
  ck_assert_int_eq(t_wait(p2), 0);
  int64_t sum;
  uint32_t cas;
  ck_rc(mp_value_get(c.sum, &sum), 0);
  ck_rc(mp_value_get(c.cas, &cas), 0);
  ck_assert_int_eq(sum, 2 * 2 * ADDS);
  ck_assert_uint_eq(cas, 2 * 2 * CASES);
  ck_rc(mp_value_destroy(c.sum), 0);
  ck_rc(mp_value_destroy(c.cas), 0);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------ */

START_TEST(bad_input) {
  mp_array *a = (mp_array *)&a;
  mp_value *v = (mp_value *)&v;
  int32_t x = 0;
  ck_rc(mp_array_create(NULL, 'x', 4, NULL, 0, &a), -EINVAL);
  ck_assert_ptr_null(a);
  ck_rc(mp_array_create(NULL, 'u', 4, NULL, 0, &a), -EINVAL);
  ck_rc(mp_array_create(NULL, 0, 4, NULL, 0, &a), -EINVAL);
  ck_rc(mp_array_create(NULL, 'i', 0, NULL, 0, &a), -EINVAL);
  ck_rc(mp_array_create(NULL, 'i', 4, NULL, 2, &a), -EINVAL);
  ck_rc(mp_array_create(NULL, 'i', 4, NULL, ~0u, &a), -EINVAL);
  ck_rc(mp_array_create(NULL, 'i', 4, NULL, 0, NULL), -EINVAL);
  ck_rc(mp_array_create(NULL, 'q', SIZE_MAX, NULL, 0, &a), -ENOSPC);
  ck_rc(mp_array_create(NULL, 'q', SIZE_MAX / 8, NULL, 0, &a), -ENOSPC);
  ck_rc(mp_array_create(NULL, 'b', SIZE_MAX - 4096, NULL, 0, &a), -ENOSPC);
  ck_rc(mp_array_create(NULL, 'b', (size_t)1 << 50, NULL, 0, &a), -ENOSPC);
  ck_rc(mp_array_create("bad", 'i', 4, NULL, 0, &a), -EINVAL);
  ck_rc(mp_value_create(NULL, 'x', NULL, 0, &v), -EINVAL);
  ck_assert_ptr_null(v);
  ck_rc(mp_value_create(NULL, 'i', NULL, 4, &v), -EINVAL);
  ck_rc(mp_value_create(NULL, 'i', NULL, 0, NULL), -EINVAL);
  ck_rc(mp_array_open(NULL, &a), -EINVAL);
  ck_rc(mp_array_open("/mproc-x", NULL), -EINVAL);
  ck_rc(mp_value_open(NULL, &v), -EINVAL);

  /* NULL objects. */
  ck_assert_uint_eq(mp_array_length(NULL), 0);
  ck_assert_int_eq(mp_array_typecode(NULL), 0);
  ck_assert_uint_eq(mp_array_itemsize(NULL), 0);
  ck_assert_ptr_null(mp_array_data(NULL));
  ck_assert_ptr_null(mp_array_get_lock(NULL));
  ck_assert_ptr_null(mp_array_name(NULL));
  ck_rc(mp_array_get(NULL, 0, &x), -EINVAL);
  ck_rc(mp_array_set(NULL, 0, &x), -EINVAL);
  ck_rc(mp_array_read(NULL, 0, 1, &x), -EINVAL);
  ck_rc(mp_array_write(NULL, 0, 1, &x), -EINVAL);
  ck_rc(mp_array_close(NULL), 0);
  ck_rc(mp_array_destroy(NULL), 0);
  ck_assert_int_eq(mp_value_typecode(NULL), 0);
  ck_assert_ptr_null(mp_value_ptr(NULL));
  ck_assert_ptr_null(mp_value_get_lock(NULL));
  ck_assert_ptr_null(mp_value_name(NULL));
  ck_rc(mp_value_get(NULL, &x), -EINVAL);
  ck_rc(mp_value_set(NULL, &x), -EINVAL);
  int64_t old = 0;
  ck_rc(mp_value_add(NULL, 1, &old), -EINVAL);
  ck_rc(mp_value_exchange(NULL, 1, &old), -EINVAL);
  ck_rc(mp_value_compare_exchange(NULL, &old, 1), -EINVAL);
  ck_rc(mp_value_close(NULL), 0);
  ck_rc(mp_value_destroy(NULL), 0);

  /* NULL buffers. */
  ck_rc(mp_array_create(NULL, 'i', 4, NULL, 0, &a), 0);
  ck_rc(mp_value_create(NULL, 'i', NULL, 0, &v), 0);
  ck_rc(mp_array_get(a, 0, NULL), -EINVAL);
  ck_rc(mp_array_set(a, 0, NULL), -EINVAL);
  ck_rc(mp_array_read(a, 0, 1, NULL), -EINVAL);
  ck_rc(mp_array_write(a, 0, 1, NULL), -EINVAL);
  ck_rc(mp_value_get(v, NULL), -EINVAL);
  ck_rc(mp_value_set(v, NULL), -EINVAL);

  /* Names: taken, closed twice. */
  mp_array *b;
  ck_rc(mp_array_create(mp_array_name(a), 'i', 4, NULL, 0, &b), -EEXIST);
  ck_rc(mp_array_open(mp_array_name(a), &b), 0);
  ck_rc(mp_array_close(b), 0);
  ck_rc(mp_array_close(b), -EINVAL);
  mp_value *w;
  ck_rc(mp_value_open(mp_value_name(v), &w), 0);
  ck_rc(mp_value_close(w), 0);
  ck_rc(mp_value_close(w), -EINVAL);
  ck_rc(mp_array_destroy(a), 0);
  ck_rc(mp_value_destroy(v), 0);
}
END_TEST

Suite *value_suite(void) {
  Suite *s = suite_create("value");
  TCase *tc = tcase_create("types");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, typecode_sizes);
  tcase_add_loop_test(tc, array_every_typecode, 0, NTYPES);
  tcase_add_test(tc, value_float_double_char);
  tcase_add_loop_test(tc, atomics_every_integer_type, 0, NINTS);
  tcase_add_test(tc, array_bounds_and_slices);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);

  tc = tcase_create("processes");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, open_by_name_forked);
  tcase_add_test(tc, open_by_name_spawned);
  tcase_add_test(tc, open_kinds);
  tcase_add_test(tc, get_set_hold_the_lock);
  tcase_add_test(tc, holder_killed);
  tcase_add_loop_test(tc, seed_square_list, 0, 2);
  tcase_add_test(tc, seed_bank_balance);
  tcase_add_test(tc, atomic_add_processes_and_threads);
  suite_add_tcase(s, tc);
  return s;
}
