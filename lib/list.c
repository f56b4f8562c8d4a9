/*
 * lib/list.c - a list of byte strings in one segment: an index table of
 * arena offsets, one per item, used as a ring (`head` is the slot of item
 * 0), so both ends change in constant time. Each item's bytes live in an
 * arena block, whose header also keeps their length.
 *
 * Two index tables, each with its own {head, count}. An update at either
 * end or in place (append, set, insert at 0, pop of the first or last item)
 * changes one slot and the active table's {head, count}: it first records
 * the slot's old contents and the old {head, count} in an undo record. An
 * insert or pop in the middle, and clear, write the new order into the idle
 * table and switch to it with one store of `active`. A holder killed before
 * clearing the record is rolled back by the next locker (MP_EOWNERDEAD from
 * the robust mutex), who then rebuilds the arena from the live slots,
 * freeing blocks that were allocated but never linked, or unlinked but not
 * yet freed. Every update is therefore applied whole or not at all.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct ring {
  uint64_t head;  /* slot of item 0, < max_items */
  uint64_t count; /* items */
};

/* Laid out by cache line as the dict is: the mutex with what every update
 * writes, then the undo record, then what changes only at create. */
struct list_state {
  struct mp__obj head;
  pthread_mutex_t mutex;
  uint32_t active;                  /* table in use: 0 or 1 */
  struct ring tab[2];               /* per table */
  alignas(64) uint32_t intent;      /* 1 while the record below applies */
  uint64_t intent_at;               /* slot changed, in the active table */
  uint64_t intent_old;              /* its old contents */
  struct ring intent_ring;          /* the active table's old head and count */
  alignas(64) uint64_t capacity;    /* bytes of items */
  uint64_t max_items;               /* slots per table */
  double timeout;                   /* for the mutex; never 0 */
  alignas(64) unsigned char data[]; /* table 0, table 1, arena */
};

static struct list_state *list(const mp_list *l) {
  return (struct list_state *)mp__obj_check(l, MP__KIND_LIST);
}

static uint64_t *table(struct list_state *l, uint32_t which) {
  return (uint64_t *)l->data + (uint64_t)which * l->max_items;
}

static struct mp__arena *arena(struct list_state *l) {
  return (struct mp__arena *)(l->data + 2 * l->max_items * sizeof(uint64_t));
}

/* Slot of item i (< max_items) in a table whose item 0 is at head. */
static uint64_t slot_of(const struct list_state *l, uint64_t head, uint64_t i) {
  uint64_t s = head + i;
  return s >= l->max_items ? s - l->max_items : s;
}

/* ---- creation ------------------------------------------------------------ */

struct layout {
  uint64_t capacity, max_items, arena, bytes;
  double timeout;
};

static int plan(const mp_list_options *o, struct layout *l) {
  l->capacity = o->capacity ? o->capacity : MP_LIST_DEFAULT_CAPACITY;
  if (l->capacity > MP_LIST_CAPACITY_MAX ||
      o->max_items > MP_LIST_MAX_ITEMS_MAX || o->timeout != o->timeout)
    return -EINVAL;
  l->max_items = o->max_items;
  if (!l->max_items) /* the default; an explicit number is kept exactly */
    l->max_items = l->capacity / 32 < 16 ? 16 : l->capacity / 32;
  l->timeout = o->timeout == 0 ? MP_FOREVER : o->timeout;
  l->arena = l->capacity + l->max_items * MP__ARENA_BLOCK_OVERHEAD;
  l->bytes = sizeof(struct list_state) + 2 * l->max_items * sizeof(uint64_t) +
             sizeof(struct mp__arena) + l->arena;
  return 0;
}

static int init(void *obj, void *arg) {
  struct list_state *l = obj;
  struct layout *p = arg;
  int rc = mp__mutex_init(&l->mutex);
  if (rc < 0)
    return rc;
  l->capacity = p->capacity;
  l->max_items = p->max_items;
  l->timeout = p->timeout;
  mp__arena_init(arena(l), p->arena);
  mp__obj_init(l, MP__KIND_LIST);
  return 0;
}

