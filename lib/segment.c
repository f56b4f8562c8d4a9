/*
 * lib/segment.c - the mproc segment: a POSIX shared-memory object in
 * /dev/shm, mode 0600, made of a header (this file) and one object.
 *
 * Creation is atomic: the segment is built under a temporary name
 * ".mproc-tmp-<pid>.<start time>-<uuid>", its header's magic is stored last, and only then
 * is it link()ed to its real name (link fails with EEXIST like O_EXCL). An
 * opener therefore never sees a half-built segment, and a creator killed
 * while building leaves a temporary whose pid tells it is stale.
 *
 * Two process-local registries: the mappings this process holds (so close
 * validates its argument and knows the size without trusting shared
 * memory), and the names this process created (unlinked at its normal exit
 * unless destroyed before; a forked child never unlinks them).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <uuid.h>


#define SHM_DIR "/dev/shm"
#define SEG_MAGIC 0x3167657363727064ULL /* "dprcseg1" */
#define SEG_VERSION 1u
#define TMP_PREFIX ".mproc-tmp-"

struct seghdr {
  _Atomic uint64_t magic; /* SEG_MAGIC once complete; stored last */
  uint32_t version;       /* SEG_VERSION: header and object layouts */
  uint32_t kind;          /* enum mp__kind */
  uint64_t map_size;      /* bytes of the whole segment */
  uint64_t obj_size;      /* bytes of the object */
  int32_t creator_pid;
  uint32_t reserved_;
  uint64_t creator_start; /* creator's start time, see procinfo.c */
  int64_t created;        /* CLOCK_REALTIME seconds */
  char name[MP_NAME_MAX + 1];
};
_Static_assert(sizeof(struct seghdr) <= MP__SEG_HDR_SIZE, "header too big");
_Static_assert(MP__SEG_HDR_SIZE % 64 == 0, "object must be 64-aligned");

static const char *const kind_names[MP__KIND_COUNT_] = {
    [MP__KIND_SHM] = "shm",
    [MP__KIND_LOCK] = "lock",
    [MP__KIND_RLOCK] = "rlock",
    [MP__KIND_EVENT] = "event",
    [MP__KIND_SEMAPHORE] = "semaphore",
    [MP__KIND_CONDITION] = "condition",
    [MP__KIND_BARRIER] = "barrier",
    [MP__KIND_QUEUE] = "queue",
    [MP__KIND_ARRAY] = "array",
    [MP__KIND_DICT] = "dict",
    [MP__KIND_LIST] = "list",
};

static inline struct seghdr *hdr_of(const void *obj) {
  return (struct seghdr *)((char *)obj - MP__SEG_HDR_SIZE);
}

/* ---- registries ---------------------------------------------------------- */

struct mapping {
  void *base;
  size_t size;
};
struct created {
  char name[MP_NAME_MAX + 1];
  pid_t pid;
};

