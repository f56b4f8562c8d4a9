/* test/check_dict.c - the shared dict: operations, capacity (full is
 * -ENOSPC and changes nothing; deletes make room; churn does not fragment
 * without bound), tombstones, items() snapshots, processes sharing a dict,
 * processes killed with SIGKILL mid-update, bad input. */
#include "tests.h"

#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers --------------------------------------------------------------- */

/* ck_rc for hot loops: a passing ck_assert costs Check a write to its
 * message file, so only a failure reaches Check. */
#define loop_rc(expr, expected)                                                \
  do {                                                                         \
    int lrc_ = (expr), lex_ = (expected);                                      \
    if (lrc_ != lex_)                                                          \
      ck_assert_msg(0, "%s returned %d (%s), expected %d (%s)", #expr, lrc_,   \
                    mp_err_name(lrc_), lex_, mp_err_name(lex_));               \
  } while (0)

static mp_dict *new_dict(size_t capacity, size_t max_items) {
  mp_dict_options o = {.capacity = capacity, .max_items = max_items};
  mp_dict *d;
  ck_rc(mp_dict_create(NULL, &o, &d), 0);
  return d;
}

static int keyname(char *buf, uint32_t k) {
  return snprintf(buf, 24, "key-%u", (unsigned)k);
}

/* Key id of "key-N", or UINT32_MAX. */
static uint32_t key_id(const void *key, size_t klen) {
  char buf[24];
  if (klen < 5 || klen >= sizeof buf)
    return UINT32_MAX;
  memcpy(buf, key, klen);
  buf[klen] = '\0';
  char *end;
  unsigned long k = strtoul(buf + 4, &end, 10);
  return strncmp(buf, "key-", 4) == 0 && *end == '\0' ? (uint32_t)k
                                                       : UINT32_MAX;
}

/* Self-describing values: {key id, version, length} (3 x uint32) then a
 * fill byte made of the key and version, so a torn or misplaced value is
 * detected. */
#define VHDR 12u
#define VMAX 512u

static void make_value(unsigned char *buf, uint32_t k, uint32_t ver,
                       uint32_t len) {
  memcpy(buf, &k, 4);
  memcpy(buf + 4, &ver, 4);
  memcpy(buf + 8, &len, 4);
  memset(buf + VHDR, (unsigned char)(k * 7 + ver * 13), len - VHDR);
}

/* Is v a whole value of key k? Its version goes to *ver. */
static bool value_ok(uint32_t k, const void *v, size_t vlen, uint32_t *ver) {
  const unsigned char *b = v;
  uint32_t kk, vv, len;
  if (vlen < VHDR)
    return false;
  memcpy(&kk, b, 4);
  memcpy(&vv, b + 4, 4);
  memcpy(&len, b + 8, 4);
  if (kk != k || len != vlen)
    return false;
  for (uint32_t i = VHDR; i < len; i++)
    if (b[i] != (unsigned char)(k * 7 + vv * 13))
      return false;
  if (ver)
    *ver = vv;
  return true;
}

static int set_value(mp_dict *d, uint32_t k, uint32_t ver, uint32_t len) {
  char key[24];
  unsigned char v[VMAX];
  make_value(v, k, ver, len);
  return mp_dict_set(d, key, (size_t)keyname(key, k), v, len);
}

/* 0 and the version of k (-ENOENT when absent), or 1 for a corrupt value. */
static int get_version(mp_dict *d, uint32_t k, uint32_t *ver) {
  char key[24];
  unsigned char v[VMAX];
  size_t n = 0;
  int rc = mp_dict_get(d, key, (size_t)keyname(key, k), v, sizeof v, &n);
  if (rc != 0)
    return rc;
  return value_ok(k, v, n, ver) ? 0 : 1;
}

/* items(): every value whole, no key twice. */
struct walk {
  unsigned count, bad, dup;
  unsigned char seen[1024];
  uint32_t ver[1024];
};

static int walk_cb(const void *key, size_t klen, const void *value,
                   size_t vlen, void *ctx) {
  struct walk *w = ctx;
  uint32_t k = key_id(key, klen), ver = 0;
  w->count++;
  if (k >= 1024 || !value_ok(k, value, vlen, &ver)) {
    w->bad++;
    return 0;
  }
  w->dup += w->seen[k];
  w->seen[k] = 1;
  w->ver[k] = ver;
  return 0;
}

static void walk(mp_dict *d, struct walk *w) {
  memset(w, 0, sizeof *w);
  ck_rc(mp_dict_items(d, walk_cb, w), 0);
  ck_assert_msg(w->bad == 0, "items(): %u torn or misplaced values", w->bad);
  ck_assert_msg(w->dup == 0, "items(): %u keys seen twice", w->dup);
}

/* ---- basics ------------------------------------------------------------------ */

