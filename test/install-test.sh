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
int main(void) {
  mp_lock *lock;
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
