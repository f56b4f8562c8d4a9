/*
 * lib/object.c - the lifecycle every standalone-or-embedded object shares:
 * create in a segment of its own, close, destroy, name. Each kind only
 * supplies how to initialise and finish its own state.
 */
#include "internal.h"

#include <errno.h>

struct create_arg {
  enum mp__kind kind;
  int (*init)(void *obj, void *arg);
  void *arg;
};

static int init_standalone(void *obj, size_t size, void *arg) {
  (void)size;
  struct create_arg *c = arg;
  int rc = c->init(obj, c->arg);
  if (rc == 0)
    ((struct mp__obj *)obj)->standalone = 1;
  return rc;
}

int mp__obj_create(const char *name, enum mp__kind kind, size_t size,
                   int (*init)(void *obj, void *arg), void *arg, void **out) {
  struct create_arg c = {kind, init, arg};
  return mp__seg_create(name, kind, size, init_standalone, &c, out);
}

int mp__obj_close(void *obj, enum mp__kind kind) {
  if (!obj)
    return 0;
  /* Ask the registry first: a second close must not touch unmapped memory. */
  if (!mp__seg_mapped(obj) || !mp__obj_check(obj, kind))
    return -EINVAL;
  return mp__seg_close(obj);
}

int mp__obj_destroy(void *obj, enum mp__kind kind, int (*fini)(void *obj)) {
  if (!obj)
    return 0;
  struct mp__obj *o = mp__obj_check(obj, kind);
  if (!o)
    return -EINVAL;
  if (o->standalone) {
    int rc = mp__seg_unlink(obj);
    if (rc == -EINVAL)
      return rc;
    int crc = mp__seg_close(obj);
    return rc ? rc : crc;
  }
  int rc = fini ? fini(obj) : 0;
  if (rc == 0)
    o->magic = 0;
  return rc;
}

const char *mp__obj_name(const void *obj, enum mp__kind kind) {
  const struct mp__obj *o = mp__obj_check(obj, kind);
  return o && o->standalone ? mp__seg_name(obj) : NULL;
}
