/* test/check_list.c - the shared list: Python's indexing rules for get,
 * set, insert and pop against expected contents and against a model,
 * capacity (full is -ENOSPC and changes nothing; pops make room; churn does
 * not fragment without bound), items() snapshots, processes and threads
 * sharing a list, processes killed with SIGKILL mid-update, the timeout,
 * bad input. */
#include "tests.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

/* ck_rc for hot loops: only a failure reaches Check. */
#define loop_rc(expr, expected)                                                \
  do {                                                                         \
    int lrc_ = (expr), lex_ = (expected);                                      \
    if (lrc_ != lex_)                                                          \
      ck_assert_msg(0, "%s returned %d (%s), expected %d (%s)", #expr, lrc_,   \
                    mp_err_name(lrc_), lex_, mp_err_name(lex_));               \
  } while (0)

static mp_list *new_list(size_t capacity, size_t max_items, double timeout) {
  mp_list_options o = {
      .capacity = capacity, .max_items = max_items, .timeout = timeout};
  mp_list *l;
  ck_rc(mp_list_create(NULL, &o, &l), 0);
  return l;
}

/* Shared memory for a test's own bookkeeping between forked processes
 * (nothing in /dev/shm). */
static void *shared(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  ck_assert_ptr_ne(p, MAP_FAILED);
  return p;
}

static int append_str(mp_list *l, const char *s) {
  return mp_list_append(l, s, strlen(s));
}

/* The list holds exactly the words of want (space-separated), by get()
 * and by items(). */
struct words {
  char w[64][16];
  size_t n, seen;
  int bad;
};

static int words_cb(size_t index, const void *item, size_t len, void *ctx) {
  struct words *w = ctx;
  if (index != w->seen || index >= w->n || len != strlen(w->w[index]) ||
      memcmp(item, w->w[index], len) != 0)
    w->bad++;
  w->seen++;
  return 0;
}

static void expect(mp_list *l, const char *want) {
  struct words w = {.n = 0};
  char copy[1024];
  snprintf(copy, sizeof copy, "%s", want);
  for (char *save, *t = strtok_r(copy, " ", &save); t;
       t = strtok_r(NULL, " ", &save))
    snprintf(w.w[w.n++], sizeof w.w[0], "%s", t);
  ck_assert_msg(mp_list_len(l) == (long)w.n, "len %ld, expected %zu (%s)",
                mp_list_len(l), w.n, want);
  for (size_t i = 0; i < w.n; i++) {
    char buf[16];
    size_t n = 0;
    ck_rc(mp_list_get(l, (long)i, buf, sizeof buf, &n), 0);
    ck_assert_msg(n == strlen(w.w[i]) && memcmp(buf, w.w[i], n) == 0,
                  "l[%zu] is \"%.*s\", expected \"%s\" in [%s]", i, (int)n, buf,
                  w.w[i], want);
    ck_rc(mp_list_get(l, (long)i - (long)w.n, buf, sizeof buf, &n), 0);
    ck_assert(n == strlen(w.w[i]) && memcmp(buf, w.w[i], n) == 0);
  }
  ck_rc(mp_list_items(l, words_cb, &w), 0);
  ck_assert_msg(w.bad == 0 && w.seen == w.n, "items() differs from [%s]", want);
}

/* Self-describing items: {id, length} (2 x uint32) then a fill byte made
 * of the id, so a torn or misplaced item is detected. */
#define IHDR 8u
#define IMAX 512u

static void make_item(unsigned char *b, uint32_t id, uint32_t len) {
  memcpy(b, &id, 4);
  memcpy(b + 4, &len, 4);
  memset(b + IHDR, (unsigned char)(id * 7 + (id >> 24)), len - IHDR);
}

/* Is p a whole item? Its id goes to *id. */
static bool item_ok(const void *p, size_t n, uint32_t *id) {
  const unsigned char *b = p;
  uint32_t i, len;
  if (n < IHDR)
    return false;
  memcpy(&i, b, 4);
  memcpy(&len, b + 4, 4);
  if (len != n)
    return false;
  for (uint32_t k = IHDR; k < len; k++)
    if (b[k] != (unsigned char)(i * 7 + (i >> 24)))
      return false;
  *id = i;
  return true;
}

static int add_item(mp_list *l, long index, uint32_t id, uint32_t len) {
  unsigned char b[IMAX];
  make_item(b, id, len);
  return index == LONG_MAX ? mp_list_append(l, b, len)
                           : mp_list_insert(l, index, b, len);
}

static int set_item(mp_list *l, long index, uint32_t id, uint32_t len) {
  unsigned char b[IMAX];
  make_item(b, id, len);
  return mp_list_set(l, index, b, len);
}

/* 0 and the id of the item popped (or got), 1 for a torn item, or the
 * error. */
static int pop_id(mp_list *l, long index, uint32_t *id) {
  unsigned char b[IMAX];
  size_t n = 0;
  int rc = mp_list_pop(l, index, b, sizeof b, &n);
  return rc ? rc : item_ok(b, n, id) ? 0 : 1;
}

static int get_id(mp_list *l, long index, uint32_t *id) {
  unsigned char b[IMAX];
  size_t n = 0;
  int rc = mp_list_get(l, index, b, sizeof b, &n);
  return rc ? rc : item_ok(b, n, id) ? 0 : 1;
}

/* items(): the ids in order; bad counts torn items. */
struct ids {
  uint32_t *id;
  size_t cap, n;
  unsigned bad;
};

static int ids_cb(size_t index, const void *item, size_t len, void *ctx) {
  struct ids *s = ctx;
  uint32_t id = 0;
  if (index != s->n || s->n >= s->cap || !item_ok(item, len, &id)) {
    s->bad++;
    return 0;
  }
  s->id[s->n++] = id;
  return 0;
}

/* The ids of l, whole, by items() and by get() alike; their count. */
static size_t snapshot(mp_list *l, uint32_t *id, size_t cap) {
  struct ids s = {id, cap, 0, 0};
  ck_rc(mp_list_items(l, ids_cb, &s), 0);
  ck_assert_msg(s.bad == 0, "items(): %u torn or misplaced items", s.bad);
  ck_assert_int_eq(mp_list_len(l), (long)s.n);
  for (size_t i = 0; i < s.n; i++) {
    uint32_t got = 0;
    int rc = get_id(l, (long)i, &got);
    ck_assert_msg(rc == 0 && got == id[i], "l[%zu]: %s, id %x, items() %x", i,
                  rc == 1 ? "torn" : mp_err_name(rc), (unsigned)got,
                  (unsigned)id[i]);
  }
  return s.n;
}

static void expect_ids(mp_list *l, const uint32_t *want, size_t n) {
  uint32_t got[1024];
  ck_assert_uint_le(n, 1024);
  size_t m = snapshot(l, got, 1024);
  ck_assert_uint_eq(m, n);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(got[i] == want[i], "l[%zu] is %x, expected %x", i,
                  (unsigned)got[i], (unsigned)want[i]);
}

/* Python's list.insert, pop and indexing, on an array of ids. */
static size_t py_insert(uint32_t *a, size_t n, long index, uint32_t id) {
  long i = index < 0 ? (long)n + index : index;
  i = i < 0 ? 0 : i > (long)n ? (long)n : i;
  memmove(a + i + 1, a + i, (n - (size_t)i) * sizeof *a);
  a[i] = id;
  return n + 1;
}

/* Index of Python index in n items, or -1 (IndexError). */
static long py_index(size_t n, long index) {
  long i = index < 0 ? (long)n + index : index;
  return i >= 0 && i < (long)n ? i : -1;
}

static void py_remove(uint32_t *a, size_t n, long i) {
  memmove(a + i, a + i + 1, (n - (size_t)i - 1) * sizeof *a);
}

/* ---- basics -------------------------------------------------------------- */

