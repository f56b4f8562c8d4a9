/* lib/procinfo.c - facts about other processes, read from /proc. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


uint64_t mp__proc_start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n;
  do
    n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and ')': skip past the last
   * ')'. Then fields 3.. follow; start time is field 22. */
  char *p = strrchr(buf, ')');
  if (!p)
    return 0;
  p++;
  for (int field = 3; field < 22; field++) {
    p = strchr(p + 1, ' ');
    if (!p)
      return 0;
  }
  return strtoull(p + 1, NULL, 10);
}

int mp__proc_alive(pid_t pid, uint64_t start_time) {
  if (pid <= 0)
    return 0;
  uint64_t now = mp__proc_start_time(pid);
  if (now)
    return now == start_time;
  /* /proc unreadable: fall back on the pid alone. */
  return kill(pid, 0) == 0 || errno == EPERM;
}
