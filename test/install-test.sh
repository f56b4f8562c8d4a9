#!/bin/sh
# install-test.sh ROOT CC: a program outside the tree builds against the mproc
# installed under ROOT with pkg-config, shared and static, and runs.
set -eu
root=$1
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/prog.c" <<'C'
#include <mproc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
/* Spawn and forkserver children: an entry starts one registered after it,
 * which leaves a named segment for its normal exit to remove. */
struct job {
  mp_start_method m;
  char name[48];
};
static int later(void *arg) {
  mp_shm *s;
  return mp_shm_create(((struct job *)arg)->name, 64, &s) == 0 ? 42 : 1;
}
static int run(mp_target fn, struct job *j) {
  mp_process_options o = {.method = j->m, .arg_size = sizeof *j};
  mp_process *p;
  int code = -1;
  if (mp_process_create(fn, j, &o, &p) || mp_process_start(p) ||
      mp_process_join(p, 20.0) || mp_process_exitcode(p, &code))
    return -1;
  mp_process_close(p);
  return code;
}
static int early(void *arg) { return run(later, arg); }
MP_REGISTER(early)
MP_REGISTER(later)
int main(void) {
  mp_lock *lock;
  mp_shm *s;
  struct job j;
  snprintf(j.name, sizeof j.name, "/mproc-install-test-%d", (int)getpid());
  for (j.m = MP_START_SPAWN; j.m <= MP_START_FORKSERVER; j.m++) {
    if (run(early, &j) != 42) return 8;
    if (mp_shm_open(j.name, &s) != MP_ENOENT) return 9;
  }
  if (mp_version() != MP_VERSION_HEX) return 2;
  if (mp_lock_create(NULL, &lock) != 0) return 3;
  int rc = mp_lock_acquire(lock, 1.0);
  if (rc != 0) return 4;
  if (mp_lock_release(lock) != 0) return 5;
  if (mp_lock_destroy(lock) != 0) return 6;
  if (strcmp(mp_strerror(MP_ETIMEDOUT), "timed out") != 0) return 7;
  printf("installed mproc %s works\n", mp_version_string());
  return 0;
}
C
export PKG_CONFIG_PATH="$root/lib/pkgconfig"
# shellcheck disable=SC2046
$cc -o "$tmp/prog" "$tmp/prog.c" $(pkg-config --cflags --libs mproc)
LD_LIBRARY_PATH="$root/lib" "$tmp/prog"
# shellcheck disable=SC2046
$cc -o "$tmp/prog-static" "$tmp/prog.c" $(pkg-config --cflags mproc) \
  -L"$root/lib" -Wl,-Bstatic -lmproc -Wl,-Bdynamic $(pkg-config --static --libs-only-l mproc | sed 's/-lmproc//')
"$tmp/prog-static"
test -x "$root/bin/mproc"
"$root/bin/mproc" --version
echo "install: pkg-config build against the installed library passes"