START_TEST(append_get_set) {
  mp_list *l = new_list(0, 0, 0);
  char buf[16];
  size_t n = 0;
  void *p;
  expect(l, "");
  ck_rc(append_str(l, "a"), 0);
  ck_rc(append_str(l, "bb"), 0);
  ck_rc(append_str(l, "ccc"), 0);
  expect(l, "a bb ccc");
  ck_rc(mp_list_get(l, -1, buf, sizeof buf, &n), 0);
  ck_assert(n == 3 && memcmp(buf, "ccc", 3) == 0);
  ck_rc(mp_list_get(l, -3, buf, sizeof buf, &n), 0);
  ck_assert(n == 1 && buf[0] == 'a');
  n = 77;
  ck_rc(mp_list_get(l, 3, buf, sizeof buf, &n), -ERANGE);
  ck_rc(mp_list_get(l, -4, buf, sizeof buf, &n), -ERANGE);
  ck_rc(mp_list_get(l, LONG_MAX, buf, sizeof buf, &n), -ERANGE);
  ck_rc(mp_list_get(l, LONG_MIN, buf, sizeof buf, &n), -ERANGE);
  ck_assert_uint_eq(n, 77); /* untouched */
  ck_rc(mp_list_set(l, 1, "B", 1), 0);
  ck_rc(mp_list_set(l, -1, "CCCC", 4), 0);
  ck_rc(mp_list_set(l, -3, "A", 1), 0);
  expect(l, "A B CCCC");
  ck_rc(mp_list_set(l, 3, "x", 1), -ERANGE);
  ck_rc(mp_list_set(l, -4, "x", 1), -ERANGE);
  expect(l, "A B CCCC");
  ck_rc(mp_list_get_alloc(l, 2, &p, &n), 0);
  ck_assert(n == 4 && memcmp(p, "CCCC", 4) == 0);
  free(p);
  p = buf;
  ck_rc(mp_list_get_alloc(l, 3, &p, &n), -ERANGE);
  ck_assert_ptr_null(p);
  char name[MP_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", mp_list_name(l));
  ck_assert(t_shm_exists(name));
  ck_rc(mp_list_destroy(l), 0);
  ck_assert(!t_shm_exists(name));
}
END_TEST

START_TEST(insert_indices) {
  mp_list *l = new_list(4096, 0, 0);
  ck_rc(mp_list_insert(l, 0, "a", 1), 0); /* into an empty list */
  expect(l, "a");
  ck_rc(mp_list_insert(l, 5, "b", 1), 0); /* past the end: appended */
  expect(l, "a b");
  ck_rc(mp_list_insert(l, 0, "c", 1), 0);
  expect(l, "c a b");
  ck_rc(mp_list_insert(l, -1, "d", 1), 0); /* before the last */
  expect(l, "c a d b");
  ck_rc(mp_list_insert(l, 2, "e", 1), 0);
  expect(l, "c a e d b");
  ck_rc(mp_list_insert(l, -100, "f", 1), 0); /* clamped to 0 */
  expect(l, "f c a e d b");
  ck_rc(mp_list_insert(l, 6, "g", 1), 0); /* exactly len: appended */
  expect(l, "f c a e d b g");
  ck_rc(mp_list_insert(l, -7, "h", 1), 0); /* exactly -len: in front */
  expect(l, "h f c a e d b g");
  ck_rc(mp_list_insert(l, LONG_MIN, "i", 1), 0);
  ck_rc(mp_list_insert(l, LONG_MAX, "j", 1), 0);
  expect(l, "i h f c a e d b g j");
  ck_rc(mp_list_insert(l, -2, "k", 1), 0);
  ck_rc(mp_list_insert(l, 1, "l", 1), 0);
  expect(l, "i l h f c a e d b k g j");
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

START_TEST(pop_indices) {
  mp_list *l = new_list(4096, 0, 0);
  char buf[16];
  size_t n = 0;
  for (char c = '0'; c <= '9'; c++)
    ck_rc(mp_list_append(l, &c, 1), 0);
  ck_rc(mp_list_pop(l, -1, buf, sizeof buf, &n), 0); /* Python's pop() */
  ck_assert(n == 1 && buf[0] == '9');
  ck_rc(mp_list_pop(l, 0, buf, sizeof buf, &n), 0);
  ck_assert(n == 1 && buf[0] == '0');
  expect(l, "1 2 3 4 5 6 7 8");
  ck_rc(mp_list_pop(l, 3, buf, sizeof buf, &n), 0);
  ck_assert(n == 1 && buf[0] == '4');
  ck_rc(mp_list_pop(l, -2, buf, sizeof buf, &n), 0);
  ck_assert(n == 1 && buf[0] == '7');
  expect(l, "1 2 3 5 6 8");
  n = 77;
  ck_rc(mp_list_pop(l, 6, buf, sizeof buf, &n), -ERANGE);
  ck_rc(mp_list_pop(l, -7, buf, sizeof buf, &n), -ERANGE);
  ck_assert_uint_eq(n, 77);
  expect(l, "1 2 3 5 6 8");
  void *p = NULL;
  ck_rc(mp_list_pop_alloc(l, 1, &p, &n), 0);
  ck_assert(n == 1 && memcmp(p, "2", 1) == 0);
  free(p);
  expect(l, "1 3 5 6 8");
  static const char order[] = "81365"; /* pop(-1) pop(0) pop(0) pop(1)... */
  static const long at[] = {-1, 0, 0, 1, 0};
  for (int i = 0; i < 5; i++) {
    ck_rc(mp_list_pop(l, at[i], buf, sizeof buf, &n), 0);
    ck_assert_msg(n == 1 && buf[0] == order[i], "pop %d: %c", i, buf[0]);
  }
  expect(l, "");
  ck_rc(mp_list_pop(l, -1, buf, sizeof buf, &n), -ERANGE); /* empty */
  ck_rc(mp_list_pop(l, 0, buf, sizeof buf, &n), -ERANGE);
  p = buf;
  ck_rc(mp_list_pop_alloc(l, -1, &p, &n), -ERANGE);
  ck_assert_ptr_null(p);
  ck_rc(append_str(l, "again"), 0);
  expect(l, "again");
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* Too small a buffer: -EMSGSIZE with the size needed, and a pop keeps its
 * item. */
START_TEST(small_buffer_keeps_item) {
  mp_list *l = new_list(4096, 0, 0);
  char buf[16] = "untouched";
  size_t n = 0;
  ck_rc(append_str(l, "first"), 0);
  ck_rc(append_str(l, "0123456789"), 0);
  ck_rc(mp_list_get(l, 1, buf, 9, &n), -EMSGSIZE);
  ck_assert_uint_eq(n, 10);
  n = 0;
  ck_rc(mp_list_get(l, 1, NULL, 0, &n), -EMSGSIZE);
  ck_assert_uint_eq(n, 10);
  n = 0;
  ck_rc(mp_list_pop(l, -1, buf, 9, &n), -EMSGSIZE);
  ck_assert_uint_eq(n, 10);
  ck_assert_str_eq(buf, "untouched");
  n = 0;
  ck_rc(mp_list_pop(l, 1, NULL, 0, &n), -EMSGSIZE);
  ck_assert_uint_eq(n, 10);
  ck_rc(mp_list_pop(l, 0, buf, 4, &n), -EMSGSIZE);
  ck_assert_uint_eq(n, 5);
  expect(l, "first 0123456789");
  ck_rc(mp_list_pop(l, -1, buf, 10, &n), 0);
  ck_assert(n == 10 && memcmp(buf, "0123456789", 10) == 0);
  expect(l, "first");
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

struct lens {
  size_t count, total;
};

static int count_lens(size_t index, const void *item, size_t len, void *ctx) {
  (void)index;
  struct lens *c = ctx;
  c->count += item != NULL;
  c->total += len;
  return 0;
}

START_TEST(empty_items) {
  mp_list *l = new_list(4096, 16, 0);
  char buf[8];
  size_t n = 99;
  void *p = NULL;
  ck_rc(mp_list_append(l, NULL, 0), 0);
  ck_rc(mp_list_append(l, "x", 0), 0);
  ck_rc(mp_list_insert(l, 1, NULL, 0), 0);
  ck_assert_int_eq(mp_list_len(l), 3);
  ck_rc(mp_list_get(l, 0, NULL, 0, &n), 0);
  ck_assert_uint_eq(n, 0);
  n = 99;
  ck_rc(mp_list_get(l, 1, buf, sizeof buf, &n), 0);
  ck_assert_uint_eq(n, 0);
  n = 99;
  ck_rc(mp_list_get_alloc(l, 2, &p, &n), 0);
  ck_assert_ptr_nonnull(p); /* non-NULL for an empty item */
  ck_assert_uint_eq(n, 0);
  free(p);
  struct lens c = {0, 0};
  ck_rc(mp_list_items(l, count_lens, &c), 0);
  ck_assert_uint_eq(c.count, 3);
  ck_assert_uint_eq(c.total, 0);
  ck_rc(mp_list_set(l, 1, "full", 4), 0); /* and back */
  ck_rc(mp_list_get(l, 1, buf, sizeof buf, &n), 0);
  ck_assert_uint_eq(n, 4);
  ck_rc(mp_list_set(l, 1, NULL, 0), 0);
  ck_rc(mp_list_get(l, 1, buf, sizeof buf, &n), 0);
  ck_assert_uint_eq(n, 0);
  n = 99;
  p = NULL;
  ck_rc(mp_list_pop_alloc(l, 0, &p, &n), 0);
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(n, 0);
  free(p);
  n = 99;
  ck_rc(mp_list_pop(l, 0, NULL, 0, &n), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(mp_list_len(l), 1);
  /* max_items empty items fit: each takes a block header's room only. */
  for (int i = 1; i < 16; i++)
    ck_rc(mp_list_append(l, NULL, 0), 0);
  ck_rc(mp_list_append(l, NULL, 0), -ENOSPC);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* Random appends, inserts, sets, pops and gets at random indices (in range
 * and not) on a list of 16 items at most, so the ring wraps round all the
 * time and the list is often full: each result and the whole contents
 * match Python's rules applied to an array. */
START_TEST(random_ops_match_model) {
  enum { MAXI = 16, OPS = 30000 };
  mp_list *l = new_list(64 * 1024, MAXI, 0);
  uint32_t model[MAXI + 1], next = 1;
  size_t n = 0;
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int op = 0; op < OPS; op++) {
    long index = (long)(t_rnd(&s) % (3 * MAXI)) - (long)(3 * MAXI / 2);
    uint32_t len = IHDR + (uint32_t)(t_rnd(&s) % 64), got = 0;
    long i = py_index(n, index);
    switch (t_rnd(&s) % 6) {
    case 0: /* append */
      loop_rc(add_item(l, LONG_MAX, next, len), n < MAXI ? 0 : -ENOSPC);
      if (n < MAXI)
        model[n++] = next;
      next++;
      break;
    case 1: /* insert, at an end half the time */
      index = t_rnd(&s) % 2 ? index : t_rnd(&s) % 2 ? 0 : (long)n;
      loop_rc(add_item(l, index, next, len), n < MAXI ? 0 : -ENOSPC);
      if (n < MAXI)
        n = py_insert(model, n, index, next);
      next++;
      break;
    case 2: /* set */
      loop_rc(set_item(l, index, next, len), i >= 0 ? 0 : -ERANGE);
      if (i >= 0)
        model[i] = next;
      next++;
      break;
    case 3: /* pop at an end */
      index = t_rnd(&s) % 2 ? -1 : 0;
      i = py_index(n, index);
      /* fall through */
    case 4: /* pop */
      loop_rc(pop_id(l, index, &got), i >= 0 ? 0 : -ERANGE);
      if (i >= 0) {
        ck_assert_uint_eq(got, model[i]);
        py_remove(model, n--, i);
      }
      break;
    default: /* get */
      loop_rc(get_id(l, index, &got), i >= 0 ? 0 : -ERANGE);
      if (i >= 0 && got != model[i])
        ck_assert_msg(0, "op %d: l[%ld] is %u, expected %u", op, index,
                      (unsigned)got, (unsigned)model[i]);
    }
    if (op % 64 == 0)
      expect_ids(l, model, n);
  }
  expect_ids(l, model, n);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

START_TEST(clear_and_reuse) {
  enum { CAP = 8192 };
  mp_list *l = new_list(CAP, 128, 0);
  for (uint32_t k = 0; k < 100; k++)
    ck_rc(add_item(l, LONG_MAX, k, 40), 0);
  ck_rc(mp_list_clear(l), 0);
  expect(l, "");
  uint32_t id;
  ck_rc(get_id(l, 0, &id), -ERANGE);
  /* All the bytes came back: one item of exactly the capacity fits. */
  static unsigned char big[CAP];
  ck_rc(mp_list_append(l, big, sizeof big), 0);
  ck_rc(mp_list_clear(l), 0);
  ck_rc(mp_list_clear(l), 0); /* twice: still fine */
  uint32_t want[100];
  size_t n = 0;
  for (uint32_t k = 0; k < 100; k++) {
    ck_rc(add_item(l, k % 2 ? 0 : LONG_MAX, 1000 + k, 40), 0);
    n = py_insert(want, n, k % 2 ? 0 : LONG_MAX, 1000 + k);
  }
  expect_ids(l, want, n);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* ---- items --------------------------------------------------------------- */

START_TEST(items_in_order) {
  mp_list *l = new_list(0, 0, 0);
  uint32_t want[300] = {0};
  size_t n = 0;
  expect_ids(l, want, 0);
  for (uint32_t k = 0; k < 300; k++) {
    long at = k % 3 == 0 ? 0 : k % 3 == 1 ? LONG_MAX : (long)k / 5;
    ck_rc(add_item(l, at, k, IHDR + k % 50), 0);
    n = py_insert(want, n, at, k);
  }
  expect_ids(l, want, n);
  ck_rc(mp_list_items(l, NULL, NULL), -EINVAL);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

struct meddle {
  mp_list *l;
  unsigned calls, errors;
};

/* Pops the first item and appends another while walking: the walk goes on
 * over the snapshot. */
static int meddle_cb(size_t index, const void *item, size_t len, void *ctx) {
  struct meddle *m = ctx;
  uint32_t id = 0, popped = 0;
  m->calls++;
  if (!item_ok(item, len, &id) || id != index)
    m->errors++;
  if (pop_id(m->l, 0, &popped) != 0 || popped != id)
    m->errors++;
  if (add_item(m->l, LONG_MAX, 500 + id, 20) != 0)
    m->errors++;
  if (mp_list_len(m->l) != 200)
    m->errors++;
  return 0;
}

START_TEST(items_cb_may_use_list) {
  mp_list *l = new_list(0, 0, 0);
  uint32_t want[200];
  for (uint32_t k = 0; k < 200; k++) {
    ck_rc(add_item(l, LONG_MAX, k, 30), 0);
    want[k] = 500 + k;
  }
  struct meddle m = {l, 0, 0};
  ck_rc(mp_list_items(l, meddle_cb, &m), 0);
  ck_assert_uint_eq(m.calls, 200); /* the snapshot, none of the new items */
  ck_assert_uint_eq(m.errors, 0);
  expect_ids(l, want, 200);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

struct stopper {
  unsigned calls, stop_at;
  int ret;
};

static int stop_cb(size_t index, const void *item, size_t len, void *ctx) {
  (void)index;
  (void)item;
  (void)len;
  struct stopper *s = ctx;
  return ++s->calls == s->stop_at ? s->ret : 0;
}

START_TEST(items_stops_on_nonzero) {
  mp_list *l = new_list(0, 0, 0);
  for (uint32_t k = 0; k < 20; k++)
    ck_rc(add_item(l, LONG_MAX, k, 16), 0);
  struct stopper s = {0, 5, 42};
  ck_rc(mp_list_items(l, stop_cb, &s), 42);
  ck_assert_uint_eq(s.calls, 5);
  s = (struct stopper){0, 1, -7};
  ck_rc(mp_list_items(l, stop_cb, &s), -7);
  ck_assert_uint_eq(s.calls, 1);
  s = (struct stopper){0, 21, 1}; /* never reached */
  ck_rc(mp_list_items(l, stop_cb, &s), 0);
  ck_assert_uint_eq(s.calls, 20);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* ---- capacity ------------------------------------------------------------ */

START_TEST(full_by_bytes) {
  enum { CAP = 4096, MAXI = 64, LEN = 100 };
  mp_list *l = new_list(CAP, MAXI, 0);
  uint32_t want[MAXI];
  size_t n = 0;
  int rc;
  while ((rc = add_item(l, LONG_MAX, (uint32_t)n, LEN)) == 0) {
    want[n] = (uint32_t)n;
    ck_assert_uint_lt(++n, MAXI);
  }
  ck_rc(rc, -ENOSPC);
  ck_assert_uint_ge((n + 1) * (LEN + 15), CAP); /* at least the capacity */
  expect_ids(l, want, n);
  /* Failing again, anywhere, and growing an item change nothing. */
  ck_rc(add_item(l, 0, 99, LEN), -ENOSPC);
  ck_rc(add_item(l, 3, 99, LEN), -ENOSPC);
  ck_rc(add_item(l, -1, 99, LEN), -ENOSPC);
  ck_rc(set_item(l, 0, 99, IMAX), -ENOSPC);
  ck_rc(set_item(l, -1, 99, IMAX), -ENOSPC);
  expect_ids(l, want, n);
  /* Popping makes room for the item that did not fit. */
  uint32_t id;
  long mid = (long)n / 2;
  ck_rc(pop_id(l, mid, &id), 0);
  ck_assert_uint_eq(id, want[mid]);
  py_remove(want, n--, mid);
  ck_rc(add_item(l, 1, 1000, LEN), 0);
  n = py_insert(want, n, 1, 1000);
  expect_ids(l, want, n);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

START_TEST(full_by_items) {
  enum { MAXI = 16 };
  mp_list *l = new_list(64 * 1024, MAXI, 0);
  uint32_t want[MAXI];
  size_t n = 0;
  for (uint32_t k = 0; k < MAXI; k++) {
    ck_rc(add_item(l, k % 2 ? 0 : LONG_MAX, k, 20), 0);
    n = py_insert(want, n, k % 2 ? 0 : LONG_MAX, k);
  }
  ck_rc(add_item(l, LONG_MAX, 99, 20), -ENOSPC);
  ck_rc(add_item(l, 0, 99, 20), -ENOSPC);
  ck_rc(add_item(l, 7, 99, 20), -ENOSPC);
  ck_rc(mp_list_append(l, NULL, 0), -ENOSPC);
  expect_ids(l, want, n);
  /* Replacing is not a new item. */
  ck_rc(set_item(l, 3, 100, 300), 0);
  want[3] = 100;
  expect_ids(l, want, n);
  uint32_t id;
  ck_rc(pop_id(l, 5, &id), 0);
  ck_assert_uint_eq(id, want[5]);
  py_remove(want, n--, 5);
  ck_rc(add_item(l, 0, 101, 20), 0);
  n = py_insert(want, n, 0, 101);
  ck_rc(add_item(l, 0, 102, 20), -ENOSPC);
  expect_ids(l, want, n);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* max_items as given (the "at least 16" is the default's). */
START_TEST(small_max_items) {
  mp_list *l = new_list(4096, 5, 0);
  for (uint32_t k = 0; k < 5; k++)
    ck_rc(add_item(l, 0, k, 20), 0);
  int rc = add_item(l, 0, 5, 20);
  long len = mp_list_len(l);
  ck_rc(mp_list_destroy(l), 0); /* first: a failure leaves no segment */
  ck_rc(rc, -ENOSPC);
  ck_assert_int_eq(len, 5);
}
END_TEST

/* A fresh list holds max_items items whose bytes add up to exactly the
 * capacity; an item over the capacity never fits. */
START_TEST(exact_capacity) {
  enum { CAP = 4096, MAXI = 16 };
  static unsigned char big[CAP + 1];
  mp_list *l = new_list(CAP, MAXI, 0);
  ck_rc(mp_list_append(l, big, CAP), 0);
  ck_rc(mp_list_append(l, big, CAP + 1), -EMSGSIZE);
  ck_rc(mp_list_insert(l, 0, big, CAP + 1), -EMSGSIZE);
  ck_rc(mp_list_set(l, 0, big, CAP + 1), -EMSGSIZE);
  ck_rc(mp_list_set(l, 0, big, SIZE_MAX), -EMSGSIZE);
  ck_rc(mp_list_pop(l, 0, big, CAP, NULL), -EINVAL);
  size_t n;
  ck_rc(mp_list_pop(l, 0, big, CAP, &n), 0);
  ck_assert_uint_eq(n, CAP);
  for (int i = 0; i < MAXI; i++)
    ck_rc(mp_list_append(l, big, CAP / MAXI), 0);
  ck_assert_int_eq(mp_list_len(l), MAXI);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* 100 000 set and pop cycles of varying sizes, at varying places, on a
 * small list whose live bytes stay under half the capacity: nothing ever
 * fails, and the contents are right at the end. */
START_TEST(churn_does_not_fragment) {
  enum { CAP = 8192, MAXI = 64, CYCLES = 100000 };
  mp_list *l = new_list(CAP, MAXI, 0);
  uint32_t model[MAXI + 1], len[MAXI + 1], next = 1;
  size_t n = 0, live = 0;
  uint64_t s = 0x2545f4914f6cdd1dull;
  for (int c = 0; c < CYCLES; c++) {
    uint32_t sz = IHDR + (uint32_t)(t_rnd(&s) % (300 - IHDR)), got;
    /* Pop until the new item fits in half the capacity. */
    while (n > 0 && (live + sz > CAP / 2 || n == MAXI || t_rnd(&s) % 3 == 0)) {
      long at = (long)(t_rnd(&s) % n) - (long)(t_rnd(&s) % 2 ? n : 0);
      long i = py_index(n, at);
      loop_rc(pop_id(l, at, &got), 0);
      if (got != model[i])
        ck_assert_msg(0, "cycle %d: popped %u, expected %u", c, (unsigned)got,
                      (unsigned)model[i]);
      live -= len[i];
      py_remove(model, n, i);
      py_remove(len, n--, i);
    }
    if (n > 0 && t_rnd(&s) % 2) { /* set, when the new one fits beside */
      long i = (long)(t_rnd(&s) % n);
      if (live - len[i] + sz <= CAP / 2) {
        loop_rc(set_item(l, i, next, sz), 0);
        live += sz - len[i];
        model[i] = next++;
        len[i] = sz;
        continue;
      }
    }
    long at = (long)(t_rnd(&s) % (n + 1));
    loop_rc(add_item(l, at, next, sz), 0);
    py_insert(len, n, at, sz);
    n = py_insert(model, n, at, next++);
    live += sz;
  }
  expect_ids(l, model, n);
  /* Popping everything coalesces it all back: one capacity-sized item. */
  uint32_t got;
  while (n--)
    ck_rc(pop_id(l, -1, &got), 0);
  static unsigned char big[CAP];
  ck_rc(mp_list_append(l, big, CAP), 0);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* ---- bad input ----------------------------------------------------------- */

START_TEST(bad_input) {
  mp_list *l = (mp_list *)&l;
  mp_list_options big = {.capacity = MP_LIST_CAPACITY_MAX + 1};
  mp_list_options many = {.max_items = MP_LIST_MAX_ITEMS_MAX + 1};
  mp_list_options nan = {.timeout = NAN};
  ck_rc(mp_list_create(NULL, NULL, NULL), -EINVAL);
  ck_rc(mp_list_create(NULL, &big, &l), -EINVAL);
  ck_assert_ptr_null(l);
  big.capacity = SIZE_MAX;
  ck_rc(mp_list_create(NULL, &big, &l), -EINVAL);
  ck_rc(mp_list_create(NULL, &many, &l), -EINVAL);
  many.max_items = SIZE_MAX;
  ck_rc(mp_list_create(NULL, &many, &l), -EINVAL);
  ck_rc(mp_list_create(NULL, &nan, &l), -EINVAL);
  ck_rc(mp_list_create("bad", NULL, &l), -EINVAL);
  ck_rc(mp_list_open(NULL, &l), -EINVAL);
  ck_rc(mp_list_open("/mproc-x", NULL), -EINVAL);

  char buf[8];
  size_t n;
  void *p;
  struct lens c;
  ck_rc(mp_list_append(NULL, "v", 1), -EINVAL);
  ck_rc(mp_list_insert(NULL, 0, "v", 1), -EINVAL);
  ck_rc(mp_list_set(NULL, 0, "v", 1), -EINVAL);
  ck_rc(mp_list_get(NULL, 0, buf, sizeof buf, &n), -EINVAL);
  ck_rc(mp_list_get_alloc(NULL, 0, &p, &n), -EINVAL);
  ck_rc(mp_list_pop(NULL, 0, buf, sizeof buf, &n), -EINVAL);
  ck_rc(mp_list_pop_alloc(NULL, 0, &p, &n), -EINVAL);
  ck_assert_int_eq(mp_list_len(NULL), -EINVAL);
  ck_rc(mp_list_clear(NULL), -EINVAL);
  ck_rc(mp_list_items(NULL, count_lens, &c), -EINVAL);
  ck_assert_ptr_null(mp_list_name(NULL));
  ck_rc(mp_list_close(NULL), 0);
  ck_rc(mp_list_destroy(NULL), 0);
  /* Not a list. */
  uint64_t junk[8] = {0};
  ck_rc(mp_list_append((mp_list *)junk, "v", 1), -EINVAL);
  ck_assert_int_eq(mp_list_len((mp_list *)junk), -EINVAL);

  /* Negative and huge timeouts wait forever: valid. */
  mp_list_options forever = {.capacity = 4096, .timeout = MP_FOREVER};
  ck_rc(mp_list_create(NULL, &forever, &l), 0);
  ck_rc(mp_list_destroy(l), 0);
  forever.timeout = 2 * MP_TIMEOUT_MAX;
  ck_rc(mp_list_create(NULL, &forever, &l), 0);
  ck_rc(mp_list_destroy(l), 0);

  l = new_list(4096, 0, 0);
  ck_rc(append_str(l, "1"), 0);
  ck_rc(mp_list_append(l, NULL, 1), -EINVAL);
  ck_rc(mp_list_insert(l, 0, NULL, 1), -EINVAL);
  ck_rc(mp_list_set(l, 0, NULL, 1), -EINVAL);
  ck_rc(mp_list_get(l, 0, buf, sizeof buf, NULL), -EINVAL);
  ck_rc(mp_list_get(l, 0, NULL, 8, &n), -EINVAL);
  ck_rc(mp_list_get_alloc(l, 0, NULL, &n), -EINVAL);
  ck_rc(mp_list_get_alloc(l, 0, &p, NULL), -EINVAL);
  ck_rc(mp_list_pop(l, 0, buf, sizeof buf, NULL), -EINVAL);
  ck_rc(mp_list_pop(l, 0, NULL, 8, &n), -EINVAL);
  ck_rc(mp_list_pop_alloc(l, 0, NULL, &n), -EINVAL);
  ck_rc(mp_list_pop_alloc(l, 0, &p, NULL), -EINVAL);
  ck_rc(mp_list_items(l, NULL, NULL), -EINVAL);
  static unsigned char large[8192];
  ck_rc(mp_list_append(l, large, 4097), -EMSGSIZE);
  ck_rc(mp_list_append(l, large, SIZE_MAX), -EMSGSIZE);
  expect(l, "1");

  /* Names: taken, closed twice. */
  mp_list *e;
  ck_rc(mp_list_create(mp_list_name(l), NULL, &e), -EEXIST);
  ck_rc(mp_list_open(mp_list_name(l), &e), 0);
  expect(e, "1");
  ck_rc(mp_list_close(e), 0);
  ck_rc(mp_list_close(e), -EINVAL);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

START_TEST(open_kinds) {
  mp_dict *d;
  mp_queue *q;
  mp_list *l, *e = (mp_list *)&e;
  ck_rc(mp_dict_create(NULL, NULL, &d), 0);
  ck_rc(mp_queue_create(NULL, NULL, &q), 0);
  ck_rc(mp_list_open(mp_dict_name(d), &e), MP_EKIND);
  ck_assert_ptr_null(e);
  ck_rc(mp_list_open(mp_queue_name(q), &e), MP_EKIND);
  l = new_list(4096, 0, 0);
  mp_dict *d2;
  ck_rc(mp_dict_open(mp_list_name(l), &d2), MP_EKIND);
  char name[MP_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", mp_list_name(l));
  ck_rc(mp_list_destroy(l), 0);
  ck_rc(mp_list_open(name, &e), -ENOENT);
  ck_rc(mp_dict_destroy(d), 0);
  ck_rc(mp_queue_destroy(q), 0);
}
END_TEST

struct kind_find {
  const char *name;
  const char *kind;
};

static int find_kind(const mp_shm_info *info, void *ctx) {
  struct kind_find *f = ctx;
  if (strcmp(info->name, f->name) == 0)
    f->kind = info->kind;
  return 0;
}

START_TEST(listed_as_list) {
  mp_list *l = new_list(4096, 0, 0);
  struct kind_find f = {mp_list_name(l), NULL};
  ck_rc(mp_shm_list(find_kind, &f), 0);
  ck_assert_ptr_nonnull(f.kind);
  ck_assert_str_eq(f.kind, "list");
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* ---- processes and threads ----------------------------------------------- */

struct open_arg {
  char name[MP_NAME_MAX + 1];
};

/* Opens the list by name, checks what the parent put there, changes it. */
static int open_child(void *arg) {
  const struct open_arg *a = arg;
  mp_list *l;
  char buf[16];
  size_t n;
  if (mp_list_open(a->name, &l) != 0)
    return 31;
  if (mp_list_len(l) != 2)
    return 32;
  if (mp_list_get(l, -1, buf, sizeof buf, &n) != 0 || n != 6 ||
      memcmp(buf, "parent", 6) != 0)
    return 33;
  if (mp_list_set(l, 0, "child", 5) != 0 || mp_list_append(l, "end", 3) != 0)
    return 34;
  return mp_list_close(l) == 0 ? 0 : 35;
}

START_TEST(open_from_forked_child) {
  mp_list *l = new_list(4096, 0, 0);
  ck_rc(append_str(l, "first"), 0);
  ck_rc(append_str(l, "parent"), 0);
  struct open_arg a;
  snprintf(a.name, sizeof a.name, "%s", mp_list_name(l));
  ck_assert_int_eq(t_wait(t_fork(open_child, &a)), 0);
  expect(l, "child parent end");
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

struct worker_arg {
  char name[MP_NAME_MAX + 1];
  uint32_t id;
};

#define PER_WORKER 100

/* The seeds' Manager().list() pattern: each worker appends its results to
 * the list it opens by name. */
static int list_manager_worker(void *arg) {
  const struct worker_arg *a = arg;
  mp_list *l;
  if (mp_list_open(a->name, &l) != 0)
    return 31;
  for (uint32_t j = 0; j < PER_WORKER; j++)
    if (add_item(l, LONG_MAX, a->id << 16 | j, IHDR + j) != 0)
      return 32;
  return mp_list_close(l) == 0 ? 0 : 33;
}
MP_REGISTER(list_manager_worker)

START_TEST(workers_share_a_list) {
  static const mp_start_method methods[] = {MP_START_FORK, MP_START_SPAWN};
  enum { NW = 4 };
  mp_list *l = new_list(0, 0, 0);
  mp_process *p[NW];
  struct worker_arg a[NW];
  for (uint32_t i = 0; i < NW; i++) {
    memset(&a[i], 0, sizeof a[i]);
    snprintf(a[i].name, sizeof a[i].name, "%s", mp_list_name(l));
    a[i].id = i;
    mp_process_options o = {.method = methods[_i], .arg_size = sizeof a[i]};
    ck_rc(mp_process_create(list_manager_worker, &a[i], &o, &p[i]), 0);
    ck_rc(mp_process_start(p[i]), 0);
  }
  for (int i = 0; i < NW; i++) {
    int code = -1000;
    ck_rc(mp_process_join(p[i], 15.0), 0);
    ck_rc(mp_process_exitcode(p[i], &code), 0);
    ck_assert_int_eq(code, 0);
    ck_rc(mp_process_close(p[i]), 0);
  }
  uint32_t ids[NW * PER_WORKER], next[NW] = {0};
  ck_assert_uint_eq(snapshot(l, ids, NW * PER_WORKER), NW * PER_WORKER);
  for (int i = 0; i < NW * PER_WORKER; i++) {
    uint32_t w = ids[i] >> 16;
    ck_assert_uint_lt(w, NW);
    ck_assert_uint_eq(ids[i] & 0xffff, next[w]++); /* each in its order */
  }
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* Children wait on go[0] until the parent closes go[1]: they start
 * together. */
struct crowd {
  mp_list *l;
  int go[2];
  uint32_t id;
  unsigned char *seen; /* shared: how often each item was popped */
};

static bool wait_go(struct crowd *c) {
  close(c->go[1]);
  char x;
  return read(c->go[0], &x, 1) == 0; /* EOF: go */
}

#define NAPP 20000

static int appender(void *arg) {
  struct crowd *c = arg;
  if (!wait_go(c))
    return 40;
  for (uint32_t j = 0; j < NAPP; j++) {
    uint32_t item[2] = {c->id, j};
    if (mp_list_append(c->l, item, sizeof item) != 0)
      return 41;
  }
  return 0;
}

struct order_check {
  uint32_t next[4];
  unsigned bad;
};

static int order_cb(size_t index, const void *item, size_t len, void *ctx) {
  (void)index;
  struct order_check *o = ctx;
  uint32_t v[2];
  if (len != sizeof v) {
    o->bad++;
    return 0;
  }
  memcpy(v, item, sizeof v);
  if (v[0] >= 4 || v[1] != o->next[v[0]]) /* once each, in order */
    o->bad++;
  else
    o->next[v[0]]++;
  return 0;
}

START_TEST(appends_keep_order) {
  enum { NW = 4 };
  mp_list *l = new_list(NW * NAPP * 8, NW * NAPP, 0);
  struct crowd c[NW];
  pid_t pid[NW];
  int go[2];
  t_pipe(go);
  for (uint32_t i = 0; i < NW; i++) {
    c[i] = (struct crowd){l, {go[0], go[1]}, i, NULL};
    pid[i] = t_fork(appender, &c[i]);
  }
  close(go[1]); /* go */
  for (int i = 0; i < NW; i++)
    ck_assert_int_eq(t_wait(pid[i]), 0);
  close(go[0]);
  ck_assert_int_eq(mp_list_len(l), NW * NAPP);
  struct order_check o = {{0}, 0};
  ck_rc(mp_list_items(l, order_cb, &o), 0);
  ck_assert_uint_eq(o.bad, 0);
  for (int i = 0; i < NW; i++)
    ck_assert_uint_eq(o.next[i], NAPP);
  uint32_t v[2];
  size_t n = 0;
  ck_rc(mp_list_append(l, v, sizeof v), -ENOSPC); /* max_items reached */
  ck_rc(mp_list_pop(l, -1, v, sizeof v, &n), 0);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

#define NPOP 40000

/* Pops from the end, the front, and now and then the middle, until the
 * list is empty; counts every item it got in seen. */
static int popper(void *arg) {
  struct crowd *c = arg;
  if (!wait_go(c))
    return 50;
  for (uint32_t k = 0;; k++) {
    uint32_t id;
    size_t n = 0;
    long at = k % 256 == 255 ? 1 : (k + c->id) % 2 ? -1 : 0;
    int rc = mp_list_pop(c->l, at, &id, sizeof id, &n);
    if (rc == -ERANGE && at == 1)
      continue; /* fewer than 2 left: an end next time */
    if (rc == -ERANGE)
      return 0; /* empty */
    if (rc != 0 || n != sizeof id || id >= NPOP)
      return 51;
    __atomic_fetch_add(&c->seen[id], 1, __ATOMIC_RELAXED);
  }
}

START_TEST(pops_deliver_once) {
  enum { NW = 4 };
  mp_list *l = new_list(NPOP * 8, NPOP, 0);
  for (uint32_t i = 0; i < NPOP; i++)
    loop_rc(mp_list_append(l, &i, sizeof i), 0);
  unsigned char *seen = shared(NPOP);
  struct crowd c[NW];
  pid_t pid[NW];
  int go[2];
  t_pipe(go);
  for (uint32_t i = 0; i < NW; i++) {
    c[i] = (struct crowd){l, {go[0], go[1]}, i, seen};
    pid[i] = t_fork(popper, &c[i]);
  }
  close(go[1]);
  for (int i = 0; i < NW; i++)
    ck_assert_int_eq(t_wait(pid[i]), 0);
  close(go[0]);
  ck_assert_int_eq(mp_list_len(l), 0);
  for (uint32_t i = 0; i < NPOP; i++)
    if (seen[i] != 1)
      ck_assert_msg(0, "item %u popped %u times", (unsigned)i,
                    (unsigned)seen[i]);
  munmap(seen, NPOP);
  /* Everything came back. */
  static unsigned char big[NPOP * 8];
  ck_rc(mp_list_append(l, big, sizeof big), 0);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

#define TN 4
#define TPER 5000

struct tcrowd {
  mp_list *l;
  uint32_t id;
  int err;
  unsigned char *seen;
  pthread_barrier_t *all_added;
};

/* Each thread adds its items at either end; once all have, each pops
 * until the list is empty. */
static void *thread_mix(void *arg) {
  struct tcrowd *t = arg;
  for (uint32_t j = 0; j < TPER; j++) {
    uint32_t v = t->id * TPER + j;
    int rc = j % 2 ? mp_list_append(t->l, &v, sizeof v)
                   : mp_list_insert(t->l, 0, &v, sizeof v);
    if (rc != 0)
      t->err = 1;
  }
  pthread_barrier_wait(t->all_added);
  for (uint32_t k = 0;; k++) {
    uint32_t v;
    size_t n;
    int rc = mp_list_pop(t->l, k % 2 ? 0 : -1, &v, sizeof v, &n);
    if (rc == -ERANGE)
      break;
    if (rc != 0 || v >= TN * TPER)
      t->err = 2;
    else
      __atomic_fetch_add(&t->seen[v], 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

START_TEST(threads_share_a_list) {
  mp_list *l = new_list(TN * TPER * 8, TN * TPER, 0);
  static unsigned char seen[TN * TPER];
  memset(seen, 0, sizeof seen);
  pthread_t th[TN];
  struct tcrowd t[TN];
  pthread_barrier_t all_added;
  ck_assert_int_eq(pthread_barrier_init(&all_added, NULL, TN), 0);
  for (uint32_t i = 0; i < TN; i++) {
    t[i] = (struct tcrowd){l, i, 0, seen, &all_added};
    ck_assert_int_eq(pthread_create(&th[i], NULL, thread_mix, &t[i]), 0);
  }
  for (int i = 0; i < TN; i++) {
    ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(t[i].err, 0);
  }
  pthread_barrier_destroy(&all_added);
  ck_assert_int_eq(mp_list_len(l), 0);
  for (uint32_t i = 0; i < TN * TPER; i++)
    if (seen[i] != 1)
      ck_assert_msg(0, "item %u popped %u times", (unsigned)i,
                    (unsigned)seen[i]);
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* ---- the timeout --------------------------------------------------------- */

#define BIG (1u << 20)

struct stopped {
  mp_list *l;
  uint64_t *progress; /* shared: operations done */
};

/* Replaces item 0 by 1 MiB items, for ever: most of its time is spent
 * inside an operation, copying. */
static int big_setter(void *arg) {
  struct stopped *s = arg;
  static unsigned char a[BIG], b[BIG];
  memset(a, 'a', BIG);
  memset(b, 'b', BIG);
  for (uint64_t k = 0;; k++) {
    int rc = mp_list_set(s->l, 0, k % 2 ? a : b, BIG);
    if (rc != 0 && rc != -ETIMEDOUT)
      return 60;
    __atomic_store_n(s->progress, k + 1, __ATOMIC_RELAXED);
  }
}

/* A process stopped inside an operation: the others wait for the list's
 * timeout and fail with -ETIMEDOUT, changing nothing; once it is killed
 * there, the list is repaired and whole. */
START_TEST(timeout_while_stopped) {
  mp_list *l = new_list(4 * BIG, 16, 0.05);
  static unsigned char item[BIG];
  ck_rc(mp_list_append(l, item, BIG), 0);
  struct stopped s = {l, shared(sizeof(uint64_t))};
  pid_t pid = t_fork(big_setter, &s);
  bool timed_out = false;
  for (int tries = 0; tries < 100 && !timed_out; tries++) {
    /* Let it run a few operations, then stop it wherever it is. */
    uint64_t at = __atomic_load_n(s.progress, __ATOMIC_RELAXED);
    double t0 = t_now();
    while (__atomic_load_n(s.progress, __ATOMIC_RELAXED) < at + 2)
      ck_assert_msg(t_now() - t0 < 10.0, "the child makes no progress");
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
    ck_assert(WIFSTOPPED(st));
    t0 = t_now();
    long n = mp_list_len(l);
    double took = t_now() - t0;
    if (n == -ETIMEDOUT) {
      timed_out = true;
      ck_assert_msg(took >= 0.045 && took < 2.0, "timed out after %.3f s",
                    took);
      ck_rc(mp_list_append(l, "x", 1), -ETIMEDOUT);
      size_t len = 0;
      ck_rc(mp_list_pop(l, 0, item, BIG, &len), -ETIMEDOUT);
      ck_rc(mp_list_clear(l), -ETIMEDOUT);
      break; /* killed below, stopped inside the operation */
    }
    ck_assert_int_eq(n, 1); /* stopped between two operations */
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
  }
  ck_assert_msg(timed_out, "never stopped inside an operation");
  t_kill(pid);
  /* The set in progress was rolled back or completed: a whole item. */
  size_t n = 0;
  ck_assert_int_eq(mp_list_len(l), 1);
  ck_rc(mp_list_get(l, 0, item, BIG, &n), 0);
  ck_assert_uint_eq(n, BIG);
  ck_assert(item[0] == 'a' || item[0] == 'b' || item[0] == 0);
  for (size_t i = 1; i < BIG; i++)
    if (item[i] != item[0])
      ck_assert_msg(0, "torn item at byte %zu", i);
  ck_rc(mp_list_append(l, "y", 1), 0); /* usable */
  ck_assert_int_eq(mp_list_len(l), 2);
  munmap(s.progress, sizeof(uint64_t));
  ck_rc(mp_list_destroy(l), 0);
}
END_TEST

/* ---- killed mid-update --------------------------------------------------- */

#define KW 3        /* workers in crowded rounds */
#define KMAX 96     /* max_items */
#define KROUNDS 300 /* at most; at least 40, stopping after 3 s */
#define KPOPLOG 65536

enum { K_ADD = 1, K_SET, K_POP };

/* What a worker is doing, in shared memory. busy is set before an update
 * and cleared after its result is logged; op and id say which update. */
struct klog {
  uint32_t busy, op, id, nextseq;
  uint32_t adds;    /* crowded rounds: committed adds */
  uint32_t npopped; /* crowded rounds: ids its pops returned */
  uint32_t popped[KPOPLOG];
  int started[2]; /* pipe: "I am running" */
};

/* Solo rounds: ids[active] is the list before the update in flight,
 * ids[!active] the list after it (while busy). */
struct kshared {
  mp_list *l;
  uint32_t active;
  uint32_t n[2];
  uint32_t ids[2][KMAX];
  struct klog w[KW];
};

struct kworker {
  struct kshared *ks;
  uint32_t id;
};

static uint32_t kid(uint32_t w, uint32_t seq) { return (w + 1) << 24 | seq; }

static uint32_t klen(uint64_t *s) {
  return IHDR + (uint32_t)(t_rnd(s) % 2 ? 8 : t_rnd(s) % 200);
}

/* Alone on the list: knows its contents exactly (Python's rules), and
 * checks every result. */
static int solo_worker(void *arg) {
  struct kworker *kw = arg;
  struct kshared *ks = kw->ks;
  struct klog *log = &ks->w[0];
  mp_list *l = ks->l;
  uint64_t s = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
  double t0 = t_now();
  for (uint32_t k = 0;; k++) {
    if (k == 100)
      t_send(log->started[1]);
    if ((k & 1023) == 0 && t_now() - t0 > 10.0)
      return 30; /* never killed: give up */
    uint32_t a = ks->active, n = ks->n[a], *now = ks->ids[a],
             *next = ks->ids[!a];
    uint32_t r = (uint32_t)(t_rnd(&s) % 10), id = kid(0, log->nextseq), got = 0;
    long index = (long)(t_rnd(&s) % (2 * n + 3)) - (long)n - 1;
    long i = py_index(n, index);
    int expected = 0, rc;
    memcpy(next, now, n * sizeof *now);
    if (r < 5 && n < KMAX * 3 / 4) { /* append or insert */
      r = 0;
      if (t_rnd(&s) % 2)
        index = LONG_MAX;
      ks->n[!a] = (uint32_t)py_insert(next, n, index, id);
    } else if (r < 7) { /* set */
      r = 1;
      if (i >= 0)
        next[i] = id;
      ks->n[!a] = n;
      expected = i >= 0 ? 0 : -ERANGE;
    } else { /* pop, at an end half the time */
      r = 2;
      if (t_rnd(&s) % 2)
        i = py_index(n, index = t_rnd(&s) % 2 ? 0 : -1);
      if (i >= 0)
        py_remove(next, n, i);
      ks->n[!a] = i >= 0 ? n - 1 : n;
      expected = i >= 0 ? 0 : -ERANGE;
    }
    log->nextseq++;
    __atomic_store_n(&log->busy, 1, __ATOMIC_SEQ_CST);
    if (r == 0)
      rc = add_item(l, index, id, klen(&s));
    else if (r == 1)
      rc = set_item(l, index, id, klen(&s));
    else {
      rc = pop_id(l, index, &got);
      if (rc == 0 && got != now[i])
        return 11; /* popped the wrong item */
    }
    if (rc != expected && !(rc == -ENOSPC && r < 2))
      return rc == 1 ? 12 : 13;
    if (rc == 0)
      __atomic_store_n(&ks->active, !a, __ATOMIC_SEQ_CST);
    __atomic_store_n(&log->busy, 0, __ATOMIC_SEQ_CST);
    if (k % 8 == 0) { /* an item holds what we wrote */
      a = ks->active;
      n = ks->n[a];
      i = n ? (long)(t_rnd(&s) % n) : 0;
      rc = get_id(l, i, &got);
      if (rc != (n ? 0 : -ERANGE) || (n && got != ks->ids[a][i]))
        return 14;
    }
  }
}

/* With others: logs its adds, the ids its pops return, its update in
 * flight. */
static int crowd_worker(void *arg) {
  struct kworker *kw = arg;
  struct klog *log = &kw->ks->w[kw->id];
  mp_list *l = kw->ks->l;
  uint64_t s = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
  double t0 = t_now();
  for (uint32_t k = 0;; k++) {
    if (k == 100)
      t_send(log->started[1]);
    if ((k & 1023) == 0 && t_now() - t0 > 10.0)
      return 30;
    long n = mp_list_len(l);
    if (n < 0)
      return 20;
    long index = (long)(t_rnd(&s) % (uint64_t)(2 * n + 3)) - n - 1;
    uint32_t r = (uint32_t)(t_rnd(&s) % 10), id = kid(kw->id, log->nextseq);
    log->op = r < 5 && n < KMAX * 3 / 4 ? K_ADD : r < 7 ? K_SET : K_POP;
    log->id = id;
    log->nextseq++;
    __atomic_store_n(&log->busy, 1, __ATOMIC_SEQ_CST);
    int rc;
    uint32_t got = 0;
    if (log->op == K_ADD) {
      rc = add_item(l, t_rnd(&s) % 2 ? LONG_MAX : index, id, klen(&s));
      if (rc == 0)
        __atomic_store_n(&log->adds, log->adds + 1, __ATOMIC_SEQ_CST);
    } else if (log->op == K_SET) {
      rc = set_item(l, index, id, klen(&s));
    } else {
      rc = pop_id(l, t_rnd(&s) % 2 ? index : t_rnd(&s) % 2 ? 0 : -1, &got);
      if (rc == 0) {
        if (log->npopped == KPOPLOG)
          return 21;
        log->popped[log->npopped] = got;
        __atomic_store_n(&log->npopped, log->npopped + 1, __ATOMIC_SEQ_CST);
      }
    }
    if (rc != 0 && rc != -ERANGE && rc != -ENOSPC)
      return rc == 1 ? 22 : 23;
    __atomic_store_n(&log->busy, 0, __ATOMIC_SEQ_CST);
  }
}

static int cmp_u32(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  return a < b ? -1 : a > b;
}

static bool has(const uint32_t *sorted, size_t n, uint32_t id) {
  return bsearch(&id, sorted, n, sizeof id, cmp_u32) != NULL;
}

/* After a crowded round: every item whole and there once, added before or
 * during the round, not one a pop returned; pops returned items that were
 * there, each once; the length adds up, give or take the updates in
 * flight. */
static void check_crowd(struct kshared *ks, int round, const uint32_t *start,
                        size_t n0, const uint32_t *seq0, const uint32_t *now,
                        size_t n) {
  uint32_t s0[KMAX], cur[KMAX];
  memcpy(s0, start, n0 * sizeof *s0);
  memcpy(cur, now, n * sizeof *cur);
  qsort(s0, n0, sizeof *s0, cmp_u32);
  qsort(cur, n, sizeof *cur, cmp_u32);
  for (size_t i = 1; i < n; i++)
    ck_assert_msg(cur[i] != cur[i - 1], "round %d: item %x twice", round,
                  (unsigned)cur[i]);
  long expect_len = (long)n0, lo = 0, hi = 0;
  for (uint32_t w = 0; w < KW; w++) {
    const struct klog *log = &ks->w[w];
    expect_len += (long)log->adds - (long)log->npopped;
    if (log->busy && log->op == K_ADD)
      hi++;
    if (log->busy && log->op == K_POP)
      lo--;
  }
  ck_assert_msg((long)n >= expect_len + lo && (long)n <= expect_len + hi,
                "round %d: %zu items, expected %ld (%+ld..%+ld)", round, n,
                expect_len, lo, hi);
  for (size_t i = 0; i < n; i++) {
    uint32_t w = (cur[i] >> 24) - 1, seq = cur[i] & 0xffffff;
    ck_assert_msg(has(s0, n0, cur[i]) ||
                      (w < KW && seq >= seq0[w] && seq < ks->w[w].nextseq),
                  "round %d: item %x was never added", round, (unsigned)cur[i]);
  }
  /* Popped ids: sorted together, none twice, none still there. */
  size_t np = 0;
  for (uint32_t w = 0; w < KW; w++)
    np += ks->w[w].npopped;
  uint32_t *all = malloc((np ? np : 1) * sizeof *all);
  ck_assert_ptr_nonnull(all);
  np = 0;
  for (uint32_t w = 0; w < KW; w++)
    for (uint32_t j = 0; j < ks->w[w].npopped; j++)
      all[np++] = ks->w[w].popped[j];
  qsort(all, np, sizeof *all, cmp_u32);
  for (size_t j = 0; j < np; j++) {
    uint32_t w = (all[j] >> 24) - 1, seq = all[j] & 0xffffff;
    ck_assert_msg(j == 0 || all[j] != all[j - 1], "round %d: %x popped twice",
                  round, (unsigned)all[j]);
    ck_assert_msg(!has(cur, n, all[j]), "round %d: %x popped and still there",
                  round, (unsigned)all[j]);
    ck_assert_msg(has(s0, n0, all[j]) ||
                      (w < KW && seq >= seq0[w] && seq < ks->w[w].nextseq),
                  "round %d: popped %x, never added", round, (unsigned)all[j]);
  }
  free(all);
}

START_TEST(killed_mid_update) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, sizeof(struct kshared), &shm), 0);
  struct kshared *ks = mp_shm_buf(shm);
  memset(ks, 0, sizeof *ks);
  ks->l = new_list(64 * 1024, KMAX, 0);
  for (int w = 0; w < KW; w++)
    t_pipe(ks->w[w].started);
  srand((unsigned)getpid());
  double start = t_now();
  for (int round = 0; round < KROUNDS; round++) {
    if (round >= 40 && t_now() - start > 3.0)
      break;
    /* Alternately one worker alone (always running when killed, and
     * checked exactly) and several (contending for the list's lock). */
    bool solo = round % 2 == 0;
    uint32_t nw = solo ? 1 : KW, seq0[KW], start_ids[KMAX];
    size_t n0 = ks->n[ks->active];
    memcpy(start_ids, ks->ids[ks->active], n0 * sizeof *start_ids);
    pid_t pid[KW];
    struct kworker kw[KW];
    for (uint32_t w = 0; w < KW; w++) {
      seq0[w] = ks->w[w].nextseq;
      ks->w[w].adds = ks->w[w].npopped = 0;
    }
    for (uint32_t w = 0; w < nw; w++) {
      kw[w] = (struct kworker){ks, w};
      pid[w] = t_fork(solo ? solo_worker : crowd_worker, &kw[w]);
    }
    for (uint32_t w = 0; w < nw; w++)
      ck_assert(t_recv(ks->w[w].started[0]));
    usleep((useconds_t)(rand() % 2000));
    for (uint32_t w = 0; w < nw; w++) {
      kill(pid[w], SIGKILL);
      int st = t_wait(pid[w]);
      ck_assert_msg(st == -SIGKILL, "round %d: worker %d exited with %d", round,
                    (int)w, st);
    }
    double t0 = t_now();
    uint32_t now[KMAX];
    size_t n = snapshot(ks->l, now, KMAX); /* every item whole */
    if (solo) { /* exactly the list before or after the update in flight */
      uint32_t a = ks->active;
      bool before = n == ks->n[a] && !memcmp(now, ks->ids[a], n * sizeof *now);
      bool after = ks->w[0].busy && n == ks->n[!a] &&
                   !memcmp(now, ks->ids[!a], n * sizeof *now);
      ck_assert_msg(before || after,
                    "round %d: %zu items match neither the %u before nor the "
                    "%u after the update%s",
                    round, n, (unsigned)ks->n[a], (unsigned)ks->n[!a],
                    ks->w[0].busy ? " in flight" : "");
    } else {
      check_crowd(ks, round, start_ids, n0, seq0, now, n);
    }
    /* The list is what we saw, for the next round; and it is usable. */
    memcpy(ks->ids[ks->active], now, n * sizeof *now);
    ks->n[ks->active] = (uint32_t)n;
    for (uint32_t w = 0; w < KW; w++)
      ks->w[w].busy = 0;
    uint32_t got;
    ck_rc(add_item(ks->l, 0, 0xfffffff0u, 40), n < KMAX ? 0 : -ENOSPC);
    if (n < KMAX) {
      ck_rc(pop_id(ks->l, 0, &got), 0);
      ck_assert_uint_eq(got, 0xfffffff0u);
    }
    double took = t_now() - t0;
    ck_assert_msg(took < (t_instrumented() ? 5.0 : 1.0),
                  "round %d: checks took %.3f s", round, took);
  }
  for (int w = 0; w < KW; w++) {
    close(ks->w[w].started[0]);
    close(ks->w[w].started[1]);
  }
  ck_rc(mp_list_destroy(ks->l), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

Suite *list_suite(void) {
  Suite *s = suite_create("list");
  TCase *tc = tcase_create("basics");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, append_get_set);
  tcase_add_test(tc, insert_indices);
  tcase_add_test(tc, pop_indices);
  tcase_add_test(tc, small_buffer_keeps_item);
  tcase_add_test(tc, empty_items);
  tcase_add_test(tc, random_ops_match_model);
  tcase_add_test(tc, clear_and_reuse);
  tcase_add_test(tc, items_in_order);
  tcase_add_test(tc, items_cb_may_use_list);
  tcase_add_test(tc, items_stops_on_nonzero);
  tcase_add_test(tc, bad_input);
  tcase_add_test(tc, open_kinds);
  tcase_add_test(tc, listed_as_list);
  suite_add_tcase(s, tc);

  tc = tcase_create("capacity");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, full_by_bytes);
  tcase_add_test(tc, full_by_items);
  tcase_add_test(tc, small_max_items);
  tcase_add_test(tc, exact_capacity);
  tcase_add_test(tc, churn_does_not_fragment);
  suite_add_tcase(s, tc);

  tc = tcase_create("processes");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, open_from_forked_child);
  tcase_add_loop_test(tc, workers_share_a_list, 0, 2);
  tcase_add_test(tc, appends_keep_order);
  tcase_add_test(tc, pops_deliver_once);
  tcase_add_test(tc, threads_share_a_list);
  tcase_add_test(tc, timeout_while_stopped);
  tcase_add_test(tc, killed_mid_update);
  suite_add_tcase(s, tc);
  return s;
}