int mp_list_create(const char *name, const mp_list_options *opts,
                   mp_list **out) {
  static const mp_list_options defaults;
  struct layout p;
  if (out)
    *out = NULL;
  int rc = plan(opts ? opts : &defaults, &p);
  if (rc < 0)
    return rc;
  return mp__obj_create(name, MP__KIND_LIST, p.bytes, init, &p, (void **)out);
}

/* ---- locking and repair -------------------------------------------------- */

/* A holder died mid-update: undo its slot change, then rebuild the arena
 * from the blocks the live slots reference - sorted in the idle table,
 * which is scratch space until the next insert, pop or clear in the middle
 * writes it whole. Run again if interrupted, it does the same. */
static void repair(struct list_state *l) {
  l->active &= 1;
  struct ring *r = &l->tab[l->active];
  uint64_t *t = table(l, l->active), *scratch = table(l, !l->active);
  if (l->intent && l->intent_at < l->max_items) {
    t[l->intent_at] = l->intent_old;
    *r = l->intent_ring;
  }
  l->intent = 0;
  if (r->head >= l->max_items || r->count > l->max_items)
    *r = (struct ring){0, 0}; /* only a bug can get here */
  for (uint64_t i = 0; i < r->count; i++)
    scratch[i] = t[slot_of(l, r->head, i)];
  mp__arena_keep(arena(l), scratch, r->count);
}

/* Take l's lock within its timeout, repairing what a dead holder left. */
static int lock(const mp_list *lp, struct list_state **out) {
  struct list_state *l = list(lp);
  if (!l)
    return -EINVAL;
  int rc = mp__mutex_lock(&l->mutex, l->timeout);
  if (rc == MP_EOWNERDEAD)
    repair(l);
  else if (rc < 0)
    return rc;
  *out = l;
  return 0;
}

static void unlock(struct list_state *l) { mp__mutex_unlock(&l->mutex); }

/* ---- updates ------------------------------------------------------------- */

/* Set slot s of the active table to off and the table's head and count to
 * r, recoverably: the undo record is complete before `intent` says it
 * applies, the update complete before the commit clears it. */
static void update(struct list_state *l, uint64_t s, uint64_t off,
                   struct ring r) {
  uint64_t *t = table(l, l->active);
  l->intent_at = s;
  l->intent_old = t[s];
  l->intent_ring = l->tab[l->active];
  MP__RECOVERABLY(l->intent, 1,
                  (t[s] = off, mp__crash_point(), l->tab[l->active] = r));
}

/* Copy n offsets, items from..from+n-1 of the active table, to dst. */
static void copy_items(struct list_state *l, uint64_t from, uint64_t n,
                       uint64_t *dst) {
  const struct ring *r = &l->tab[l->active];
  const uint64_t *t = table(l, l->active);
  uint64_t s = slot_of(l, r->head, from);
  uint64_t first = n < l->max_items - s ? n : l->max_items - s;
  memcpy(dst, t + s, first * sizeof *t);
  memcpy(dst + first, t, (n - first) * sizeof *t);
}

/* Make the idle table, whose first count slots the caller has written, the
 * active one: a single store. */
static void switch_tables(struct list_state *l, uint64_t count) {
  uint32_t idle = !l->active;
  l->tab[idle] = (struct ring){0, count};
  MP__STORE_ORDER();
  mp__crash_point();
  l->active = idle; /* the commit */
  MP__STORE_ORDER();
  mp__crash_point();
}

/* Item index of a Python index into n items, or -1 when out of range. */
static int64_t resolve(long index, uint64_t n) {
  int64_t i = index < 0 ? (int64_t)n + index : index;
  return i >= 0 && (uint64_t)i < n ? i : -1;
}