START_TEST(set_get_delete) {
  mp_dict *d = new_dict(0, 0);
  char buf[64];
  size_t n = 0;
  void *p;
  ck_rc(mp_dict_set(d, "a", 1, "one", 3), 0);
  ck_rc(mp_dict_set(d, "b", 1, "two", 3), 0);
  ck_rc(mp_dict_get(d, "a", 1, buf, sizeof buf, &n), 0);
  ck_assert_uint_eq(n, 3);
  ck_assert_mem_eq(buf, "one", 3);
  ck_rc(mp_dict_contains(d, "a", 1), 1);
  ck_rc(mp_dict_contains(d, "c", 1), 0);
  ck_assert_int_eq(mp_dict_len(d), 2);
  ck_rc(mp_dict_get_alloc(d, "b", 1, &p, &n), 0);
  ck_assert_uint_eq(n, 3);
  ck_assert_mem_eq(p, "two", 3);
  free(p);
  ck_rc(mp_dict_get(d, "c", 1, buf, sizeof buf, &n), -ENOENT);
  p = buf;
  ck_rc(mp_dict_get_alloc(d, "c", 1, &p, &n), -ENOENT);
  ck_assert_ptr_null(p);
  ck_rc(mp_dict_delete(d, "a", 1), 0);
  ck_rc(mp_dict_delete(d, "a", 1), -ENOENT);
  ck_rc(mp_dict_contains(d, "a", 1), 0);
  ck_rc(mp_dict_get(d, "a", 1, buf, sizeof buf, &n), -ENOENT);
  ck_assert_int_eq(mp_dict_len(d), 1);
  ck_rc(mp_dict_get(d, "b", 1, buf, sizeof buf, &n), 0);
  ck_assert_mem_eq(buf, "two", 3);
  char name[MP_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", mp_dict_name(d));
  ck_assert(t_shm_exists(name));
  ck_rc(mp_dict_destroy(d), 0);
  ck_assert(!t_shm_exists(name));
}
END_TEST

/* Overwrites shrink and grow the value; other items are untouched. */
START_TEST(overwrite_sizes) {
  mp_dict *d = new_dict(64 * 1024, 0);
  static unsigned char v[9000], out[9000];
  static const size_t sizes[] = {100, 3, 5000, 0, 70, 8999, 1, 4096};
  ck_rc(mp_dict_set(d, "before", 6, "B", 1), 0);
  ck_rc(mp_dict_set(d, "after", 5, "A", 1), 0);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (size_t i = 0; i < sizes[s]; i++)
      v[i] = (unsigned char)(i * 3 + s);
    ck_rc(mp_dict_set(d, "key", 3, v, sizes[s]), 0);
    size_t n = 12345;
    ck_rc(mp_dict_get(d, "key", 3, out, sizeof out, &n), 0);
    ck_assert_uint_eq(n, sizes[s]);
    ck_assert_mem_eq(out, v, sizes[s]);
    ck_assert_int_eq(mp_dict_len(d), 3);
  }
  size_t n;
  ck_rc(mp_dict_get(d, "before", 6, out, sizeof out, &n), 0);
  ck_assert(n == 1 && out[0] == 'B');
  ck_rc(mp_dict_get(d, "after", 5, out, sizeof out, &n), 0);
  ck_assert(n == 1 && out[0] == 'A');
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

struct vlens {
  unsigned count;
  size_t total;
};

static int count_vlens(const void *key, size_t klen, const void *value,
                       size_t vlen, void *ctx) {
  (void)key;
  (void)klen;
  (void)value;
  struct vlens *c = ctx;
  c->count++;
  c->total += vlen;
  return 0;
}

START_TEST(empty_values) {
  mp_dict *d = new_dict(4096, 16);
  char buf[8];
  size_t n = 99;
  void *p = NULL;
  ck_rc(mp_dict_set(d, "e", 1, NULL, 0), 0);
  ck_rc(mp_dict_set(d, "f", 1, "x", 0), 0);
  ck_rc(mp_dict_contains(d, "e", 1), 1);
  ck_rc(mp_dict_get(d, "e", 1, NULL, 0, &n), 0);
  ck_assert_uint_eq(n, 0);
  n = 99;
  ck_rc(mp_dict_get(d, "f", 1, buf, sizeof buf, &n), 0);
  ck_assert_uint_eq(n, 0);
  n = 99;
  ck_rc(mp_dict_get_alloc(d, "e", 1, &p, &n), 0);
  ck_assert_ptr_nonnull(p); /* non-NULL for an empty value */
  ck_assert_uint_eq(n, 0);
  free(p);
  struct vlens c = {0, 0};
  ck_rc(mp_dict_items(d, count_vlens, &c), 0);
  ck_assert_uint_eq(c.count, 2);
  ck_assert_uint_eq(c.total, 0);
  ck_rc(mp_dict_set(d, "e", 1, "full", 4), 0); /* and back */
  ck_rc(mp_dict_get(d, "e", 1, buf, sizeof buf, &n), 0);
  ck_assert_uint_eq(n, 4);
  ck_rc(mp_dict_set(d, "e", 1, NULL, 0), 0);
  ck_rc(mp_dict_get(d, "e", 1, buf, sizeof buf, &n), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(mp_dict_len(d), 2);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* Keys are byte strings: NUL bytes are part of them. */
START_TEST(binary_keys) {
  static const struct {
    const char *k;
    size_t len;
  } keys[] = {{"a", 1}, {"a\0", 2}, {"a\0b", 3}, {"a\0c", 3},
              {"\0", 1}, {"\0\0", 2}, {"\xff\0\x01", 3}};
  enum { NK = sizeof keys / sizeof keys[0] };
  mp_dict *d = new_dict(4096, 0);
  for (int i = 0; i < NK; i++) {
    unsigned char v[3] = {0, (unsigned char)i, 0}; /* NULs in values too */
    ck_rc(mp_dict_set(d, keys[i].k, keys[i].len, v, sizeof v), 0);
  }
  ck_assert_int_eq(mp_dict_len(d), NK);
  for (int i = 0; i < NK; i++) {
    unsigned char v[8];
    size_t n;
    ck_rc(mp_dict_get(d, keys[i].k, keys[i].len, v, sizeof v, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(v[0] == 0 && v[1] == i && v[2] == 0);
  }
  ck_rc(mp_dict_delete(d, "a\0b", 3), 0);
  ck_rc(mp_dict_contains(d, "a\0b", 3), 0);
  ck_rc(mp_dict_contains(d, "a\0c", 3), 1);
  ck_rc(mp_dict_contains(d, "a", 1), 1);
  ck_rc(mp_dict_contains(d, "a\0", 2), 1);
  ck_rc(mp_dict_contains(d, "a\0\0", 3), 0);
  ck_assert_int_eq(mp_dict_len(d), NK - 1);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

START_TEST(small_buffer) {
  mp_dict *d = new_dict(4096, 0);
  char buf[16] = "untouched";
  size_t n = 0;
  ck_rc(mp_dict_set(d, "k", 1, "0123456789", 10), 0);
  ck_rc(mp_dict_get(d, "k", 1, buf, 9, &n), -EMSGSIZE);
  ck_assert_uint_eq(n, 10); /* the size needed */
  n = 0;
  ck_rc(mp_dict_get(d, "k", 1, NULL, 0, &n), -EMSGSIZE);
  ck_assert_uint_eq(n, 10);
  ck_rc(mp_dict_get(d, "k", 1, buf, 10, &n), 0);
  ck_assert_mem_eq(buf, "0123456789", 10);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

START_TEST(clear_and_reuse) {
  mp_dict *d = new_dict(8192, 128);
  for (uint32_t k = 0; k < 100; k++)
    ck_rc(set_value(d, k, 1, 40), 0);
  ck_assert_int_eq(mp_dict_len(d), 100);
  ck_rc(mp_dict_clear(d), 0);
  ck_assert_int_eq(mp_dict_len(d), 0);
  uint32_t ver;
  for (uint32_t k = 0; k < 100; k++)
    ck_rc(get_version(d, k, &ver), -ENOENT);
  struct walk w;
  walk(d, &w);
  ck_assert_uint_eq(w.count, 0);
  /* All the bytes came back: one item of exactly the capacity fits. */
  static unsigned char big[8192];
  ck_rc(mp_dict_set(d, "k", 1, big, sizeof big - 1), 0);
  ck_rc(mp_dict_clear(d), 0);
  ck_rc(mp_dict_clear(d), 0); /* twice: still fine */
  for (uint32_t k = 0; k < 100; k++)
    ck_rc(set_value(d, k, 2, 40), 0);
  for (uint32_t k = 0; k < 100; k++) {
    ck_rc(get_version(d, k, &ver), 0);
    ck_assert_uint_eq(ver, 2);
  }
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* ---- items ------------------------------------------------------------------- */

START_TEST(items_sees_every_item) {
  mp_dict *d = new_dict(0, 0);
  struct walk w;
  walk(d, &w);
  ck_assert_uint_eq(w.count, 0);
  for (uint32_t k = 0; k < 200; k++)
    ck_rc(set_value(d, k, k + 1, VHDR + k % 50), 0);
  walk(d, &w);
  ck_assert_uint_eq(w.count, 200);
  for (uint32_t k = 0; k < 200; k++) {
    ck_assert(w.seen[k]);
    ck_assert_uint_eq(w.ver[k], k + 1);
  }
  ck_rc(mp_dict_items(d, NULL, NULL), -EINVAL);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

struct meddle {
  mp_dict *d;
  unsigned calls, errors;
};

/* Deletes the item it is shown and adds another: the walk goes on over
 * the snapshot. */
static int meddle_cb(const void *key, size_t klen, const void *value,
                     size_t vlen, void *ctx) {
  struct meddle *m = ctx;
  uint32_t k = key_id(key, klen);
  m->calls++;
  if (k >= 200 || !value_ok(k, value, vlen, NULL))
    m->errors++;
  if (mp_dict_delete(m->d, key, klen) != 0)
    m->errors++;
  if (set_value(m->d, k + 500, 7, 20) != 0)
    m->errors++;
  if (mp_dict_len(m->d) != 200)
    m->errors++;
  return 0;
}

START_TEST(items_cb_may_use_dict) {
  mp_dict *d = new_dict(0, 0);
  for (uint32_t k = 0; k < 200; k++)
    ck_rc(set_value(d, k, 1, 30), 0);
  struct meddle m = {d, 0, 0};
  ck_rc(mp_dict_items(d, meddle_cb, &m), 0);
  ck_assert_uint_eq(m.calls, 200); /* the snapshot, none of the new keys */
  ck_assert_uint_eq(m.errors, 0);
  struct walk w;
  walk(d, &w);
  ck_assert_uint_eq(w.count, 200);
  for (uint32_t k = 0; k < 200; k++)
    ck_assert(!w.seen[k] && w.seen[k + 500]);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

struct stopper {
  unsigned calls, stop_at;
  int ret;
};

static int stop_cb(const void *key, size_t klen, const void *value,
                   size_t vlen, void *ctx) {
  (void)key;
  (void)klen;
  (void)value;
  (void)vlen;
  struct stopper *s = ctx;
  return ++s->calls == s->stop_at ? s->ret : 0;
}

START_TEST(items_stops_on_nonzero) {
  mp_dict *d = new_dict(0, 0);
  for (uint32_t k = 0; k < 20; k++)
    ck_rc(set_value(d, k, 1, 16), 0);
  struct stopper s = {0, 5, 42};
  ck_rc(mp_dict_items(d, stop_cb, &s), 42);
  ck_assert_uint_eq(s.calls, 5);
  s = (struct stopper){0, 1, -7};
  ck_rc(mp_dict_items(d, stop_cb, &s), -7);
  ck_assert_uint_eq(s.calls, 1);
  s = (struct stopper){0, 21, 1}; /* never reached */
  ck_rc(mp_dict_items(d, stop_cb, &s), 0);
  ck_assert_uint_eq(s.calls, 20);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* ---- capacity ------------------------------------------------------------------ */

/* Every item present with its version: the dict did not change. */
static void expect_versions(mp_dict *d, uint32_t n, const uint32_t *vers) {
  ck_assert_int_eq(mp_dict_len(d), n);
  for (uint32_t k = 0; k < n; k++) {
    uint32_t ver = 0;
    ck_rc(get_version(d, k, &ver), 0);
    ck_assert_uint_eq(ver, vers[k]);
  }
}

START_TEST(full_by_bytes) {
  enum { CAP = 4096, MAXI = 64, LEN = 100 };
  mp_dict *d = new_dict(CAP, MAXI);
  uint32_t vers[MAXI], n = 0;
  int rc;
  while ((rc = set_value(d, n, n + 1, LEN)) == 0) {
    vers[n] = n + 1;
    ck_assert_uint_lt(++n, MAXI);
  }
  ck_rc(rc, -ENOSPC);
  ck_assert_uint_ge((n + 1) * (LEN + 7), CAP); /* at least the capacity */
  expect_versions(d, n, vers);
  /* Failing again, and growing an existing value, change nothing. */
  ck_rc(set_value(d, n, 99, LEN), -ENOSPC);
  ck_rc(set_value(d, 0, 99, VMAX), -ENOSPC);
  ck_rc(set_value(d, n - 1, 99, VMAX), -ENOSPC);
  expect_versions(d, n, vers);
  /* Deleting makes room for the item that did not fit. */
  char key[24];
  ck_rc(mp_dict_delete(d, key, (size_t)keyname(key, n / 2)), 0);
  ck_rc(set_value(d, n, n + 1, LEN), 0);
  uint32_t ver;
  ck_rc(get_version(d, n, &ver), 0);
  ck_assert_uint_eq(ver, n + 1);
  ck_assert_int_eq(mp_dict_len(d), n);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

START_TEST(full_by_items) {
  enum { MAXI = 16 };
  mp_dict *d = new_dict(64 * 1024, MAXI);
  uint32_t vers[MAXI + 1];
  for (uint32_t k = 0; k < MAXI; k++) {
    ck_rc(set_value(d, k, 1, 20), 0);
    vers[k] = 1;
  }
  ck_rc(set_value(d, MAXI, 1, 20), -ENOSPC);
  ck_rc(set_value(d, MAXI, 1, 20), -ENOSPC);
  ck_rc(mp_dict_contains(d, "key-16", 6), 0);
  expect_versions(d, MAXI, vers);
  /* Replacing is not a new item. */
  ck_rc(set_value(d, 3, 2, 300), 0);
  vers[3] = 2;
  expect_versions(d, MAXI, vers);
  char key[24];
  ck_rc(mp_dict_delete(d, key, (size_t)keyname(key, 0)), 0);
  ck_rc(set_value(d, MAXI, 1, 20), 0);
  ck_rc(set_value(d, MAXI + 1, 1, 20), -ENOSPC);
  ck_assert_int_eq(mp_dict_len(d), MAXI);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* max_items as given (the "at least 16" is the default's). */
START_TEST(small_max_items) {
  mp_dict *d = new_dict(4096, 5);
  for (uint32_t k = 0; k < 5; k++)
    ck_rc(set_value(d, k, 1, 20), 0);
  int rc = set_value(d, 5, 1, 20);
  long len = mp_dict_len(d);
  ck_rc(mp_dict_destroy(d), 0); /* first: a failure leaves no segment */
  ck_assert_msg(rc == -ENOSPC, "6th set with max_items 5: %s, expected ENOSPC",
                mp_err_name(rc));
  ck_assert_int_eq(len, 5);
}
END_TEST

/* A fresh dict holds max_items items whose keys and values add up to
 * exactly the capacity; klen + vlen over the capacity never fits. */
START_TEST(exact_capacity) {
  enum { CAP = 4096, MAXI = 16 };
  static unsigned char big[CAP + 1];
  mp_dict *d = new_dict(CAP, MAXI);
  ck_rc(mp_dict_set(d, "k", 1, big, CAP - 1), 0);
  ck_rc(mp_dict_set(d, "j", 1, big, CAP), -EMSGSIZE);
  ck_rc(mp_dict_set(d, big, CAP + 1, NULL, 0), -EMSGSIZE);
  ck_rc(mp_dict_delete(d, "k", 1), 0);
  for (int i = 0; i < MAXI; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%02d", i);
    ck_rc(mp_dict_set(d, key, 3, big, CAP / MAXI - 3), 0);
  }
  ck_assert_int_eq(mp_dict_len(d), MAXI);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* Hundreds of thousands of random sets and deletes of varying sizes on a
 * small dict, the live keys and values never over half the capacity: no
 * set ever fails, and everything is intact at the end. */
START_TEST(churn_does_not_fragment) {
  enum { CAP = 16384, NK = 128, OPS = 300000 };
  mp_dict *d = new_dict(CAP, NK);
  uint32_t ver[NK] = {0}, len[NK] = {0}, next = 1;
  size_t live = 0, count = 0, klen[NK];
  char key[24];
  for (uint32_t k = 0; k < NK; k++)
    klen[k] = (size_t)keyname(key, k);
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int op = 0; op < OPS; op++) {
    uint32_t k = (uint32_t)(t_rnd(&s) % NK);
    keyname(key, k);
    if (t_rnd(&s) % 3 == 0) {
      loop_rc(mp_dict_delete(d, key, klen[k]), ver[k] ? 0 : -ENOENT);
      if (ver[k]) {
        live -= klen[k] + len[k];
        count--;
      }
      ver[k] = 0;
      continue;
    }
    uint32_t n = VHDR + (uint32_t)(t_rnd(&s) % (400 - VHDR));
    size_t after = live - (ver[k] ? klen[k] + len[k] : 0) + klen[k] + n;
    while (after > CAP / 2) { /* make room: delete some other key */
      uint32_t j = (uint32_t)(t_rnd(&s) % NK);
      if (j == k || !ver[j])
        continue;
      char other[24];
      loop_rc(mp_dict_delete(d, other, (size_t)keyname(other, j)), 0);
      live -= klen[j] + len[j];
      after -= klen[j] + len[j];
      count--;
      ver[j] = 0;
    }
    int rc = set_value(d, k, next, n);
    if (rc != 0)
      ck_assert_msg(0, "op %d: set of %u bytes with %zu live: %s", op,
                    (unsigned)n, live, mp_err_name(rc));
    count += !ver[k];
    live = after;
    ver[k] = next++;
    len[k] = n;
    if (op % 4096 == 0)
      loop_rc((int)mp_dict_len(d), (int)count);
  }
  ck_assert_int_eq(mp_dict_len(d), (long)count);
  for (uint32_t k = 0; k < NK; k++) {
    uint32_t v = 0;
    ck_rc(get_version(d, k, &v), ver[k] ? 0 : -ENOENT);
    ck_assert_uint_eq(v, ver[k]);
  }
  struct walk w;
  walk(d, &w);
  ck_assert_uint_eq(w.count, count);
  /* Deleting everything coalesces it all back: one capacity-sized item. */
  for (uint32_t k = 0; k < NK; k++)
    if (ver[k])
      ck_rc(mp_dict_delete(d, key, (size_t)keyname(key, k)), 0);
  static unsigned char big[CAP];
  ck_rc(mp_dict_set(d, "k", 1, big, CAP - 1), 0);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* Distinct keys inserted and deleted over and over leave tombstones; the
 * table keeps working (rehashing) and never runs out of slots. */
START_TEST(tombstone_churn) {
  enum { MAXI = 16 };
  mp_dict *d = new_dict(64 * 1024, MAXI);
  for (uint32_t k = 0; k < 8; k++)
    ck_rc(set_value(d, k, 1, 16), 0);
  for (uint32_t i = 0; i < 100000; i++) {
    uint32_t k = 1000 + i % 500000;
    char key[24];
    int kl = keyname(key, k);
    loop_rc(set_value(d, k, i, 16), 0);
    loop_rc(mp_dict_contains(d, key, (size_t)kl), 1);
    loop_rc(mp_dict_delete(d, key, (size_t)kl), 0);
  }
  ck_assert_int_eq(mp_dict_len(d), 8);
  /* A full table sliding over fresh keys: delete the oldest, add one. */
  for (uint32_t k = 8; k < MAXI; k++)
    ck_rc(set_value(d, k, 1, 16), 0);
  for (uint32_t k = MAXI; k < 50000; k++) {
    char key[24];
    loop_rc(mp_dict_delete(d, key, (size_t)keyname(key, k - MAXI)), 0);
    loop_rc(set_value(d, k, 2, 16), 0);
  }
  ck_assert_int_eq(mp_dict_len(d), MAXI);
  for (uint32_t k = 50000 - MAXI; k < 50000; k++) {
    uint32_t v;
    ck_rc(get_version(d, k, &v), 0);
    ck_assert_uint_eq(v, 2);
  }
  uint32_t v;
  ck_rc(get_version(d, 0, &v), -ENOENT);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* ---- bad input ---------------------------------------------------------------- */

START_TEST(bad_input) {
  mp_dict *d = (mp_dict *)&d;
  mp_dict_options big = {.capacity = MP_DICT_CAPACITY_MAX + 1};
  mp_dict_options many = {.max_items = SIZE_MAX};
  mp_dict_options nan = {.timeout = NAN};
  ck_rc(mp_dict_create(NULL, NULL, NULL), -EINVAL);
  ck_rc(mp_dict_create(NULL, &nan, &d), -EINVAL);
  ck_rc(mp_dict_create(NULL, &big, &d), -EINVAL);
  ck_assert_ptr_null(d);
  big.capacity = SIZE_MAX;
  ck_rc(mp_dict_create(NULL, &big, &d), -EINVAL);
  ck_rc(mp_dict_create(NULL, &many, &d), -EINVAL);
  ck_rc(mp_dict_create("bad", NULL, &d), -EINVAL);
  ck_rc(mp_dict_open(NULL, &d), -EINVAL);
  ck_rc(mp_dict_open("/mproc-x", NULL), -EINVAL);

  char buf[8];
  size_t n;
  void *p;
  struct walk w;
  ck_rc(mp_dict_set(NULL, "k", 1, "v", 1), -EINVAL);
  ck_rc(mp_dict_get(NULL, "k", 1, buf, sizeof buf, &n), -EINVAL);
  ck_rc(mp_dict_get_alloc(NULL, "k", 1, &p, &n), -EINVAL);
  ck_rc(mp_dict_delete(NULL, "k", 1), -EINVAL);
  ck_rc(mp_dict_contains(NULL, "k", 1), -EINVAL);
  ck_assert_int_eq(mp_dict_len(NULL), -EINVAL);
  ck_rc(mp_dict_clear(NULL), -EINVAL);
  ck_rc(mp_dict_items(NULL, walk_cb, &w), -EINVAL);
  ck_assert_ptr_null(mp_dict_name(NULL));
  ck_rc(mp_dict_close(NULL), 0);
  ck_rc(mp_dict_destroy(NULL), 0);

  d = new_dict(4096, 0);
  ck_rc(mp_dict_set(d, "v", 1, "1", 1), 0);
  ck_rc(mp_dict_set(d, NULL, 1, "v", 1), -EINVAL);
  ck_rc(mp_dict_set(d, "k", 0, "v", 1), -EINVAL);
  ck_rc(mp_dict_set(d, "k", 1, NULL, 1), -EINVAL);
  static unsigned char large[8192];
  ck_rc(mp_dict_set(d, large, 4097, "v", 1), -EMSGSIZE);
  ck_rc(mp_dict_set(d, "k", 1, large, 4096), -EMSGSIZE);
  ck_rc(mp_dict_set(d, large, 2000, large, 2097), -EMSGSIZE);
  ck_rc(mp_dict_set(d, large, SIZE_MAX, large, 1), -EMSGSIZE);
  ck_rc(mp_dict_set(d, "k", 1, large, SIZE_MAX), -EMSGSIZE);
  ck_assert_int_eq(mp_dict_len(d), 1);
  ck_rc(mp_dict_get(d, NULL, 1, buf, sizeof buf, &n), -EINVAL);
  ck_rc(mp_dict_get(d, "v", 0, buf, sizeof buf, &n), -EINVAL);
  ck_rc(mp_dict_get(d, "v", 1, buf, sizeof buf, NULL), -EINVAL);
  ck_rc(mp_dict_get(d, "v", 1, NULL, 8, &n), -EINVAL);
  ck_rc(mp_dict_get_alloc(d, "v", 1, NULL, &n), -EINVAL);
  ck_rc(mp_dict_get_alloc(d, NULL, 1, &p, &n), -EINVAL);
  ck_rc(mp_dict_get_alloc(d, "v", 1, &p, NULL), -EINVAL);
  ck_rc(mp_dict_delete(d, NULL, 1), -EINVAL);
  ck_rc(mp_dict_delete(d, "v", 0), -EINVAL);
  ck_rc(mp_dict_contains(d, NULL, 1), -EINVAL);
  ck_rc(mp_dict_contains(d, "v", 0), -EINVAL);
  ck_rc(mp_dict_items(d, NULL, NULL), -EINVAL);
  ck_assert_int_eq(mp_dict_len(d), 1);

  /* Names: taken, closed twice. */
  mp_dict *e;
  ck_rc(mp_dict_create(mp_dict_name(d), NULL, &e), -EEXIST);
  ck_rc(mp_dict_open(mp_dict_name(d), &e), 0);
  ck_rc(mp_dict_contains(e, "v", 1), 1);
  ck_rc(mp_dict_close(e), 0);
  ck_rc(mp_dict_close(e), -EINVAL);
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

START_TEST(open_kinds) {
  mp_queue *q;
  mp_lock *l;
  mp_value *v;
  mp_dict *d, *e = (mp_dict *)&e;
  ck_rc(mp_queue_create(NULL, NULL, &q), 0);
  ck_rc(mp_lock_create(NULL, &l), 0);
  ck_rc(mp_value_create(NULL, 'i', NULL, 0, &v), 0);
  ck_rc(mp_dict_open(mp_queue_name(q), &e), MP_EKIND);
  ck_assert_ptr_null(e);
  ck_rc(mp_dict_open(mp_lock_name(l), &e), MP_EKIND);
  ck_rc(mp_dict_open(mp_value_name(v), &e), MP_EKIND);
  d = new_dict(4096, 0);
  mp_queue *q2;
  ck_rc(mp_queue_open(mp_dict_name(d), &q2), MP_EKIND);
  char name[MP_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", mp_dict_name(d));
  ck_rc(mp_dict_destroy(d), 0);
  ck_rc(mp_dict_open(name, &e), -ENOENT);
  ck_rc(mp_queue_destroy(q), 0);
  ck_rc(mp_lock_destroy(l), 0);
  ck_rc(mp_value_destroy(v), 0);
}
END_TEST

/* ---- processes ----------------------------------------------------------------- */

struct worker_arg {
  char name[MP_NAME_MAX + 1];
  uint32_t id;
};

#define PER_WORKER 100

/* The seeds' "sharing dictionaries using Manager" pattern: each worker
 * sets its own keys in the dict it opens by name. */
static int dict_manager_worker(void *arg) {
  const struct worker_arg *a = arg;
  mp_dict *d;
  if (mp_dict_open(a->name, &d) != 0)
    return 31;
  for (uint32_t j = 0; j < PER_WORKER; j++)
    if (set_value(d, a->id * PER_WORKER + j, a->id + 1, VHDR + j) != 0)
      return 32;
  return mp_dict_close(d) == 0 ? 0 : 33;
}
MP_REGISTER(dict_manager_worker)

START_TEST(workers_share_a_dict) {
  static const mp_start_method methods[] = {MP_START_FORK, MP_START_SPAWN};
  enum { NW = 4 };
  mp_dict *d = new_dict(0, 0);
  mp_process *p[NW];
  struct worker_arg a[NW];
  for (uint32_t i = 0; i < NW; i++) {
    memset(&a[i], 0, sizeof a[i]);
    snprintf(a[i].name, sizeof a[i].name, "%s", mp_dict_name(d));
    a[i].id = i;
    mp_process_options o = {.method = methods[_i], .arg_size = sizeof a[i]};
    ck_rc(mp_process_create(dict_manager_worker, &a[i], &o, &p[i]), 0);
    ck_rc(mp_process_start(p[i]), 0);
  }
  for (int i = 0; i < NW; i++) {
    int code = -1000;
    ck_rc(mp_process_join(p[i], 15.0), 0);
    ck_rc(mp_process_exitcode(p[i], &code), 0);
    ck_assert_int_eq(code, 0);
    ck_rc(mp_process_close(p[i]), 0);
  }
  ck_assert_int_eq(mp_dict_len(d), NW * PER_WORKER);
  struct walk w;
  walk(d, &w);
  ck_assert_uint_eq(w.count, NW * PER_WORKER);
  for (uint32_t k = 0; k < NW * PER_WORKER; k++) {
    ck_assert(w.seen[k]);
    ck_assert_uint_eq(w.ver[k], k / PER_WORKER + 1);
  }
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

#define SHARED_KEYS 64
#define MIX_OPS 50000

struct mix {
  mp_dict *d;
  uint32_t id;
};

/* set / get / delete on keys every worker uses; every value read must be
 * whole and belong to its key. Exit status: what went wrong. */
static int mix_worker(void *arg) {
  struct mix *m = arg;
  uint64_t s = 0x2545f4914f6cdd1dull * (m->id + 1);
  for (uint32_t i = 0; i < MIX_OPS; i++) {
    uint32_t k = (uint32_t)(t_rnd(&s) % SHARED_KEYS), r = (uint32_t)(t_rnd(&s) % 10);
    char key[24];
    int kl = keyname(key, k);
    if (r < 4) {
      uint32_t len = VHDR + (uint32_t)(t_rnd(&s) % 200);
      if (set_value(m->d, k, (m->id << 24) | i, len) != 0)
        return 1;
    } else if (r < 8) {
      uint32_t ver;
      int rc = get_version(m->d, k, &ver);
      if (rc != 0 && rc != -ENOENT)
        return 2;
    } else {
      int rc = mp_dict_delete(m->d, key, (size_t)kl);
      if (rc != 0 && rc != -ENOENT)
        return 3;
    }
  }
  return 0;
}

START_TEST(processes_overlapping_keys) {
  enum { NW = 4 };
  mp_dict *d = new_dict(64 * 1024, 128);
  struct mix m[NW];
  pid_t pid[NW];
  for (uint32_t i = 0; i < NW; i++) {
    m[i] = (struct mix){d, i};
    pid[i] = t_fork(mix_worker, &m[i]);
  }
  /* Snapshots taken meanwhile are whole. */
  for (int i = 0; i < 50; i++) {
    struct walk w;
    walk(d, &w);
    ck_assert_uint_le(w.count, SHARED_KEYS);
  }
  for (int i = 0; i < NW; i++)
    ck_assert_int_eq(t_wait(pid[i]), 0);
  struct walk w;
  walk(d, &w);
  ck_assert_int_eq(mp_dict_len(d), (long)w.count);
  for (uint32_t k = 0; k < SHARED_KEYS; k++) {
    uint32_t ver = 0;
    ck_rc(get_version(d, k, &ver), w.seen[k] ? 0 : -ENOENT);
    ck_assert_uint_eq(ver, w.seen[k] ? w.ver[k] : 0);
  }
  ck_rc(mp_dict_destroy(d), 0);
}
END_TEST

/* ---- killed mid-update ------------------------------------------------------------ */

#define KW 2         /* workers */
#define KKEYS 32     /* keys each worker owns */
#define KROUNDS 200   /* at most; at least 30, stopping after 2.5 s */

/* What a worker is doing, in shared memory: before an update it records
 * "about to set key to newver" (newver 0: delete), after it "done" and the
 * key's committed version. A worker killed in between left the key either
 * at its committed version or at newver, never anything else. */
struct wlog {
  uint32_t busy, key, newver, nextver;
  uint32_t committed[KKEYS]; /* 0: absent */
  int started[2];            /* pipe: "I am running" */
};

struct killshared {
  mp_dict *d;
  struct wlog w[KW];
};

struct kworker {
  struct killshared *ks;
  uint32_t id;
};

static int kill_worker(void *arg) {
  struct kworker *kw = arg;
  struct wlog *log = &kw->ks->w[kw->id];
  mp_dict *d = kw->ks->d;
  uint64_t s = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
  double t0 = t_now();
  for (uint32_t i = 0;; i++) {
    if (i == 100)
      t_send(log->started[1]);
    if ((i & 1023) == 0 && t_now() - t0 > 10.0)
      return 30; /* never killed: give up */
    uint32_t j = (uint32_t)(t_rnd(&s) % KKEYS), k = kw->id * KKEYS + j;
    uint32_t ver = (uint32_t)(t_rnd(&s) % 10) < 7 ? ++log->nextver : 0;
    log->key = j;
    log->newver = ver;
    __atomic_store_n(&log->busy, 1, __ATOMIC_SEQ_CST);
    int rc;
    if (ver) {
      /* Half the sets keep a small length: overwritten in place. */
      uint32_t len = t_rnd(&s) % 2 ? VHDR + 20 : VHDR + (uint32_t)(t_rnd(&s) % 300);
      rc = set_value(d, k, ver, len);
    } else {
      char key[24];
      rc = mp_dict_delete(d, key, (size_t)keyname(key, k));
      if (rc == (log->committed[j] ? -ENOENT : 0))
        return 11; /* deleted what was not there, or the reverse */
      rc = rc == -ENOENT ? 0 : rc;
    }
    if (rc != 0)
      return 12;
    __atomic_store_n(&log->committed[j], ver, __ATOMIC_SEQ_CST);
    __atomic_store_n(&log->busy, 0, __ATOMIC_SEQ_CST);
    if (i % 8 == 0) { /* our own keys hold what we wrote */
      uint32_t jj = (uint32_t)(t_rnd(&s) % KKEYS), got = 0;
      rc = get_version(d, kw->id * KKEYS + jj, &got);
      if (rc != 0 && rc != -ENOENT)
        return 13;
      if ((rc == 0 ? got : 0) != log->committed[jj])
        return 14;
    }
  }
}

START_TEST(killed_mid_update) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, sizeof(struct killshared), &shm), 0);
  struct killshared *ks = mp_shm_buf(shm);
  memset(ks, 0, sizeof *ks);
  ks->d = new_dict(64 * 1024, 2 * KW * KKEYS);
  for (int w = 0; w < KW; w++)
    t_pipe(ks->w[w].started);
  srand((unsigned)getpid());
  double start = t_now();
  for (int round = 0; round < KROUNDS; round++) {
    if (round >= 30 && t_now() - start > 2.5)
      break;
    /* Alternately one worker alone (always running when killed) and all
     * of them (contending for the dict's lock). */
    uint32_t nw = round % 2 ? KW : 1;
    pid_t pid[KW];
    struct kworker kw[KW];
    for (uint32_t w = 0; w < nw; w++) {
      kw[w] = (struct kworker){ks, w};
      pid[w] = t_fork(kill_worker, &kw[w]);
    }
    for (uint32_t w = 0; w < nw; w++)
      ck_assert(t_recv(ks->w[w].started[0]));
    usleep((useconds_t)(rand() % 2000));
    for (uint32_t w = 0; w < nw; w++) {
      kill(pid[w], SIGKILL);
      int st = t_wait(pid[w]);
      ck_assert_msg(st == -SIGKILL, "round %d: worker %d exited with %d",
                    round, (int)w, st);
    }
    double t0 = t_now();
    /* Every key holds its committed version, or the one being written. */
    unsigned present = 0;
    for (uint32_t w = 0; w < KW; w++) {
      struct wlog *log = &ks->w[w];
      for (uint32_t j = 0; j < KKEYS; j++) {
        uint32_t got = 0;
        int rc = get_version(ks->d, w * KKEYS + j, &got);
        ck_assert_msg(rc == 0 || rc == -ENOENT, "round %d: key %u: %s", round,
                      (unsigned)(w * KKEYS + j),
                      rc == 1 ? "torn or misplaced value" : mp_err_name(rc));
        bool in_flight = log->busy && log->key == j;
        ck_assert_msg(got == log->committed[j] ||
                          (in_flight && got == log->newver),
                      "round %d: key %u holds version %u, committed %u%s",
                      round, (unsigned)(w * KKEYS + j), (unsigned)got,
                      (unsigned)log->committed[j],
                      in_flight ? " (update in flight)" : "");
        log->committed[j] = got;
        present += got != 0;
      }
      log->busy = 0;
    }
    struct walk wk;
    walk(ks->d, &wk);
    ck_assert_uint_eq(wk.count, present);
    ck_assert_int_eq(mp_dict_len(ks->d), (long)present);
    for (uint32_t k = 0; k < KW * KKEYS; k++)
      ck_assert_uint_eq(wk.seen[k] ? wk.ver[k] : 0,
                        ks->w[k / KKEYS].committed[k % KKEYS]);
    /* And it is usable. */
    char buf[8];
    size_t n;
    ck_rc(mp_dict_set(ks->d, "probe", 5, "ok", 2), 0);
    ck_rc(mp_dict_get(ks->d, "probe", 5, buf, sizeof buf, &n), 0);
    ck_rc(mp_dict_delete(ks->d, "probe", 5), 0);
    double took = t_now() - t0;
    ck_assert_msg(took < (t_instrumented() ? 5.0 : 1.0),
                  "round %d: checks took %.3f s", round, took);
  }
  for (int w = 0; w < KW; w++) {
    close(ks->w[w].started[0]);
    close(ks->w[w].started[1]);
  }
  ck_rc(mp_dict_destroy(ks->d), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

/* ---- timeout -------------------------------------------------------------------- */

#define BIG_VALUE (4u << 20)

struct holder {
  mp_dict *d;
  int started[2];
  _Atomic uint64_t sets; /* done by the child, in shared memory */
};

/* Sets a 4 MiB value over and over: inside an operation most of the time. */
static int holder_loop(void *arg) {
  struct holder *h = arg;
  unsigned char *v = malloc(BIG_VALUE);
  if (!v)
    return 20;
  memset(v, 0x5a, BIG_VALUE);
  t_send(h->started[1]);
  for (;;) {
    if (mp_dict_set(h->d, "big", 3, v, BIG_VALUE) != 0)
      return 21;
    atomic_fetch_add(&h->sets, 1);
  }
}

/* A process stopped inside an operation holds up the others only for the
 * `timeout` option, and the timed-out operations change nothing. */
START_TEST(timeout_option) {
  mp_dict_options o = {
      .capacity = 2 * BIG_VALUE + 4096, .max_items = 16, .timeout = 0.05};
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, sizeof(struct holder), &shm), 0);
  struct holder *h = mp_shm_buf(shm);
  ck_rc(mp_dict_create(NULL, &o, &h->d), 0);
  ck_rc(mp_dict_set(h->d, "big", 3, "", 0), 0); /* replaced, never absent */
  t_pipe(h->started);
  pid_t pid = t_fork(holder_loop, h);
  ck_assert(t_recv(h->started[0]));
  int rc = 0;
  for (int tries = 0; tries < 200 && rc != -ETIMEDOUT; tries++) {
    /* Stop it somewhere new: after at least one more set of its own. */
    uint64_t sets = atomic_load(&h->sets);
    for (double t0 = t_now(); atomic_load(&h->sets) == sets;)
      ck_assert_msg(t_now() - t0 < 10.0, "the holder made no progress");
    int st;
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
    ck_assert(WIFSTOPPED(st));
    double t0 = t_now();
    rc = mp_dict_set(h->d, "k", 1, "v", 1); /* stopped inside a set, or not */
    double took = t_now() - t0;
    if (rc == -ETIMEDOUT) {
      ck_assert_msg(took >= 0.045 && took < 2.0, "timed out after %.3f s",
                    took);
      ck_assert_int_eq(mp_dict_contains(h->d, "k", 1), -ETIMEDOUT);
      ck_assert_int_eq(mp_dict_len(h->d), -ETIMEDOUT);
    } else {
      ck_rc(rc, 0);
      ck_rc(mp_dict_delete(h->d, "k", 1), 0);
    }
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
  }
  ck_assert_msg(rc == -ETIMEDOUT, "never caught the holder inside a set");
  t_kill(pid);
  ck_assert_int_eq(mp_dict_contains(h->d, "k", 1), 0); /* the set did nothing */
  ck_assert_int_eq(mp_dict_contains(h->d, "big", 3), 1);
  close(h->started[0]);
  close(h->started[1]);
  ck_rc(mp_dict_destroy(h->d), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

Suite *dict_suite(void) {
  Suite *s = suite_create("dict");
  TCase *tc = tcase_create("basics");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, set_get_delete);
  tcase_add_test(tc, overwrite_sizes);
  tcase_add_test(tc, empty_values);
  tcase_add_test(tc, binary_keys);
  tcase_add_test(tc, small_buffer);
  tcase_add_test(tc, clear_and_reuse);
  tcase_add_test(tc, items_sees_every_item);
  tcase_add_test(tc, items_cb_may_use_dict);
  tcase_add_test(tc, items_stops_on_nonzero);
  tcase_add_test(tc, bad_input);
  tcase_add_test(tc, open_kinds);
  suite_add_tcase(s, tc);

  tc = tcase_create("capacity");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, full_by_bytes);
  tcase_add_test(tc, full_by_items);
  tcase_add_test(tc, small_max_items);
  tcase_add_test(tc, exact_capacity);
  tcase_add_test(tc, churn_does_not_fragment);
  tcase_add_test(tc, tombstone_churn);
  suite_add_tcase(s, tc);

  tc = tcase_create("processes");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_loop_test(tc, workers_share_a_dict, 0, 2);
  tcase_add_test(tc, processes_overlapping_keys);
  tcase_add_test(tc, killed_mid_update);
  tcase_add_test(tc, timeout_option);
  suite_add_tcase(s, tc);
  return s;
}
