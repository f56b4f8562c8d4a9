#!/bin/sh
# shm-guard.sh CMD [ARGS...]: run CMD, then fail if it left any mproc
# segment in /dev/shm that was not there before (and remove those). A test
# that crashes or times out never runs its teardown, so the sweep is here.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
list() { ls -A /dev/shm 2>/dev/null | grep -i mproc | sort; }
list > "$tmp/before"
"$@"
status=$?
list > "$tmp/after"
leaked=$(comm -13 "$tmp/before" "$tmp/after")
if [ -n "$leaked" ]; then
  echo "shm-guard: the run left mproc segments in /dev/shm (now removed):" >&2
  printf '  %s\n' $leaked >&2
  for f in $leaked; do rm -f "/dev/shm/$f"; done
  [ "$status" -eq 0 ] && status=1
fi
exit "$status"
