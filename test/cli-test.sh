#!/bin/sh
# cli-test.sh CLI_PATH: drive the mproc command-line tool as a user would and
# check what it prints and how it exits. Run from `make check` as
#   test/shm-guard.sh test/cli-test.sh bin/mproc
#
# Segments are made by a small helper compiled here against the same static
# library as the CLI (next to it: build/ for bin/mproc, else its own
# directory; MPROC_LIBA overrides), with $CC (default cc). The helper either
# forks a creator that dies by SIGKILL right after creating a segment (so the
# segment is stale: its creator is gone and never cleaned up) or holds the
# segment until SIGTERM.
#
# Prints "ok - ..." / "not ok - ..." per assertion and a final
# "N passed, M failed"; exits 1 if anything failed. Everything it creates in
# /dev/shm and in its temporary directory is removed, also on failure.

if [ $# -ne 1 ]; then
  echo "usage: $0 CLI_PATH" >&2
  exit 2
fi

top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
case $1 in
/*) cli=$1 ;;
*) cli=$(pwd)/$1 ;;
esac
if [ ! -x "$cli" ]; then
  echo "cli-test: $cli: not an executable" >&2
  exit 1
fi

tag=mproc-cli-test
stale=/$tag-stale-$$
live=/$tag-live-$$
live2=/$tag-live2-$$
missing=/$tag-missing-$$
foreign=/$tag-foreign-$$
helper_pids=
tmp=

cleanup() {
  for p in $helper_pids; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  for n in "$stale" "$live" "$live2" "$missing" "$foreign"; do
    rm -f "/dev/shm$n"
  done
  [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mproc-cli-test.XXXXXX") || exit 1

passed=0
failed=0

pass() {
  passed=$((passed + 1))
  echo "ok - $1"
}

# fail DESCRIPTION: also shows what the last run printed.
fail() {
  failed=$((failed + 1))
  echo "not ok - $1"
  if [ -f "$tmp/out" ]; then
    echo "#   exit status: $rc"
    sed 's/^/#   stdout: /' "$tmp/out"
    sed 's/^/#   stderr: /' "$tmp/err"
  fi
}

# result DESCRIPTION: pass or fail by the status of the command just run,
# as in:  [ $rc -eq 0 ] && out_has foo
#         result "prints foo"
result() {
  if [ $? -eq 0 ]; then pass "$1"; else fail "$1"; fi
}

# run ARGS...: run the CLI; stdout in $tmp/out, stderr in $tmp/err, $rc.
run() {
  "$cli" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

out_is() { [ "$(cat "$tmp/out")" = "$1" ]; }
err_is() { [ "$(cat "$tmp/err")" = "$1" ]; }
out_has() { grep -q -e "$1" "$tmp/out"; }
err_has() { grep -q -e "$1" "$tmp/err"; }
out_lacks() { ! grep -q -e "$1" "$tmp/out"; }
out_empty() { [ ! -s "$tmp/out" ]; }
err_empty() { [ ! -s "$tmp/err" ]; }
exists() { [ -e "/dev/shm$1" ]; }
gone() { [ ! -e "/dev/shm$1" ]; }

# field NAME COLUMN: column COLUMN of NAME's row in the `shm ls` output.
field() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$tmp/out"; }

# ---- the helper ------------------------------------------------------------

cat >"$tmp/helper.c" <<'EOF'
#define _POSIX_C_SOURCE 200809L
#include <mproc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "msgs") == 0) {
    printf("%s\n%s\n", mp_strerror(MP_ENOENT), mp_strerror(MP_ENOTOBJ));
    return 0;
  }
  if (argc != 4)
    return 2;
  if (strcmp(argv[1], "stale") == 0) {
    /* The creator is a child that dies by SIGKILL; this process reaps it
     * (a zombie would still count as running) and exits quietly, so no
     * shell reports "Killed". */
    pid_t pid = fork();
    if (pid < 0)
      return 1;
    if (pid > 0) {
      int st;
      if (waitpid(pid, &st, 0) < 0)
        return 1;
      return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 1;
    }
  }
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &old);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);

  mp_shm *shm;
  int rc = mp_shm_create(argv[2], strtoul(argv[3], NULL, 10), &shm);
  if (rc < 0) {
    fprintf(stderr, "helper: %s: %s\n", argv[2], mp_strerror(rc));
    return 1;
  }
  printf("%s\n", mp_shm_name(shm));
  fflush(stdout);
  if (strcmp(argv[1], "stale") == 0)
    raise(SIGKILL); /* no cleanup: the segment stays, its creator gone */
  while (!stop)
    sigsuspend(&old);
  mp_shm_destroy(shm); /* -ENOENT when the test removed it: fine */
  return 0;
}
EOF

