#!/bin/sh
# shm-guard.sh CMD [ARGS...]: run CMD, then fail if it left behind any mproc
# segment that was not there before and whose creator is dead (a test that
# crashes or times out never runs its teardown, so the sweep is here); those
# are removed. New segments of a live creator belong to someone else (another
# run on the machine): they are reported, never touched.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
list() { ls -A /dev/shm 2>/dev/null | grep -i mproc | sort; }
# Creator pid: in the name of a partial (.mproc-tmp-PID.START-UUID), else in
# the segment header (int32 at byte 32).
creator() {
  case $1 in
    .mproc-tmp-*) pid=${1#.mproc-tmp-}; echo "${pid%%.*}" ;;
    *) od -A n -t d4 -j 32 -N 4 "/dev/shm/$1" 2>/dev/null | tr -d ' ' ;;
  esac
}
list > "$tmp/before"
"$@"
status=$?
list > "$tmp/after"
for f in $(comm -13 "$tmp/before" "$tmp/after"); do
  [ -e "/dev/shm/$f" ] || continue # removed meanwhile by its owner
  pid=$(creator "$f")
  if [ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null && kill -0 "$pid" 2>/dev/null; then
    echo "shm-guard: $f belongs to live process $pid: not ours, left alone" >&2
    continue
  fi
  echo "shm-guard: the run left $f in /dev/shm (creator ${pid:-?} is dead); removed" >&2
  rm -f "/dev/shm/$f"
  [ "$status" -eq 0 ] && status=1
done
exit "$status"
