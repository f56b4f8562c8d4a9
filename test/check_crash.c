/*
 * test/check_crash.c - a holder killed at every crash point of an update.
 *
 * With MPROC_CRASH=N (lib/fault.c) a process kills itself with SIGKILL at
 * the N-th crash point it passes: inside an undo-record update, around a
 * table switch, between the moves of a heap swap, inside the allocator. For
 * each update of the dict, the list and the heap queues, a child runs it
 * with N = 1, 2, ... until it completes; after each death the parent finds
 * the object exactly as before or exactly as after the update (never
 * anything else), its counts right, its storage whole (an item of the full
 * capacity fits once it is emptied: nothing leaked, everything coalesced),
 * and the object usable. Deterministic, unlike the random kills of the
 * module suites.
 */
#include "tests.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP 4096      /* bytes of items of every object here */
#define MAX_POINTS 400 /* more crash points than any update passes */

/* ---- canonical contents: one string per state ---------------------------- */

struct text {
  char s[8192];
  size_t n;
};

static void add(struct text *t, const void *p, size_t len, char end) {
  if (t->n + len + 1 < sizeof t->s) {
    memcpy(t->s + t->n, p, len);
    t->n += len;
    t->s[t->n++] = end;
    t->s[t->n] = '\0';
  }
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the ';'-terminated records of t (dict order is unspecified). */
static void sort_records(struct text *t) {
  char *rec[128], copy[sizeof t->s];
  size_t n = 0;
  memcpy(copy, t->s, t->n + 1);
  for (char *p = copy; *p && n < 128; n++) {
    rec[n] = p;
    p = strchr(p, ';');
    *p++ = '\0';
  }
  qsort(rec, n, sizeof *rec, cmp_str);
  t->n = 0;
  for (size_t i = 0; i < n; i++)
    add(t, rec[i], strlen(rec[i]), ';');
}

/* ---- the objects ------------------------------------------------------------ */

enum kind { DICT, LIST, LIFO, PRIO };

struct obj {
  enum kind kind;
  mp_dict *d;
  mp_list *l;
  mp_queue *q;
};

static int dict_rec(const void *k, size_t kl, const void *v, size_t vl,
                    void *ctx) {
  struct text *t = ctx;
  char buf[512];
  int n = snprintf(buf, sizeof buf, "%.*s=%.*s", (int)kl, (const char *)k,
                   (int)vl, (const char *)v);
  add(t, buf, (size_t)n, ';');
  return 0;
}

static int list_rec(size_t i, const void *item, size_t len, void *ctx) {
  (void)i;
  add(ctx, item, len, ';');
  return 0;
}

/* The contents as text. A queue is drained (in its order) and refilled. */
static void contents(struct obj *o, struct text *t) {
  t->n = 0;
  t->s[0] = '\0';
  switch (o->kind) {
  case DICT:
    ck_rc(mp_dict_items(o->d, dict_rec, t), 0);
    sort_records(t);
    break;
  case LIST:
    ck_rc(mp_list_items(o->l, list_rec, t), 0);
    break;
  default: {
    char msg[CAP], all[64][256];
    int64_t prio[64];
    size_t len, n = 0;
    while (n < 64 && mp_queue_get_priority(o->q, msg, sizeof msg, &len,
                                           &prio[n], 0) == 0) {
      memcpy(all[n], msg, len < 255 ? len : 255);
      all[n][len < 255 ? len : 255] = '\0';
      add(t, all[n], strlen(all[n]), ';');
      n++;
    }
    ck_assert_int_eq(mp_queue_qsize(o->q), 0);
    for (size_t k = 0; k < n; k++) { /* put back: they come out the same */
      size_t i = o->kind == LIFO ? n - 1 - k : k;
      ck_rc(mp_queue_put_priority(o->q, prio[i], all[i], strlen(all[i]), 0),
            0);
    }
  }
  }
}

/* Items in the object, by its own count. */
static long count_of(struct obj *o) {
  switch (o->kind) {
  case DICT: return mp_dict_len(o->d);
  case LIST: return mp_list_len(o->l);
  default: return mp_queue_qsize(o->q);
  }
}

/* Empty it, then store one item of the whole capacity: fails if any block
 * leaked or the free space was left in pieces. Empty it again. */
static void check_storage(struct obj *o) {
  static char big[CAP];
  memset(big, 'z', sizeof big);
  switch (o->kind) {
  case DICT:
    ck_rc(mp_dict_clear(o->d), 0);
    ck_rc(mp_dict_set(o->d, "k", 1, big, CAP - 1), 0);
    ck_rc(mp_dict_clear(o->d), 0);
    break;
  case LIST:
    while (mp_list_len(o->l) > 0) /* pops, not clear: exercise the arena */
      ck_rc(mp_list_pop(o->l, -1, big, sizeof big, &(size_t){0}), 0);
    ck_rc(mp_list_append(o->l, big, CAP), 0);
    ck_rc(mp_list_clear(o->l), 0);
    break;
  default: {
    size_t len;
    while (mp_queue_get(o->q, big, sizeof big, &len, 0) == 0)
      ;
    ck_rc(mp_queue_put(o->q, big, CAP, 0), 0);
    ck_rc(mp_queue_get(o->q, big, sizeof big, &len, 0), 0);
  }
  }
}

static void destroy(struct obj *o) {
  switch (o->kind) {
  case DICT: ck_rc(mp_dict_destroy(o->d), 0); break;
  case LIST: ck_rc(mp_list_destroy(o->l), 0); break;
  default: ck_rc(mp_queue_destroy(o->q), 0);
  }
}

/* ---- the updates ------------------------------------------------------------ */

struct scenario {
  const char *name;
  enum kind kind;
  void (*setup)(struct obj *o); /* the state before, in a new object */
  int (*op)(struct obj *o);     /* the update: 0 when done */
};

static void new_obj(struct obj *o, size_t max_items) {
  o->d = NULL;
  o->l = NULL;
  o->q = NULL;
  if (o->kind == DICT) {
    mp_dict_options opts = {.capacity = CAP, .max_items = max_items};
    ck_rc(mp_dict_create(NULL, &opts, &o->d), 0);
  } else if (o->kind == LIST) {
    mp_list_options opts = {.capacity = CAP, .max_items = max_items};
    ck_rc(mp_list_create(NULL, &opts, &o->l), 0);
  } else {
    mp_queue_options opts = {
        .capacity = CAP,
        .kind = o->kind == LIFO ? MP_QUEUE_LIFO : MP_QUEUE_PRIORITY};
    ck_rc(mp_queue_create(NULL, &opts, &o->q), 0);
  }
}

#define S(x) x, sizeof x - 1

/* dict: a few keys, one deleted (a tombstone) */
static void dict_setup(struct obj *o) {
  new_obj(o, 16);
  ck_rc(mp_dict_set(o->d, S("apple"), S("red")), 0);
  ck_rc(mp_dict_set(o->d, S("banana"), S("yellow and long")), 0);
  ck_rc(mp_dict_set(o->d, S("cherry"), S("dark")), 0);
  ck_rc(mp_dict_set(o->d, S("gone"), S("x")), 0);
  ck_rc(mp_dict_delete(o->d, S("gone")), 0);
}
static int dict_add(struct obj *o) {
  return mp_dict_set(o->d, S("date"), S("brown"));
}
static int dict_replace_longer(struct obj *o) {
  return mp_dict_set(o->d, S("apple"), S("green, and a longer value"));
}
static int dict_replace_in_place(struct obj *o) {
  return mp_dict_set(o->d, S("banana"), S("green and short"));
}
static int dict_del(struct obj *o) { return mp_dict_delete(o->d, S("cherry")); }
static int dict_clear(struct obj *o) { return mp_dict_clear(o->d); }

/* dict with max_items 12 (16 slots) and 11 tombstones: the next new key
 * rebuilds the table */
static void dict_tombs_setup(struct obj *o) {
  new_obj(o, 12);
  ck_rc(mp_dict_set(o->d, S("keep"), S("me")), 0);
  for (int i = 0; i < 11; i++) {
    char k[8];
    int n = snprintf(k, sizeof k, "t%d", i);
    ck_rc(mp_dict_set(o->d, k, (size_t)n, S("v")), 0);
    ck_rc(mp_dict_delete(o->d, k, (size_t)n), 0);
  }
}
static int dict_rehash(struct obj *o) {
  return mp_dict_set(o->d, S("new"), S("key"));
}

/* list: one, two, three, four, with the ring's head moved */
static void list_setup(struct obj *o) {
  new_obj(o, 8);
  ck_rc(mp_list_append(o->l, S("zero")), 0);
  ck_rc(mp_list_append(o->l, S("one")), 0);
  ck_rc(mp_list_append(o->l, S("two")), 0);
  ck_rc(mp_list_append(o->l, S("three")), 0);
  ck_rc(mp_list_append(o->l, S("four")), 0);
  ck_rc(mp_list_pop(o->l, 0, (char[8]){0}, 8, &(size_t){0}), 0);
}
static int list_append(struct obj *o) {
  return mp_list_append(o->l, S("five"));
}
static int list_insert_front(struct obj *o) {
  return mp_list_insert(o->l, 0, S("front"));
}
static int list_insert_middle(struct obj *o) {
  return mp_list_insert(o->l, 2, S("middle"));
}
static int list_set(struct obj *o) {
  return mp_list_set(o->l, 1, S("TWO, and longer"));
}
static int list_pop_front(struct obj *o) {
  return mp_list_pop(o->l, 0, (char[16]){0}, 16, &(size_t){0});
}
static int list_pop_back(struct obj *o) {
  return mp_list_pop(o->l, -1, (char[16]){0}, 16, &(size_t){0});
}
static int list_pop_middle(struct obj *o) {
  return mp_list_pop(o->l, 1, (char[16]){0}, 16, &(size_t){0});
}
static int list_clear(struct obj *o) { return mp_list_clear(o->l); }

/* heap queues: seven messages, so puts and gets move entries */
static void heap_setup(struct obj *o) {
  static const int64_t prio[] = {5, 3, 8, 1, 9, 2, 7};
  new_obj(o, 0);
  for (int i = 0; i < 7; i++) {
    char m[8];
    int n = snprintf(m, sizeof m, "m%d", i);
    ck_rc(mp_queue_put_priority(o->q, prio[i], m, (size_t)n, 0), 0);
  }
}
static int heap_put(struct obj *o) {
  return mp_queue_put_priority(o->q, 0, S("newest"), 0);
}
static int heap_get(struct obj *o) {
  return mp_queue_get(o->q, (char[16]){0}, 16, &(size_t){0}, 0);
}

static const struct scenario scenarios[] = {
    {"dict: set a new key", DICT, dict_setup, dict_add},
    {"dict: replace by a longer value", DICT, dict_setup, dict_replace_longer},
    {"dict: replace in place", DICT, dict_setup, dict_replace_in_place},
    {"dict: delete", DICT, dict_setup, dict_del},
    {"dict: clear", DICT, dict_setup, dict_clear},
    {"dict: set that rebuilds the table", DICT, dict_tombs_setup, dict_rehash},
    {"list: append", LIST, list_setup, list_append},
    {"list: insert in front", LIST, list_setup, list_insert_front},
    {"list: insert in the middle", LIST, list_setup, list_insert_middle},
    {"list: set", LIST, list_setup, list_set},
    {"list: pop the first", LIST, list_setup, list_pop_front},
    {"list: pop the last", LIST, list_setup, list_pop_back},
    {"list: pop in the middle", LIST, list_setup, list_pop_middle},
    {"list: clear", LIST, list_setup, list_clear},
    {"LIFO queue: put", LIFO, heap_setup, heap_put},
    {"LIFO queue: get", LIFO, heap_setup, heap_get},
    {"priority queue: put", PRIO, heap_setup, heap_put},
    {"priority queue: get", PRIO, heap_setup, heap_get},
};
#define NSCENARIOS (int)(sizeof scenarios / sizeof *scenarios)

struct child {
  const struct scenario *sc;
  struct obj *o;
  int point;
};

/* In the child: arm the crash, run the update. */
static int run_update(void *arg) {
  struct child *c = arg;
  char n[16];
  snprintf(n, sizeof n, "%d", c->point);
  setenv("MPROC_CRASH", n, 1);
  return c->sc->op(c->o) == 0 ? 0 : 1;
}

START_TEST(killed_at_each_crash_point) {
  const struct scenario *sc = &scenarios[_i];
  struct obj o = {.kind = sc->kind};
  struct text before, after, now;

  /* The state after: the update run to its end, here. */
  sc->setup(&o);
  contents(&o, &before);
  long n_before = count_of(&o);
  ck_assert_msg(sc->op(&o) == 0, "%s: the update failed", sc->name);
  contents(&o, &after);
  long n_after = count_of(&o);
  destroy(&o);
  ck_assert_msg(strcmp(before.s, after.s) != 0, "%s: changes nothing",
                sc->name);

  int point = 1, seen_before = 0, seen_after = 0;
  for (;; point++) {
    ck_assert_msg(point < MAX_POINTS, "%s: no end to the crash points",
                  sc->name);
    sc->setup(&o);
    struct child c = {sc, &o, point};
    int st = t_wait(t_fork(run_update, &c));
    if (st == 0) { /* fewer crash points than `point`: it completed */
      contents(&o, &now);
      ck_assert_str_eq(now.s, after.s);
      destroy(&o);
      break;
    }
    ck_assert_msg(st == -SIGKILL, "%s: child ended with %d", sc->name, st);
    /* Repaired by the next operation: exactly before or after. */
    contents(&o, &now);
    bool is_before = strcmp(now.s, before.s) == 0;
    bool is_after = strcmp(now.s, after.s) == 0;
    ck_assert_msg(is_before || is_after,
                  "%s, killed at crash point %d: holds\n  %s\nnot\n  %s\nnor"
                  "\n  %s",
                  sc->name, point, now.s, before.s, after.s);
    ck_assert_int_eq(count_of(&o), is_before ? n_before : n_after);
    seen_before += is_before;
    seen_after += is_after;
    check_storage(&o);
    destroy(&o);
  }
  ck_assert_msg(point > 1, "%s: passes no crash point", sc->name);
  if (getenv("CRASH_TEST_TIMES"))
    fprintf(stderr, "%s: %d crash points, %d found before, %d after\n",
            sc->name, point - 1, seen_before, seen_after);
}
END_TEST

Suite *crash_suite(void) {
  Suite *s = suite_create("crash");
  TCase *tc = tcase_create("crash points");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_loop_test(tc, killed_at_each_crash_point, 0, NSCENARIOS);
  suite_add_tcase(s, tc);
  return s;
}
