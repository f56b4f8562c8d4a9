/* test/check_shm.c - shared-memory segments, listing and reaping. */
#include "tests.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* Count /dev/shm entries that mention mproc: creation error paths must
 * leave none behind, temporaries included. */
static int count_mproc_entries(void) {
  FILE *p = popen("ls -A /dev/shm | grep -c mproc", "r");
  int n = -1;
  if (p) {
    if (fscanf(p, "%d", &n) != 1)
      n = -1;
    pclose(p);
  }
  return n;
}

static void test_name(char *buf, size_t len, const char *what) {
  snprintf(buf, len, "/mproc-test-%s-%d", what, (int)getpid());
}

START_TEST(create_generated_name) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 1000, &shm), 0);
  const char *name = mp_shm_name(shm);
  ck_assert_int_eq(strncmp(name, "/mproc-", 7), 0);
  ck_assert_uint_eq(strlen(name), 7 + 36);
  ck_assert_uint_eq(mp_shm_size(shm), 1000);
  unsigned char *buf = mp_shm_buf(shm);
  ck_assert_uint_eq((uintptr_t)buf % 64, 0);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq(buf[i], 0);
  buf[999] = 7;
  ck_assert(t_shm_exists(name));
  char copy[MP_NAME_MAX + 1];
  snprintf(copy, sizeof copy, "%s", name);
  ck_rc(mp_shm_destroy(shm), 0);
  ck_assert(!t_shm_exists(copy));
}
END_TEST

START_TEST(mode_is_0600_whatever_the_umask) {
  mode_t old = umask(0);
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 1, &shm), 0);
  umask(old);
  char path[512];
  struct stat st;
  snprintf(path, sizeof path, "/dev/shm%s", mp_shm_name(shm));
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 07777, 0600);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

START_TEST(open_by_name_shares_bytes) {
  char name[64];
  test_name(name, sizeof name, "open");
  mp_shm *a, *b;
  ck_rc(mp_shm_create(name, 4096 * 3, &a), 0);
  ck_rc(mp_shm_create(name, 10, &b), -EEXIST);
  ck_assert_ptr_null(b);
  ck_rc(mp_shm_open(name, &b), 0);
  ck_assert_ptr_ne(mp_shm_buf(a), mp_shm_buf(b));
  ck_assert_uint_eq(mp_shm_size(b), 4096 * 3);
  ck_assert_str_eq(mp_shm_name(b), name);
  memcpy(mp_shm_buf(a), "hello", 6);
  ck_assert_str_eq(mp_shm_buf(b), "hello");
  ((char *)mp_shm_buf(b))[4096 * 3 - 1] = 'z';
  ck_assert_int_eq(((char *)mp_shm_buf(a))[4096 * 3 - 1], 'z');
  ck_rc(mp_shm_close(b), 0);
  ck_rc(mp_shm_unlink(a), 0);
  ck_rc(mp_shm_open(name, &b), -ENOENT);
  ck_rc(mp_shm_unlink(a), -ENOENT);
  ck_assert_str_eq(mp_shm_buf(a), "hello"); /* mapping outlives the name */
  ck_rc(mp_shm_close(a), 0);
}
END_TEST

START_TEST(bad_names) {
  char longest[MP_NAME_MAX + 1], too_long[MP_NAME_MAX + 2];
  memset(longest, 'm', MP_NAME_MAX);
  longest[0] = '/';
  longest[MP_NAME_MAX] = '\0';
  memset(too_long, 'm', MP_NAME_MAX + 1);
  too_long[0] = '/';
  too_long[MP_NAME_MAX + 1] = '\0';
  const char *bad[] = {"", "noslash", "/", "/a/b", "//", "/.", "/..",
                       "mproc-x", too_long};
  mp_shm *shm = (mp_shm *)1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_rc(mp_shm_create(bad[i], 10, &shm), -EINVAL);
    ck_assert_ptr_null(shm);
    ck_rc(mp_shm_open(bad[i], &shm), -EINVAL);
    ck_rc(mp_shm_remove(bad[i]), -EINVAL);
  }
  ck_rc(mp_shm_open(NULL, &shm), -EINVAL);
  ck_rc(mp_shm_remove(NULL), -EINVAL);
  /* The longest valid name works. */
  ck_rc(mp_shm_create(longest, 10, &shm), 0);
  ck_assert_str_eq(mp_shm_name(shm), longest);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