/* A new block holding the len bytes of item, or MP__ARENA_NONE. */
static uint64_t store(struct list_state *l, const void *item, size_t len) {
  uint64_t off = mp__arena_alloc(arena(l), len);
  if (off != MP__ARENA_NONE && len)
    memcpy(mp__arena_ptr(arena(l), off), item, len);
  return off;
}

/* Checks common to every write, before the lock. */
static int check_item(const mp_list *lp, const void *item, size_t len) {
  const struct list_state *l = list(lp);
  if (!l || (len && !item))
    return -EINVAL;
  return len > l->capacity ? -EMSGSIZE : 0;
}

int mp_list_insert(mp_list *lp, long index, const void *item, size_t len) {
  struct list_state *l;
  int rc = check_item(lp, item, len);
  if (rc < 0 || (rc = lock(lp, &l)) < 0)
    return rc;
  struct ring r = l->tab[l->active];
  int64_t i = index < 0 ? (int64_t)r.count + index : index;
  i = i < 0 ? 0 : (uint64_t)i > r.count ? (int64_t)r.count : i; /* clamp */
  uint64_t off;
  if (r.count >= l->max_items || (off = store(l, item, len)) == MP__ARENA_NONE)
    rc = -ENOSPC;
  else if ((uint64_t)i == r.count) /* append */
    update(l, slot_of(l, r.head, r.count), off,
           (struct ring){r.head, r.count + 1});
  else if (i == 0) { /* in front: the head moves back */
    uint64_t h = r.head ? r.head - 1 : l->max_items - 1;
    update(l, h, off, (struct ring){h, r.count + 1});
  } else {
    uint64_t *to = table(l, !l->active);
    copy_items(l, 0, (uint64_t)i, to);
    to[i] = off;
    copy_items(l, (uint64_t)i, r.count - (uint64_t)i, to + i + 1);
    switch_tables(l, r.count + 1);
  }
  unlock(l);
  return rc;
}

int mp_list_append(mp_list *l, const void *item, size_t len) {
  return mp_list_insert(l, LONG_MAX, item, len);
}

int mp_list_set(mp_list *lp, long index, const void *item, size_t len) {
  struct list_state *l;
  int rc = check_item(lp, item, len);
  if (rc < 0 || (rc = lock(lp, &l)) < 0)
    return rc;
  struct ring r = l->tab[l->active];
  int64_t i = resolve(index, r.count);
  uint64_t off;
  if (i < 0) {
    rc = -ERANGE;
  } else if ((off = store(l, item, len)) == MP__ARENA_NONE) {
    rc = -ENOSPC;
  } else { /* replace, then free the old block */
    uint64_t s = slot_of(l, r.head, (uint64_t)i);
    uint64_t old = table(l, l->active)[s];
    update(l, s, off, r);
    mp__arena_free(arena(l), old);
  }
  unlock(l);
  return rc;
}

/* Remove item i (< count): at either end by moving the ring's bounds, in
 * the middle through the idle table. Frees its block. */
static void remove_item(struct list_state *l, uint64_t i) {
  struct ring r = l->tab[l->active];
  uint64_t s = slot_of(l, r.head, i), off = table(l, l->active)[s];
  if (i == 0)
    update(l, s, off, (struct ring){slot_of(l, r.head, 1), r.count - 1});
  else if (i == r.count - 1)
    update(l, s, off, (struct ring){r.head, r.count - 1});
  else {
    uint64_t *to = table(l, !l->active);
    copy_items(l, 0, i, to);
    copy_items(l, i + 1, r.count - i - 1, to + i);
    switch_tables(l, r.count - 1);
  }
  mp__arena_free(arena(l), off);
}

/* Copy l[index] to a destination chosen by sink, then remove it if asked
 * (not when the copy failed). */