static struct {
  pthread_mutex_t mu;
  struct mapping *maps;
  size_t nmaps, capmaps;
  struct created *names;
  size_t nnames, capnames;
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void reg_lock(void) { pthread_mutex_lock(&reg.mu); }
static void reg_unlock(void) { pthread_mutex_unlock(&reg.mu); }

/* Make room for one more element of a registry array; 0 or -ENOMEM. */
static int grow(void **v, size_t n, size_t *cap, size_t elem) {
  if (mp__fault())
    return -ENOMEM;
  if (n < *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *nv = realloc(*v, ncap * elem);
  if (!nv)
    return -ENOMEM;
  *v = nv;
  *cap = ncap;
  return 0;
}

static int reg_add_mapping(void *base, size_t size) {
  reg_lock();
  int rc = grow((void **)&reg.maps, reg.nmaps, &reg.capmaps, sizeof *reg.maps);
  if (rc == 0)
    reg.maps[reg.nmaps++] = (struct mapping){base, size};
  reg_unlock();
  return rc;
}

/* Remove base from the mappings; its size, or 0 when it is not there. */
static size_t reg_take_mapping(void *base) {
  size_t size = 0;
  reg_lock();
  for (size_t i = 0; i < reg.nmaps; i++) {
    if (reg.maps[i].base == base) {
      size = reg.maps[i].size;
      reg.maps[i] = reg.maps[--reg.nmaps];
      break;
    }
  }
  reg_unlock();
  return size;
}

static bool reg_has_mapping(const void *base) {
  bool found = false;
  reg_lock();
  for (size_t i = 0; i < reg.nmaps && !found; i++)
    found = reg.maps[i].base == base;
  reg_unlock();
  return found;
}

static int path_of(char *path, size_t len, const char *name) {
  int n = snprintf(path, len, SHM_DIR "%s", name);
  return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* At exit: unlink the names this very process created and still owns. */
void mp__seg_exit_cleanup(void) {
  pid_t me = getpid();
  uint64_t my_start = 0; /* read from /proc only if a name is ours */
  bool have_start = false;
  reg_lock();
  for (size_t i = 0; i < reg.nnames; i++) {
    if (reg.names[i].pid != me)
      continue;
    char path[sizeof SHM_DIR + MP_NAME_MAX + 1];
    if (path_of(path, sizeof path, reg.names[i].name) < 0)
      continue;
    /* Only if the segment there is still ours (not removed and re-created
     * by someone else meanwhile). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      continue;
    struct seghdr h;
    if (!have_start) {
      my_start = mp__proc_start_time(me);
      have_start = true;
    }
    if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
        h.magic == SEG_MAGIC && h.creator_pid == me &&
        (my_start == 0 || h.creator_start == my_start))
      unlink(path);
    close(fd);
  }
  reg.nnames = 0;
  reg_unlock();
}

void (*mp__exit_children)(void);

static void exit_hook(void) {
  if (mp__exit_children)
    mp__exit_children(); /* children may still use the names */
  mp__seg_exit_cleanup();
}

static void install(void) { atexit(exit_hook); }

void mp__exit_hook_install(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
}

static int reg_add_name(const char *name) {
  mp__exit_hook_install();
  reg_lock();
  int rc =
      grow((void **)&reg.names, reg.nnames, &reg.capnames, sizeof *reg.names);
  if (rc == 0) {
    struct created *c = &reg.names[reg.nnames++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->pid = getpid();
  }
  reg_unlock();
  return rc;
}

static void reg_forget_name(const char *name) {
  reg_lock();
  for (size_t i = 0; i < reg.nnames; i++) {
    if (strcmp(reg.names[i].name, name) == 0) {
      reg.names[i] = reg.names[--reg.nnames];
      break;
    }
  }
  reg_unlock();
}

static void fork_prepare(void) { reg_lock(); }
static void fork_parent(void) { reg_unlock(); }
static void fork_child(void) { reg_unlock(); }

MP__SETUP static void segment_setup(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- names ---------------------------------------------------------------- */

int mp__name_check(const char *name) {
  if (!name || name[0] != '/')
    return -EINVAL;
  size_t len = strnlen(name, MP_NAME_MAX + 1);
  if (len < 2 || len > MP_NAME_MAX || strchr(name + 1, '/'))
    return -EINVAL;
  if (strcmp(name, "/.") == 0 || strcmp(name, "/..") == 0)
    return -EINVAL;
  return 0;
}

static void uuid_text(char out[37]) {
  uuid_t u;
  uuid_generate(u);
  uuid_unparse_lower(u, out);
}

/* ---- create / open / close ---------------------------------------------- */

static int check_header(const struct seghdr *h, off_t file_size,
                        enum mp__kind kind) {
  if (atomic_load_explicit(&h->magic, memory_order_acquire) != SEG_MAGIC)
    return MP_ENOTOBJ;
  if (h->version != SEG_VERSION)
    return MP_EVERSION;
  if (h->map_size != (uint64_t)file_size || h->kind == 0 ||
      h->kind >= MP__KIND_COUNT_ ||
      h->obj_size > h->map_size - MP__SEG_HDR_SIZE)
    return MP_ENOTOBJ;
  if (kind && h->kind != (uint32_t)kind)
    return MP_EKIND;
  return 0;
}

int mp__seg_create(const char *name, enum mp__kind kind, size_t size,
                   mp__seg_init_fn init, void *arg, void **obj) {
  char genname[64], tmp[128], path[sizeof SHM_DIR + MP_NAME_MAX + 1];
  char id[37];
  int rc, fd = -1;
  void *base = MAP_FAILED;
  size_t map_size = 0;
  bool tmp_made = false, linked = false, mapped_reg = false;

  if (!obj)
    return -EINVAL;
  *obj = NULL;
  if (size == 0 || kind <= 0 || kind >= MP__KIND_COUNT_)
    return -EINVAL;
  if (name) {
    if ((rc = mp__name_check(name)) < 0)
      return rc;
  } else {
    uuid_text(id);
    snprintf(genname, sizeof genname, "/mproc-%s", id);
    name = genname;
  }
  if ((rc = path_of(path, sizeof path, name)) < 0)
    return rc;

  long page = sysconf(_SC_PAGESIZE);
  if (size > SIZE_MAX - MP__SEG_HDR_SIZE - (size_t)page)
    return -ENOSPC;
  map_size = (MP__SEG_HDR_SIZE + size + (size_t)page - 1) & ~((size_t)page - 1);

  uuid_text(id);
  snprintf(tmp, sizeof tmp, SHM_DIR "/" TMP_PREFIX "%d.%llu-%s", (int)getpid(),
           (unsigned long long)mp__proc_start_time(getpid()), id);
  fd = mp__fault() ? (errno = EMFILE, -1)
                   : open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
                                   O_NOFOLLOW, 0600);
  if (fd < 0) {
    rc = -errno;
    goto out;
  }
  tmp_made = true;

  struct statvfs vfs;
  if (fstatvfs(fd, &vfs) == 0 && vfs.f_blocks &&
      map_size / vfs.f_frsize > vfs.f_blocks) {
    rc = -ENOSPC;
    goto out;
  }
  if (mp__fault() ? (errno = ENOSPC, 1) : ftruncate(fd, (off_t)map_size) < 0) {
    rc = errno == EFBIG ? -ENOSPC : -errno;
    goto out;
  }
  base = mp__fault() ? (errno = ENOMEM, MAP_FAILED)
                     : mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                            fd, 0);
  if (base == MAP_FAILED) {
    rc = -errno;
    goto out;
  }

  struct seghdr *h = base;
  h->version = SEG_VERSION;
  h->kind = (uint32_t)kind;
  h->map_size = map_size;
  h->obj_size = size;
  h->creator_pid = (int32_t)getpid();
  h->creator_start = mp__proc_start_time(getpid());
  h->created = (int64_t)time(NULL);
  snprintf(h->name, sizeof h->name, "%s", name);
  void *o = (char *)base + MP__SEG_HDR_SIZE;
  if (init && (rc = mp__fault() ? -ENOMEM : init(o, size, arg)) < 0)
    goto out;
  atomic_store_explicit(&h->magic, SEG_MAGIC, memory_order_release);

  if ((rc = reg_add_mapping(base, map_size)) < 0)
    goto out;
  mapped_reg = true;
  if ((rc = reg_add_name(name)) < 0)
    goto out;
  if (mp__fault() ? (errno = EACCES, 1) : link(tmp, path) < 0) {
    rc = -errno;
    reg_forget_name(name);
    goto out;
  }
  linked = true;
  *obj = o;
  rc = 0;

out:
  if (fd >= 0)
    close(fd);
  if (tmp_made)
    unlink(tmp);
  if (!linked) {
    if (mapped_reg)
      reg_take_mapping(base);
    if (base != MAP_FAILED)
      munmap(base, map_size);
  }
  return rc;
}

int mp__seg_open(const char *name, enum mp__kind kind, void **obj) {
  char path[sizeof SHM_DIR + MP_NAME_MAX + 1];
  struct stat st;
  struct seghdr h;
  int rc;

  if (!obj)
    return -EINVAL;
  *obj = NULL;
  if ((rc = mp__name_check(name)) < 0 ||
      (rc = path_of(path, sizeof path, name)) < 0)
    return rc;
  int fd = mp__fault() ? (errno = EMFILE, -1)
                       : open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return errno == ELOOP ? MP_ENOTOBJ : -errno;
  if (fstat(fd, &st) < 0) {
    rc = -errno;
    goto out;
  }
  if (!S_ISREG(st.st_mode) || st.st_size < (off_t)MP__SEG_HDR_SIZE ||
      pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
    rc = MP_ENOTOBJ;
    goto out;
  }
  if ((rc = check_header(&h, st.st_size, kind)) < 0)
    goto out;
  void *base = mp__fault() ? (errno = ENOMEM, MAP_FAILED)
                           : mmap(NULL, (size_t)st.st_size,
                                  PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    rc = -errno;
    goto out;
  }
  if ((rc = reg_add_mapping(base, (size_t)st.st_size)) < 0) {
    munmap(base, (size_t)st.st_size);
    goto out;
  }
  *obj = (char *)base + MP__SEG_HDR_SIZE;
out:
  close(fd);
  return rc;
}

bool mp__seg_mapped(const void *obj) {
  return obj && reg_has_mapping(hdr_of(obj));
}

int mp__seg_close(void *obj) {
  if (!obj)
    return -EINVAL;
  void *base = hdr_of(obj);
  size_t size = reg_take_mapping(base);
  if (!size)
    return -EINVAL;
  munmap(base, size);
  return 0;
}

int mp__seg_unlink(void *obj) {
  char path[sizeof SHM_DIR + MP_NAME_MAX + 1];
  if (!obj || !reg_has_mapping(hdr_of(obj)))
    return -EINVAL;
  const char *name = hdr_of(obj)->name;
  int rc = path_of(path, sizeof path, name);
  if (rc < 0)
    return rc;
  reg_forget_name(name);
  return unlink(path) < 0 ? -errno : 0;
}

bool mp__same_mapping(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f)
    return false;
  /* Lines: "start-end perms offset dev inode path". Adjacent lines of one
   * mapping (split by mprotect) count as one: same inode, and for a file
   * the offset running on. */
  char line[512];
  bool found = false, in_x = false, in_y = false;
  unsigned long long plo = 0, phi = 0, poff = 0, pino = 0;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned long long lo, hi, off, ino;
    if (sscanf(line, "%llx-%llx %*s %llx %*s %llu", &lo, &hi, &off, &ino) != 4)
      continue;
    bool continues = lo == phi && ino == pino &&
                     (ino == 0 || off == poff + (phi - plo));
    if (!continues)
      in_x = in_y = false;
    in_x = in_x || (x >= lo && x < hi);
    in_y = in_y || (y >= lo && y < hi);
    found = in_x && in_y;
    plo = lo;
    phi = hi;
    poff = off;
    pino = ino;
  }
  fclose(f);
  return found;
}

const char *mp__seg_name(const void *obj) { return hdr_of(obj)->name; }

size_t mp__seg_size(const void *obj) { return hdr_of(obj)->obj_size; }

/* ---- listing and reaping ------------------------------------------------ */

/* Fill info for directory entry d_name: 1 if it is an mproc segment, 0 if
 * not, or a negative code when it cannot be read (-EACCES, -ENOENT). */
static int describe(const char *d_name, mp_shm_info *info) {
  char path[sizeof SHM_DIR + MP_NAME_MAX + 2];
  struct stat st;
  struct seghdr h;

  memset(info, 0, sizeof *info);
  if (strlen(d_name) >= MP_NAME_MAX)
    return 0;
  snprintf(info->name, sizeof info->name, "/%s", d_name);
  snprintf(path, sizeof path, SHM_DIR "/%s", d_name);

  if (strncmp(d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
    /* Partial: a creator is building it, or died doing so. */
    if (lstat(path, &st) < 0)
      return -errno;
    if (!S_ISREG(st.st_mode))
      return 0;
    int pid = 0;
    unsigned long long start = 0;
    sscanf(d_name + strlen(TMP_PREFIX), "%d.%llu", &pid, &start);
    info->kind = "partial";
    info->creator_pid = (pid_t)pid;
    info->creator_alive = mp__proc_alive(info->creator_pid, start);
    info->created = (int64_t)st.st_mtime;
    return 1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return errno == ELOOP ? 0 : -errno;
  int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
           st.st_size >= (off_t)MP__SEG_HDR_SIZE &&
           pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
           check_header(&h, st.st_size, 0) == 0;
  close(fd);
  if (!ok)
    return 0;
  info->kind = kind_names[h.kind];
  info->size = h.obj_size;
  info->creator_pid = h.creator_pid;
  info->creator_alive = mp__proc_alive(h.creator_pid, h.creator_start);
  info->created = h.created;
  return 1;
}

int mp_shm_list(mp_shm_list_cb cb, void *ctx) {
  if (!cb)
    return -EINVAL;
  DIR *dir = opendir(SHM_DIR);
  if (!dir)
    return -errno;
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(dir)) != NULL) {
    mp_shm_info info;
    if (e->d_name[0] == '.' &&
        (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
      continue;
    if (describe(e->d_name, &info) == 1) /* unreadable ones are skipped */
      rc = cb(&info, ctx);
  }
  closedir(dir);
  return rc;
}

int mp_shm_remove(const char *name) {
  char path[sizeof SHM_DIR + MP_NAME_MAX + 1];
  mp_shm_info info;
  int rc;
  if ((rc = mp__name_check(name)) < 0 ||
      (rc = path_of(path, sizeof path, name)) < 0)
    return rc;
  if ((rc = describe(name + 1, &info)) <= 0)
    return rc < 0 ? rc : MP_ENOTOBJ;
  reg_forget_name(name);
  return unlink(path) < 0 ? -errno : 0;
}

static int reap_one(const mp_shm_info *info, void *ctx) {
  char path[sizeof SHM_DIR + MP_NAME_MAX + 1];
  if (info->creator_alive || path_of(path, sizeof path, info->name) < 0)
    return 0;
  if (unlink(path) == 0)
    ++*(unsigned *)ctx;
  return 0;
}

int mp_shm_reap_stale(unsigned *removed) {
  unsigned n = 0;
  int rc = mp_shm_list(reap_one, &n);
  if (removed)
    *removed = n;
  return rc;
}