START_TEST(bad_sizes_and_args_leave_nothing) {
  int before = count_mproc_entries();
  mp_shm *shm = (mp_shm *)1;
  ck_rc(mp_shm_create(NULL, 0, &shm), -EINVAL);
  ck_assert_ptr_null(shm);
  ck_rc(mp_shm_create(NULL, SIZE_MAX, &shm), -ENOSPC);
  ck_rc(mp_shm_create(NULL, SIZE_MAX - 600, &shm), -ENOSPC);
  ck_rc(mp_shm_create(NULL, (size_t)1 << 50, &shm), -ENOSPC);
  ck_rc(mp_shm_create(NULL, 10, NULL), -EINVAL);
  ck_rc(mp_shm_open("/mproc-x", NULL), -EINVAL);
  ck_assert_int_eq(count_mproc_entries(), before);
}
END_TEST

START_TEST(null_and_bogus_handles) {
  ck_rc(mp_shm_close(NULL), 0);
  ck_rc(mp_shm_destroy(NULL), 0);
  ck_rc(mp_shm_unlink(NULL), -EINVAL);
  ck_assert_ptr_null(mp_shm_buf(NULL));
  ck_assert_uint_eq(mp_shm_size(NULL), 0);
  ck_assert_ptr_null(mp_shm_name(NULL));
  char stack[1024];
  ck_rc(mp_shm_close((mp_shm *)(stack + 600)), -EINVAL);
  ck_rc(mp_shm_destroy((mp_shm *)(stack + 600)), -EINVAL);
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 8, &shm), 0);
  mp_shm *copy = shm;
  ck_rc(mp_shm_destroy(shm), 0);
  ck_rc(mp_shm_close(copy), -EINVAL); /* already closed: refused, no crash */
}
END_TEST

static void write_file(const char *name, const void *data, size_t len) {
  char path[512];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
  close(fd);
}

static void remove_file(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  unlink(path);
}

START_TEST(foreign_segments_refused) {
  char name[64], link_name[64], junk[2048];
  test_name(name, sizeof name, "foreign");
  memset(junk, 0xab, sizeof junk);
  mp_shm *shm;
  write_file(name, junk, sizeof junk);
  ck_rc(mp_shm_open(name, &shm), MP_ENOTOBJ);
  ck_rc(mp_lock_open(name, (mp_lock **)&shm), MP_ENOTOBJ);
  ck_rc(mp_shm_remove(name), MP_ENOTOBJ);
  ck_assert(t_shm_exists(name)); /* left alone */
  write_file(name, "short", 5);
  ck_rc(mp_shm_open(name, &shm), MP_ENOTOBJ);
  /* A symbolic link is not followed. */
  test_name(link_name, sizeof link_name, "symlink");
  char target[512], path[512];
  snprintf(target, sizeof target, "/dev/shm%s", name);
  snprintf(path, sizeof path, "/dev/shm%s", link_name);
  ck_assert_int_eq(symlink(target, path), 0);
  ck_rc(mp_shm_open(link_name, &shm), MP_ENOTOBJ);
  remove_file(link_name);
  remove_file(name);
}
END_TEST