if [ -n "$MPROC_LIBA" ]; then
  liba=$MPROC_LIBA
elif [ "$(dirname "$cli")" = "$top/bin" ]; then
  liba=$top/build/libmproc.a
else
  liba=$(dirname "$cli")/libmproc.a
fi
uuid_libs=$(pkg-config --libs uuid 2>/dev/null) || uuid_libs=-luuid
# A sanitizer build's library needs its runtime: try those flags in turn.
built=
for san in "" "-fsanitize=address,undefined" "-fsanitize=thread"; do
  # shellcheck disable=SC2086 # word splitting wanted
  if ${CC:-cc} -std=c11 $san -I"$top/include" -o "$tmp/helper" \
    "$tmp/helper.c" "$liba" $uuid_libs -lrt -pthread 2>"$tmp/cc.err"; then
    built=1
    break
  fi
done
if [ -z "$built" ]; then
  cat "$tmp/cc.err" >&2
  echo "cli-test: cannot build the helper against $liba" >&2
  exit 1
fi
helper=$tmp/helper

# start_live NAME SIZE: a helper holding segment NAME until SIGTERM.
# Each helper writes its own file: the background child truncates it only
# after the fork, too late for the polling below to see an old one.
nlive=0
start_live() {
  nlive=$((nlive + 1))
  lout=$tmp/live$nlive.out
  "$helper" live "$1" "$2" >"$lout" 2>"$tmp/live$nlive.err" &
  hpid=$!
  helper_pids="$helper_pids $hpid"
  i=0
  while [ "$(cat "$lout" 2>/dev/null)" != "$1" ] && [ $i -lt 100 ]; do
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.1 2>/dev/null || sleep 1
    i=$((i + 1))
  done
  [ "$(cat "$lout" 2>/dev/null)" = "$1" ]
}

# stop_live PID: stop a helper and reap it.
stop_live() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

msg_enoent=$("$helper" msgs | sed -n 1p)
msg_enotobj=$("$helper" msgs | sed -n 2p)

# ---- version and help ------------------------------------------------------

h=$top/include/mproc/version.h
version=$(sed -n 's/^#define MP_VERSION_MAJOR \([0-9]*\).*/\1/p' "$h").$(
  sed -n 's/^#define MP_VERSION_MINOR \([0-9]*\).*/\1/p' "$h").$(
  sed -n 's/^#define MP_VERSION_PATCH \([0-9]*\).*/\1/p' "$h")
hint="Try 'mproc --help'."

run --version
[ $rc -eq 0 ] && out_is "mproc $version" && err_empty
result "--version prints 'mproc $version' and exits 0"
run -V
[ $rc -eq 0 ] && out_is "mproc $version"
result "-V prints the version"

run --help
[ $rc -eq 0 ] && out_has "^Usage: mproc" && err_empty
result "--help exits 0, on stdout, nothing on stderr"
out_has "shm ls" && out_has "shm rm" && out_has "map"
result "--help mentions shm ls, shm rm and map"
run -h
[ $rc -eq 0 ] && out_has "^Usage: mproc"
result "-h is --help"

for sub in shm "shm ls" "shm list" "shm rm" map; do
  # shellcheck disable=SC2086 # split "shm ls" into words
  run $sub --help
  [ $rc -eq 0 ] && out_has "^Usage: mproc" && err_empty
  result "$sub --help exits 0 with a usage"
done

# ---- usage errors ----------------------------------------------------------

run --bogus
[ $rc -eq 2 ] && out_empty &&
  err_is "$(printf "%s\n%s" "mproc: unrecognized option '--bogus'" "$hint")"
result "unknown option: exit 2, one line and the hint on stderr"
run -x
[ $rc -eq 2 ] && [ "$(tail -n 1 "$tmp/err")" = "$hint" ]
result "unknown short option: exit 2"
run frobnicate
[ $rc -eq 2 ] && out_empty && err_has "frobnicate" &&
  [ "$(tail -n 1 "$tmp/err")" = "$hint" ]
result "unknown command: exit 2"
run
[ $rc -eq 2 ] && [ "$(tail -n 1 "$tmp/err")" = "$hint" ]
result "no command: exit 2"
run --version=1
[ $rc -eq 2 ]
result "--version=1: exit 2"
run shm frob
[ $rc -eq 2 ] && err_has "frob"
result "shm frob: exit 2"
run shm ls --bogus
[ $rc -eq 2 ] && out_empty
result "shm ls --bogus: exit 2"
run shm ls extra
[ $rc -eq 2 ]
result "shm ls with an operand: exit 2"
run shm rm
[ $rc -eq 2 ]
result "shm rm without NAME: exit 2"
run shm rm --stale "$missing"
[ $rc -eq 2 ]
result "shm rm --stale NAME: exit 2"
run map
[ $rc -eq 2 ] && err_is "mproc map: not implemented yet"
result "map: not implemented yet, exit 2"

