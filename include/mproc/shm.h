/*
 * mproc/shm.h - named shared-memory segments (Python's
 * multiprocessing.shared_memory.SharedMemory), and the listing and reaping
 * of every mproc segment on the machine.
 *
 * A segment is a POSIX shared-memory object (in /dev/shm) of mode 0600 that
 * starts with an mproc header (magic, layout version, kind, size, creator
 * pid and start time, name) followed by the caller's bytes. The header is
 * invisible through this API: mp_shm_buf() points at the first byte of the
 * caller's `size` bytes, aligned to 64 bytes and zero-filled at creation.
 * A segment is published atomically: another process opening its name sees
 * either nothing or a fully created segment.
 *
 * Names: "/" followed by 1 to 254 characters, none of them '/', and not
 * "/." or "/..". Any other name is -EINVAL.
 *
 * Ownership: mp_shm_create() maps a new segment and owns its name; the
 * creating process removes the name with mp_shm_destroy() or
 * mp_shm_unlink(), and failing that at its normal exit (exit() or return
 * from main). Children never unlink their parent's names. Every process that
 * created, opened or inherited (by fork) a handle releases its mapping with
 * mp_shm_close() (or mp_shm_destroy()); the memory lives until the name is
 * gone and every mapping is closed.
 *
 * Thread safety: every function may be called from many threads; a single
 * handle must not be closed while another thread still uses it.
 */
#ifndef MPROC_SHM_H
#define MPROC_SHM_H

#include <stdint.h>
#include <sys/types.h>

#include "common.h"

MP_BEGIN_DECLS

/* A mapping of a shared-memory segment in this process. Opaque. */
typedef struct mp_shm mp_shm;

/*
 * Create a new segment of `size` zeroed bytes and map it.
 *   name: the segment's name, or NULL for a generated "/mproc-<uuid>".
 *   size: 1 .. the size of the shared-memory file system.
 *   out:  receives the handle; the caller closes or destroys it.
 * Returns 0, or -EINVAL (NULL out, size 0, bad name), -EEXIST (name taken),
 * -ENOSPC (size larger than /dev/shm can hold), -ENOMEM, -EMFILE, -EACCES.
 * Does not block.
 */
MP_EXTERN int mp_shm_create(const char *name, size_t size, mp_shm **out);

/*
 * Map the existing mproc segment `name` (of any kind).
 * Returns 0, or -EINVAL (NULL, bad name), -ENOENT (no such segment),
 * MP_ENOTOBJ (the segment was not made by mproc), MP_EVERSION (made by an
 * incompatible mproc), -EACCES, -ENOMEM, -EMFILE. Does not block.
 */
MP_EXTERN int mp_shm_open(const char *name, mp_shm **out);

/* The caller's bytes (64-byte aligned); NULL for a NULL handle. */
MP_EXTERN void *mp_shm_buf(const mp_shm *shm);

/* Number of the caller's bytes, as given to mp_shm_create(); 0 for NULL. */
MP_EXTERN size_t mp_shm_size(const mp_shm *shm);

/* The segment's name ("/..."), valid until close; NULL for NULL. */
MP_EXTERN const char *mp_shm_name(const mp_shm *shm);

/*
 * Unmap the segment from this process and free the handle. The name stays.
 * mp_shm_close(NULL) returns 0. -EINVAL for a pointer that is not an open
 * handle.
 */
MP_EXTERN int mp_shm_close(mp_shm *shm);

/*
 * Remove the segment's name (existing mappings stay valid; no new process
 * can open it). Returns 0, -EINVAL (NULL), -ENOENT (already removed).
 */
MP_EXTERN int mp_shm_unlink(mp_shm *shm);

/* mp_shm_unlink() then mp_shm_close(). NULL is harmless. -ENOENT when the
 * name was already gone (the handle is still closed). */
MP_EXTERN int mp_shm_destroy(mp_shm *shm);

/* What mp_shm_list() reports about one segment. */
typedef struct mp_shm_info {
  char name[MP_NAME_MAX + 1]; /* "/mproc-..." */
  const char *kind;           /* "shm", "lock", "rlock", "event",
                                 "semaphore", "condition", "barrier",
                                 "queue", "array", "dict", "list" or
                                 "partial" */
  uint64_t size;              /* the object's bytes (0 for "partial") */
  pid_t creator_pid;          /* process that created it */
  int creator_alive;          /* 1 when that very process still runs */
  int64_t created;            /* creation time, seconds since the epoch */
} mp_shm_info;

/*
 * Call cb(info, ctx) for every mproc segment on the machine that the caller
 * may read, including the "partial" leftovers of a creator killed while
 * creating one. Segments not made by mproc, and other users' segments the
 * caller cannot read, are skipped. A non-zero return from cb stops the walk
 * and is returned. Returns 0, or -EINVAL (NULL cb), -ENOENT (no /dev/shm),
 * -EACCES.
 */
typedef int (*mp_shm_list_cb)(const mp_shm_info *info, void *ctx);
MP_EXTERN int mp_shm_list(mp_shm_list_cb cb, void *ctx);

/*
 * Remove the name of the mproc segment `name`, whoever created it.
 * Returns 0, -EINVAL (bad name), -ENOENT, MP_ENOTOBJ (not made by mproc:
 * left alone), -EACCES.
 */
MP_EXTERN int mp_shm_remove(const char *name);

/*
 * Remove every stale mproc segment: one whose creator is no longer running
 * (pid and start time are both checked, so a reused pid is not mistaken for
 * the creator). `removed`, if not NULL, receives how many were removed.
 * Returns 0 or a negative code of mp_shm_list().
 */
MP_EXTERN int mp_shm_reap_stale(unsigned *removed);

MP_END_DECLS

#endif /* MPROC_SHM_H */