START_TEST(other_version_and_kind_refused) {
  mp_shm *shm, *again;
  ck_rc(mp_shm_create(NULL, 64, &shm), 0);
  char path[512];
  snprintf(path, sizeof path, "/dev/shm%s", mp_shm_name(shm));
  int fd = open(path, O_RDWR | O_CLOEXEC);
  ck_assert_int_ge(fd, 0);
  uint32_t version, other = 999;
  ck_assert_int_eq(pread(fd, &version, 4, 8), 4);
  ck_assert_int_eq(pwrite(fd, &other, 4, 8), 4);
  ck_rc(mp_shm_open(mp_shm_name(shm), &again), MP_EVERSION);
  ck_assert_int_eq(pwrite(fd, &version, 4, 8), 4);
  close(fd);
  ck_rc(mp_shm_open(mp_shm_name(shm), &again), 0);
  ck_rc(mp_shm_close(again), 0);
  mp_lock *lock;
  mp_rlock *rlock;
  ck_rc(mp_lock_open(mp_shm_name(shm), &lock), MP_EKIND);
  ck_rc(mp_lock_create(NULL, &lock), 0);
  ck_rc(mp_rlock_open(mp_lock_name(lock), &rlock), MP_EKIND);
  ck_rc(mp_lock_destroy(lock), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

static int child_writes_and_exits(void *arg) {
  mp_shm *shm = arg;
  strcpy(mp_shm_buf(shm), "from child");
  exit(0); /* a normal exit: runs atexit handlers */
}

START_TEST(forked_child_uses_handle_and_never_unlinks) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 64, &shm), 0);
  ck_assert_int_eq(t_wait(t_fork(child_writes_and_exits, shm)), 0);
  ck_assert_str_eq(mp_shm_buf(shm), "from child");
  ck_assert(t_shm_exists(mp_shm_name(shm)));
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

static int child_creates_and_exits(void *arg) {
  mp_shm *shm;
  if (mp_shm_create(arg, 64, &shm) != 0)
    return 1;
  mp_lock *lock; /* another kind, created and never destroyed */
  if (mp_lock_create(NULL, &lock) != 0)
    return 2;
  exit(t_shm_exists(arg) ? 0 : 3);
}

START_TEST(creator_exit_unlinks) {
  char name[64];
  test_name(name, sizeof name, "exit");
  int before = count_mproc_entries();
  ck_assert_int_eq(t_wait(t_fork(child_creates_and_exits, name)), 0);
  ck_assert(!t_shm_exists(name));
  ck_assert_int_eq(count_mproc_entries(), before);
}
END_TEST

struct found {
  const char *name;
  mp_shm_info info;
  int seen;
};

static int find_cb(const mp_shm_info *info, void *ctx) {
  struct found *f = ctx;
  if (strcmp(info->name, f->name) == 0) {
    f->info = *info;
    f->seen++;
  }
  return 0;
}

static int stop_cb(const mp_shm_info *info, void *ctx) {
  (void)info;
  (void)ctx;
  return 42;
}

START_TEST(list_shows_live_segments) {
  mp_shm *shm;
  mp_rlock *rlock;
  ck_rc(mp_shm_create(NULL, 777, &shm), 0);
  ck_rc(mp_rlock_create(NULL, &rlock), 0);
  struct found f = {.name = mp_shm_name(shm)};
  ck_rc(mp_shm_list(find_cb, &f), 0);
  ck_assert_int_eq(f.seen, 1);
  ck_assert_str_eq(f.info.kind, "shm");
  ck_assert_uint_eq(f.info.size, 777);
  ck_assert_int_eq(f.info.creator_pid, getpid());
  ck_assert_int_eq(f.info.creator_alive, 1);
  ck_assert_int_le(llabs(f.info.created - (int64_t)time(NULL)), 5);
  struct found g = {.name = mp_rlock_name(rlock)};
  ck_rc(mp_shm_list(find_cb, &g), 0);
  ck_assert_int_eq(g.seen, 1);
  ck_assert_str_eq(g.info.kind, "rlock");
  ck_rc(mp_shm_list(stop_cb, NULL), 42);
  ck_rc(mp_shm_list(NULL, NULL), -EINVAL);
  ck_rc(mp_rlock_destroy(rlock), 0);
  ck_rc(mp_shm_destroy(shm), 0);
}
END_TEST

static int child_creates_and_waits(void *arg) {
  int *fds = arg;
  char name[64];
  snprintf(name, sizeof name, "/mproc-test-stale-%d", (int)getpid());
  mp_shm *shm;
  if (mp_shm_create(name, 100, &shm) != 0)
    return 1;
  t_send(fds[1]);
  pause();
  return 2;
}

