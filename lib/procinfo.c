/* lib/procinfo.c - facts about other processes, read from /proc. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* State letter and start time (field 22, clock ticks after boot) of pid,
 * from /proc/PID/stat; -1 when it cannot be read. */
static int read_stat(pid_t pid, char *state, uint64_t *start) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n;
  do
    n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and ')': skip past the last
   * ')'. Field 3 is the state; start time is field 22. */
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ' || !p[2])
    return -1;
  *state = p[2];
  p++;
  for (int field = 3; field < 22; field++) {
    p = strchr(p + 1, ' ');
    if (!p)
      return -1;
  }
  *start = strtoull(p + 1, NULL, 10);
  return 0;
}

uint64_t mp__proc_start_time(pid_t pid) {
  char state;
  uint64_t start;
  return read_stat(pid, &state, &start) == 0 ? start : 0;
}

int mp__proc_alive(pid_t pid, uint64_t start_time) {
  char state;
  uint64_t start;
  if (pid <= 0)
    return 0;
  if (read_stat(pid, &state, &start) == 0)
    /* A zombie never touches its segments again: it counts as dead. A
     * start time of 0 means the creator could not read /proc: pid only. */
    return (start == start_time || start_time == 0) && state != 'Z' &&
           state != 'X';
  if (errno == ENOENT)
    return 0;
  /* /proc unreadable: fall back on the pid alone. */
  return kill(pid, 0) == 0 || errno == EPERM;
}