# ---- write errors ----------------------------------------------------------

if [ -w /dev/full ]; then
  "$cli" --help >/dev/full 2>"$tmp/err"
  rc=$?
  [ $rc -eq 1 ] && err_has "write error"
  result "--help to a full device: exit 1 and an error"
  "$cli" shm ls >/dev/full 2>"$tmp/err"
  rc=$?
  [ $rc -eq 1 ]
  result "shm ls to a full device: exit 1"
fi

# ---- shm ls ----------------------------------------------------------------

run shm ls
[ $rc -eq 0 ] && err_empty &&
  sed -n 1p "$tmp/out" | grep -q "^NAME  *KIND  *SIZE  *PID  *STATE  *CREATED$"
result "shm ls exits 0 with a header"

start_live "$live" 5000
result "a live segment can be made"
live_pid=$hpid
run shm ls
[ $rc -eq 0 ] && [ "$(field "$live" 5)" = alive ]
result "shm ls lists the live segment as alive"
[ "$(field "$live" 2)" = shm ] && [ "$(field "$live" 3)" = 5000 ] &&
  [ "$(field "$live" 4)" = "$live_pid" ]
result "shm ls shows its kind, size and creator pid"
d='[0-9][0-9]'
field "$live" 6 |
  grep -q "^${d}${d}-${d}-${d}T${d}:${d}:${d}[+-]${d}:${d}\$"
result "shm ls shows its creation time in ISO 8601"
run shm ls -H
[ $rc -eq 0 ] && [ "$(field "$live" 3)" = 4.9K ]
result "shm ls -H shows 5000 bytes as 4.9K"
run shm list -q
[ $rc -eq 0 ] && out_has "^$live\$" && out_lacks "NAME" &&
  ! grep -qv "^/" "$tmp/out"
result "shm list -q prints bare names, no header"

# ---- stale segments --------------------------------------------------------

name=$("$helper" stale "$stale" 100 2>"$tmp/stale.err")
[ "$name" = "$stale" ] && exists "$stale"
result "a stale segment can be made"
run shm ls
[ "$(field "$stale" 5)" = stale ]
result "shm ls shows it stale"
run shm ls --stale -q
[ $rc -eq 0 ] && out_has "^$stale\$" && out_lacks "^$live\$"
result "shm ls --stale -q lists it and not the live one"
run shm ls --stale
[ $rc -eq 0 ] && [ -z "$(awk 'NR > 1 && $5 != "stale"' "$tmp/out")" ]
result "shm ls --stale shows only stale rows"
run shm rm --stale
[ $rc -eq 0 ] && out_has '^removed [1-9][0-9]* stale segments*$'
result "shm rm --stale exits 0 and says how many it removed"
gone "$stale"
result "shm rm --stale removed the stale segment"
exists "$live"
result "shm rm --stale left the live segment"

# ---- shm rm NAME -----------------------------------------------------------

run shm rm "$missing"
[ $rc -eq 1 ] && err_is "mproc: $missing: $msg_enoent"
result "shm rm of a missing name: exit 1 and the error"

printf 'not an mproc segment\n' >"/dev/shm$foreign"
run shm rm "${foreign#/}"
[ $rc -eq 1 ] && err_is "mproc: ${foreign#/}: $msg_enotobj"
result "shm rm of a foreign file: exit 1, '$msg_enotobj'"
exists "$foreign"
result "shm rm left the foreign file in place"
run shm ls -q
out_lacks "$foreign"
result "shm ls does not list the foreign file"
rm -f "/dev/shm$foreign"

run shm rm "${live#/}"
[ $rc -eq 0 ] && out_empty && err_empty
result "shm rm NAME (without '/') of a live segment: exit 0, silent"
gone "$live"
result "shm rm removed the live segment"
stop_live "$live_pid"

start_live "$live2" 1
result "a second live segment can be made"
live2_pid=$hpid
run shm rm "$missing" "$live2"
[ $rc -eq 1 ] && err_is "mproc: $missing: $msg_enoent"
result "shm rm goes on after a failed name, exit 1"
gone "$live2"
result "shm rm removed the name after the failed one"
stop_live "$live2_pid"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