START_TEST(stale_segments_listed_and_reaped) {
  int fds[2];
  t_pipe(fds);
  mp_shm *live;
  ck_rc(mp_shm_create(NULL, 10, &live), 0);
  pid_t pid = t_fork(child_creates_and_waits, fds);
  ck_assert(t_recv(fds[0]));
  char name[64];
  snprintf(name, sizeof name, "/mproc-test-stale-%d", (int)pid);
  struct found f = {.name = name};
  ck_rc(mp_shm_list(find_cb, &f), 0);
  ck_assert_int_eq(f.info.creator_alive, 1);
  t_kill(pid); /* killed: no exit handler runs, the name stays */
  ck_assert(t_shm_exists(name));
  f.seen = 0;
  ck_rc(mp_shm_list(find_cb, &f), 0);
  ck_assert_int_eq(f.seen, 1);
  ck_assert_int_eq(f.info.creator_pid, pid);
  ck_assert_int_eq(f.info.creator_alive, 0);

  /* A creator killed half-way through creation leaves a partial. */
  char partial[64];
  snprintf(partial, sizeof partial, "/.mproc-tmp-%d.12345-test", (int)pid);
  write_file(partial, "", 0);
  struct found p = {.name = partial};
  ck_rc(mp_shm_list(find_cb, &p), 0);
  ck_assert_int_eq(p.seen, 1);
  ck_assert_str_eq(p.info.kind, "partial");
  ck_assert_int_eq(p.info.creator_alive, 0);

  unsigned removed = 0;
  ck_rc(mp_shm_reap_stale(&removed), 0);
  ck_assert_uint_ge(removed, 2);
  ck_assert(!t_shm_exists(name));
  ck_assert(!t_shm_exists(partial));
  ck_assert(t_shm_exists(mp_shm_name(live))); /* live ones untouched */
  ck_rc(mp_shm_reap_stale(NULL), 0);
  ck_rc(mp_shm_destroy(live), 0);
  close(fds[0]);
  close(fds[1]);
}
END_TEST

/* A partial whose creator is alive (this process, right start time) is not
 * stale; reaping leaves it. */
START_TEST(partial_of_live_creator_kept) {
  char partial[96];
  snprintf(partial, sizeof partial, "/.mproc-tmp-%d.%llu-test", (int)getpid(),
           (unsigned long long)mp__proc_start_time(getpid()));
  write_file(partial, "", 0);
  struct found p = {.name = partial};
  ck_rc(mp_shm_list(find_cb, &p), 0);
  ck_assert_int_eq(p.seen, 1);
  ck_assert_int_eq(p.info.creator_alive, 1);
  ck_rc(mp_shm_reap_stale(NULL), 0);
  ck_assert(t_shm_exists(partial));
  ck_rc(mp_shm_remove(partial), 0);
}
END_TEST

static int exit_at_once(void *arg) {
  (void)arg;
  return 0;
}

