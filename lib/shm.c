/*
 * lib/shm.c - mp_shm, Python's SharedMemory: a segment of kind "shm" whose
 * object is the caller's bytes. The handle is the pointer to those bytes;
 * the segment layer (segment.c) keeps the mapping's size and name.
 */
#include "internal.h"

#include <errno.h>


int mp_shm_create(const char *name, size_t size, mp_shm **out) {
  return mp__seg_create(name, MP__KIND_SHM, size, NULL, NULL, (void **)out);
}

int mp_shm_open(const char *name, mp_shm **out) {
  return mp__seg_open(name, 0, (void **)out);
}

void *mp_shm_buf(const mp_shm *shm) { return (void *)shm; }

size_t mp_shm_size(const mp_shm *shm) { return shm ? mp__seg_size(shm) : 0; }

const char *mp_shm_name(const mp_shm *shm) {
  return shm ? mp__seg_name(shm) : NULL;
}

int mp_shm_close(mp_shm *shm) { return shm ? mp__seg_close(shm) : 0; }

int mp_shm_unlink(mp_shm *shm) { return mp__seg_unlink(shm); }

int mp_shm_destroy(mp_shm *shm) {
  if (!shm)
    return 0;
  int rc = mp__seg_unlink(shm);
  if (rc == -EINVAL)
    return rc;
  int crc = mp__seg_close(shm);
  return rc ? rc : crc;
}