static int take(mp_list *lp, long index, bool pop, mp__sink_fn sink, void *ctx,
                size_t *len) {
  struct list_state *l;
  if (!len)
    return -EINVAL;
  int rc = lock(lp, &l);
  if (rc < 0)
    return rc;
  struct ring r = l->tab[l->active];
  int64_t i = resolve(index, r.count);
  if (i < 0) {
    rc = -ERANGE;
  } else {
    uint64_t off = table(l, l->active)[slot_of(l, r.head, (uint64_t)i)];
    uint64_t n = mp__arena_len(arena(l), off);
    *len = (size_t)n;
    void *dst = sink(ctx, n, &rc);
    if (dst) {
      if (n)
        memcpy(dst, mp__arena_ptr(arena(l), off), (size_t)n);
      rc = 0;
      if (pop)
        remove_item(l, (uint64_t)i);
    }
  }
  unlock(l);
  return rc;
}

int mp_list_get(mp_list *l, long index, void *buf, size_t cap, size_t *len) {
  struct mp__sink_buf b = {buf, cap};
  if (cap && !buf)
    return -EINVAL;
  return take(l, index, false, mp__sink_buf, &b, len);
}

int mp_list_get_alloc(mp_list *l, long index, void **item, size_t *len) {
  if (!item)
    return -EINVAL;
  *item = NULL;
  return take(l, index, false, mp__sink_alloc, item, len);
}

int mp_list_pop(mp_list *l, long index, void *buf, size_t cap, size_t *len) {
  struct mp__sink_buf b = {buf, cap};
  if (cap && !buf)
    return -EINVAL;
  return take(l, index, true, mp__sink_buf, &b, len);
}

int mp_list_pop_alloc(mp_list *l, long index, void **item, size_t *len) {
  if (!item)
    return -EINVAL;
  *item = NULL;
  return take(l, index, true, mp__sink_alloc, item, len);
}

long mp_list_len(mp_list *lp) {
  struct list_state *l;
  int rc = lock(lp, &l);
  if (rc < 0)
    return rc;
  long n = (long)l->tab[l->active].count;
  unlock(l);
  return n;
}

int mp_list_clear(mp_list *lp) {
  struct list_state *l;
  int rc = lock(lp, &l);
  if (rc < 0)
    return rc;
  switch_tables(l, 0); /* the commit: an empty table */
  mp__arena_init(arena(l), arena(l)->size);
  unlock(l);
  return 0;
}

int mp_list_items(mp_list *lp, mp_list_item_cb cb, void *ctx) {
  struct list_state *l;
  if (!cb)
    return -EINVAL;
  int rc = lock(lp, &l);
  if (rc < 0)
    return rc;
  /* Snapshot: {length, bytes} records in one buffer. */
  struct ring r = l->tab[l->active];
  const uint64_t *t = table(l, l->active);
  size_t size = 0;
  for (uint64_t i = 0; i < r.count; i++)
    size +=
        sizeof(uint64_t) + mp__arena_len(arena(l), t[slot_of(l, r.head, i)]);
  unsigned char *snap = malloc(size ? size : 1), *p = snap;
  if (snap) {
    for (uint64_t i = 0; i < r.count; i++) {
      uint64_t off = t[slot_of(l, r.head, i)];
      uint64_t n = mp__arena_len(arena(l), off);
      memcpy(p, &n, sizeof n);
      memcpy(p + sizeof n, mp__arena_ptr(arena(l), off), (size_t)n);
      p += sizeof n + n;
    }
  }
  unlock(l);
  if (!snap)
    return -ENOMEM;
  size_t index = 0;
  for (unsigned char *q = snap; q < p && rc == 0; index++) {
    uint64_t n;
    memcpy(&n, q, sizeof n);
    rc = cb(index, q + sizeof n, (size_t)n, ctx);
    q += sizeof n + n;
  }
  free(snap);
  return rc;
}

MP__OBJ_LIFECYCLE(mp_list, mp_list, MP__KIND_LIST, NULL)