START_TEST(liveness_by_pid_and_start_time) {
  uint64_t start = mp__proc_start_time(getpid());
  ck_assert_uint_gt(start, 0);
  ck_assert_int_eq(mp__proc_alive(getpid(), start), 1);
  ck_assert_int_eq(mp__proc_alive(getpid(), start + 1), 0); /* pid reused */
  ck_assert_int_eq(mp__proc_alive(0, 0), 0);
  ck_assert_int_eq(mp__proc_alive(-1, 0), 0);
  pid_t pid = t_fork(exit_at_once, NULL);
  uint64_t child_start = mp__proc_start_time(pid);
  /* Until reaped the child is a zombie: dead for mproc. */
  siginfo_t si;
  ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
  ck_assert_int_eq(mp__proc_alive(pid, child_start), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_assert_int_eq(mp__proc_alive(pid, child_start), 0);
}
END_TEST

/* ---- fault injection: every failing step of create and open gives a clean
 * error and leaves nothing behind ----------------------------------------- */

enum fault_op { FAULT_SHM_CREATE, FAULT_LOCK_CREATE, FAULT_OPEN };

struct fault_case {
  enum fault_op op;
  int step;
  const char *name; /* for FAULT_OPEN */
};

static int run_with_fault(void *arg) {
  struct fault_case *c = arg;
  char n[16];
  snprintf(n, sizeof n, "%d", c->step);
  setenv("MPROC_FAULT", n, 1);
  void *obj = (void *)1;
  char name[64];
  int rc;
  snprintf(name, sizeof name, "/mproc-test-fault-%d", (int)getpid());
  switch (c->op) {
  case FAULT_SHM_CREATE:
    rc = mp_shm_create(name, 100, (mp_shm **)&obj);
    break;
  case FAULT_LOCK_CREATE:
    rc = mp_lock_create(name, (mp_lock **)&obj);
    break;
  default:
    rc = mp_rlock_open(c->name, (mp_rlock **)&obj);
    break;
  }
  if (rc == 0) /* the fault came after the last step: it all worked */
    return (c->op == FAULT_OPEN ? mp_rlock_close(obj)
            : c->op == FAULT_LOCK_CREATE ? mp_lock_destroy(obj)
                                         : mp_shm_destroy(obj)) == 0
               ? 100
               : 3;
  return rc < 0 && obj == NULL ? 0 : 1;
}

/* Did process pid leave its named segment or a temporary behind? (Only its
 * own names are looked at: other processes may create segments meanwhile.) */
static bool left_behind(pid_t pid) {
  char name[64], cmd[160];
  snprintf(name, sizeof name, "/mproc-test-fault-%d", (int)pid);
  snprintf(cmd, sizeof cmd, "ls -A /dev/shm | grep -q '^.mproc-tmp-%d\\.'",
           (int)pid);
  return t_shm_exists(name) || system(cmd) == 0;
}

static void walk_faults(enum fault_op op, const char *name, int min_steps) {
  int step;
  for (step = 1; step < 50; step++) {
    struct fault_case c = {op, step, name};
    pid_t pid = t_fork(run_with_fault, &c);
    int st = t_wait(pid);
    ck_assert_msg(st == 0 || st == 100, "step %d: exit %d", step, st);
    ck_assert_msg(!left_behind(pid), "step %d leaked", step);
    if (st == 100)
      break;
  }
  ck_assert_int_ge(step, min_steps);
  ck_assert_int_lt(step, 50);
}

START_TEST(fault_walk_create) {
  walk_faults(FAULT_SHM_CREATE, NULL, 6);
  walk_faults(FAULT_LOCK_CREATE, NULL, 6);
}
END_TEST

START_TEST(fault_walk_open) {
  mp_rlock *r;
  ck_rc(mp_rlock_create(NULL, &r), 0);
  walk_faults(FAULT_OPEN, mp_rlock_name(r), 3);
  ck_rc(mp_rlock_destroy(r), 0);
}
END_TEST

START_TEST(remove_by_name) {
  mp_shm *shm;
  ck_rc(mp_shm_create(NULL, 10, &shm), 0);
  char name[MP_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", mp_shm_name(shm));
  ck_rc(mp_shm_remove(name), 0);
  ck_assert(!t_shm_exists(name));
  ck_rc(mp_shm_remove(name), -ENOENT);
  ck_rc(mp_shm_destroy(shm), -ENOENT); /* name gone; mapping released */
}
END_TEST

Suite *shm_suite(void) {
  Suite *s = suite_create("shm");
  TCase *tc = tcase_create("segments");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, create_generated_name);
  tcase_add_test(tc, mode_is_0600_whatever_the_umask);
  tcase_add_test(tc, open_by_name_shares_bytes);
  tcase_add_test(tc, bad_names);
  tcase_add_test(tc, bad_sizes_and_args_leave_nothing);
  tcase_add_test(tc, null_and_bogus_handles);
  tcase_add_test(tc, foreign_segments_refused);
  tcase_add_test(tc, other_version_and_kind_refused);
  tcase_add_test(tc, forked_child_uses_handle_and_never_unlinks);
  tcase_add_test(tc, creator_exit_unlinks);
  suite_add_tcase(s, tc);
  TCase *tl = tcase_create("listing");
  tcase_set_timeout(tl, T_TIMEOUT);
  tcase_add_test(tl, list_shows_live_segments);
  tcase_add_test(tl, stale_segments_listed_and_reaped);
  tcase_add_test(tl, partial_of_live_creator_kept);
  tcase_add_test(tl, liveness_by_pid_and_start_time);
  tcase_add_test(tl, remove_by_name);
  suite_add_tcase(s, tl);
  TCase *tf = tcase_create("faults");
  tcase_set_timeout(tf, T_TIMEOUT);
  tcase_add_test(tf, fault_walk_create);
  tcase_add_test(tf, fault_walk_open);
  suite_add_tcase(s, tf);
  return s;
}
