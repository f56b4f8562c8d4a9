/*
 * bin/mproc.c - the mproc command-line tool.
 *
 *   mproc shm ls [-H] [-q] [--stale]   list mproc segments
 *   mproc shm rm NAME... | --stale     remove segments
 *   mproc map ...                      (planned: the pool map for the shell)
 *
 * Commands are dispatched from tables (struct cmd): each level parses its
 * own options with getopt_long and hands the rest of argv, starting at the
 * command name, to the chosen entry. Adding `map` means filling in its
 * run function.
 *
 * Exit status: 0 success, 1 failure (an operation or a write to stdout
 * failed), 2 usage error.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mproc.h>

enum { EXIT_USAGE = 2 };

/* One command of a dispatch table. `path` is the full command as the user
 * types it ("mproc shm ls"), used in messages. */
struct cmd {
  const char *name;
  const char *alias; /* or NULL */
  int (*run)(const struct cmd *self, int argc, char **argv);
  const char *path;
};

/* ---- messages ------------------------------------------------------------ */

static void errorf(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "PATH: message" on stderr. */
static void errorf(const char *path, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", path);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* A usage error: one line, then where to get help; returns EXIT_USAGE.
 * `help` is the command whose --help to suggest ("mproc", "mproc shm"). */
static int usage_error(const char *help, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *help, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", help);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help'.\n", help);
  return EXIT_USAGE;
}

/* Report what getopt_long rejected (opterr is 0: we print our own). glibc
 * leaves the offending word at argv[optind - 1] for long options; a bad
 * short option is optopt, possibly inside a cluster like -qz. */
static int bad_option(const char *path, int c, char **argv,
                      const struct option *opts) {
  const char *arg = argv[optind - 1];
  if (strncmp(arg, "--", 2) == 0) {
    if (c == ':')
      return usage_error(path, "option '%s' requires an argument", arg);
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    for (const struct option *o = opts; eq && o->name; o++) {
      if (o->val == optopt && n <= strlen(o->name) &&
          strncmp(o->name, arg + 2, n) == 0 && o->has_arg == no_argument)
        return usage_error(path, "option '--%s' doesn't allow an argument",
                           o->name);
    }
    if (optopt == 0) /* unknown or ambiguous */
      return usage_error(path, "unrecognized option '%s'", arg);
  }
  if (c == ':')
    return usage_error(path, "option requires an argument -- '%c'", optopt);
  return usage_error(path, "invalid option -- '%c'", optopt);
}

/* Start a fresh getopt_long parse of argv (glibc: optind 0 reinitialises). */
static void getopt_reset(void) {
  optind = 0;
  opterr = 0;
}

/* Run the entry of `table` named argv[0]; usage error if there is none. */
static int dispatch(const char *path, const struct cmd *table, int argc,
                    char **argv) {
  if (argc < 1)
    return usage_error(path, "missing command");
  for (const struct cmd *c = table; c->name; c++) {
    if (strcmp(argv[0], c->name) == 0 ||
        (c->alias && strcmp(argv[0], c->alias) == 0))
      return c->run(c, argc, argv);
  }
  return usage_error(path, "unknown command '%s'", argv[0]);
}

/* ---- help texts ---------------------------------------------------------- */

static const char main_usage[] =
    "Usage: mproc [OPTION]... COMMAND [ARG]...\n"
    "Manage mproc shared-memory segments; run commands in a process pool.\n"
    "\n"
    "Commands:\n"
    "  shm ls [-H] [-q] [--stale]  list mproc segments (alias: shm list)\n"
    "  shm rm NAME...              remove the named mproc segments\n"
    "  shm rm --stale              remove every stale mproc segment\n"
    "  map ...                     run a command per input item in a pool\n"
    "                              (coming: not implemented yet)\n"
    "\n"
    "Options:\n"
    "  -h, --help     display this help and exit\n"
    "  -V, --version  output version information and exit\n"
    "\n"
    "Run 'mproc COMMAND --help' for the options of a command.\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See mproc(1).\n";

static const char shm_usage[] =
    "Usage: mproc shm COMMAND [OPTION]... [NAME]...\n"
    "List and remove mproc shared-memory segments (in /dev/shm).\n"
    "\n"
    "Commands:\n"
    "  ls, list [-H] [-q] [--stale]  list mproc segments\n"
    "  rm NAME...                    remove the named mproc segments\n"
    "  rm --stale                    remove every stale mproc segment\n"
    "\n"
    "A segment is stale when the process that created it no longer runs.\n"
    "Run 'mproc shm COMMAND --help' for the options of a command.\n";

static const char shm_ls_usage[] =
    "Usage: mproc shm ls [OPTION]...\n"
    "List every mproc segment: NAME, KIND, SIZE (bytes), PID (of the\n"
    "creator), STATE (alive: its creator still runs; stale: it does not)\n"
    "and CREATED (local time).\n"
    "\n"
    "  -H, --human-readable  sizes like 4.0K, 12M (powers of 1024)\n"
    "  -q, --quiet           names only, one per line, no header\n"
    "      --stale           only stale segments\n"
    "  -h, --help            display this help and exit\n";

static const char shm_rm_usage[] =
    "Usage: mproc shm rm NAME...\n"
    "  or:  mproc shm rm --stale\n"
    "Remove the named mproc segments (the leading '/' may be left out), or\n"
    "every stale one. Segments not made by mproc are left alone. Processes\n"
    "that have a segment mapped keep it until they unmap it.\n"
    "\n"
    "      --stale  remove every segment whose creator no longer runs, and\n"
    "               print how many were removed\n"
    "  -h, --help   display this help and exit\n";

static const char map_usage[] =
    "Usage: mproc map [OPTION]... COMMAND [ARG]... [::: ITEM...]\n"
    "Run COMMAND once per input item in a pool of processes.\n"
    "\n"
    "Not implemented yet.\n";

static int print_help(const char *text) {
  fputs(text, stdout);
  return 0;
}

/* Options every non-leaf command accepts: only --help. Returns -1 to go on
 * (optind is the index of the subcommand), or an exit status. */
static int parse_help_only(const struct cmd *self, int argc, char **argv,
                           const char *usage, const char *optstring) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  getopt_reset();
  while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
    if (c == 'h')
      return print_help(usage);
    return bad_option(self->path, c, argv, opts);
  }
  return -1;
}

/* ---- shm ls -------------------------------------------------------------- */

struct seglist {
  mp_shm_info *v;
  size_t n, cap;
  int only_stale;
};

static int collect(const mp_shm_info *info, void *ctx) {
  struct seglist *l = ctx;
  if (l->only_stale && info->creator_alive)
    return 0;
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 32;
    mp_shm_info *nv = realloc(l->v, ncap * sizeof *nv);
    if (!nv)
      return MP_ENOMEM;
    l->v = nv;
    l->cap = ncap;
  }
  l->v[l->n++] = *info;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const mp_shm_info *)a)->name,
                ((const mp_shm_info *)b)->name);
}

/* Size as ls -h shows it: bytes below 1024, else rounded up to one decimal
 * below 10 units ("4.0K") and to a whole number above ("12M"). */
static void humanize(uint64_t size, char *buf, size_t len) {
  static const char units[] = "KMGTPE";
  if (size < 1024) {
    snprintf(buf, len, "%" PRIu64, size);
    return;
  }
  int u = 0;
  uint64_t div = 1024;
  while (u < 5 && size / div >= 1024) {
    div *= 1024;
    u++;
  }
  uint64_t whole = size / div, rem = size % div;
  if (whole < 10) { /* tenths of a unit, rounded up; no overflow: rem < div */
    uint64_t tenths = whole * 10 + (rem * 10 + div - 1) / div;
    if (tenths < 100) {
      snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%c", tenths / 10,
               tenths % 10, units[u]);
      return;
    }
    whole = 10; /* 9.95K shows as 10K */
    rem = 0;
  }
  uint64_t n = whole + (rem > 0);
  if (n >= 1024 && u < 5) /* 1023.5K rounds up to 1.0M */
    snprintf(buf, len, "1.0%c", units[u + 1]);
  else
    snprintf(buf, len, "%" PRIu64 "%c", n, units[u]);
}

/* Local time as ISO 8601 with the UTC offset: 2024-05-01T13:02:03+02:00. */
static void iso_time(int64_t t, char *buf, size_t len) {
  time_t tt = (time_t)t;
  struct tm tm;
  char off[8];
  if (!localtime_r(&tt, &tm) ||
      strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
      strftime(off, sizeof off, "%z", &tm) != 5) {
    snprintf(buf, len, "?");
    return;
  }
  size_t n = strlen(buf);
  snprintf(buf + n, len - n, "%.3s:%.2s", off, off + 3);
}

static int cmd_shm_ls(const struct cmd *self, int argc, char **argv) {
  enum { OPT_STALE = 256 };
  static const struct option opts[] = {
      {"human-readable", no_argument, NULL, 'H'},
      {"quiet", no_argument, NULL, 'q'},
      {"stale", no_argument, NULL, OPT_STALE},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int human = 0, quiet = 0, c;
  struct seglist l = {0};

  getopt_reset();
  while ((c = getopt_long(argc, argv, ":Hqh", opts, NULL)) != -1) {
    switch (c) {
    case 'H':
      human = 1;
      break;
    case 'q':
      quiet = 1;
      break;
    case OPT_STALE:
      l.only_stale = 1;
      break;
    case 'h':
      return print_help(shm_ls_usage);
    default:
      return bad_option(self->path, c, argv, opts);
    }
  }
  if (optind < argc)
    return usage_error(self->path, "extra operand '%s'", argv[optind]);

  int rc = mp_shm_list(collect, &l);
  if (rc < 0) {
    errorf("mproc", "/dev/shm: %s", mp_strerror(rc));
    free(l.v);
    return 1;
  }
  if (l.n) /* qsort(NULL, 0, ...) is undefined */
    qsort(l.v, l.n, sizeof *l.v, by_name);

  if (quiet) {
    for (size_t i = 0; i < l.n; i++)
      printf("%s\n", l.v[i].name);
    free(l.v);
    return 0;
  }

  /* Column widths: at least the header's. */
  char size[32], created[40];
  int wname = 4, wkind = 4, wsize = 4, wpid = 3;
  for (size_t i = 0; i < l.n; i++) {
    const mp_shm_info *s = &l.v[i];
    int n = (int)strlen(s->name);
    wname = n > wname ? n : wname;
    n = (int)strlen(s->kind);
    wkind = n > wkind ? n : wkind;
    if (human)
      humanize(s->size, size, sizeof size);
    else
      snprintf(size, sizeof size, "%" PRIu64, s->size);
    n = (int)strlen(size);
    wsize = n > wsize ? n : wsize;
    n = snprintf(size, sizeof size, "%ld", (long)s->creator_pid);
    wpid = n > wpid ? n : wpid;
  }
  printf("%-*s  %-*s  %*s  %*s  %-5s  %s\n", wname, "NAME", wkind, "KIND",
         wsize, "SIZE", wpid, "PID", "STATE", "CREATED");
  for (size_t i = 0; i < l.n; i++) {
    const mp_shm_info *s = &l.v[i];
    if (human)
      humanize(s->size, size, sizeof size);
    else
      snprintf(size, sizeof size, "%" PRIu64, s->size);
    iso_time(s->created, created, sizeof created);
    printf("%-*s  %-*s  %*s  %*ld  %-5s  %s\n", wname, s->name, wkind,
           s->kind, wsize, size, wpid, (long)s->creator_pid,
           s->creator_alive ? "alive" : "stale", created);
  }
  free(l.v);
  return 0;
}

/* ---- shm rm -------------------------------------------------------------- */

static int cmd_shm_rm(const struct cmd *self, int argc, char **argv) {
  enum { OPT_STALE = 256 };
  static const struct option opts[] = {{"stale", no_argument, NULL, OPT_STALE},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int stale = 0, c;

  getopt_reset();
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case OPT_STALE:
      stale = 1;
      break;
    case 'h':
      return print_help(shm_rm_usage);
    default:
      return bad_option(self->path, c, argv, opts);
    }
  }

  if (stale) {
    if (optind < argc)
      return usage_error(self->path, "--stale takes no NAME");
    unsigned removed = 0;
    int rc = mp_shm_reap_stale(&removed);
    printf("removed %u stale segment%s\n", removed, removed == 1 ? "" : "s");
    if (rc < 0) {
      errorf("mproc", "/dev/shm: %s", mp_strerror(rc));
      return 1;
    }
    return 0;
  }
  if (optind == argc)
    return usage_error(self->path, "missing NAME");

  int status = 0;
  for (int i = optind; i < argc; i++) {
    const char *arg = argv[i];
    char name[MP_NAME_MAX + 2];
    int rc;
    /* `ls /dev/shm` shows names without the '/': accept both. */
    if (snprintf(name, sizeof name, "%s%s", arg[0] == '/' ? "" : "/", arg) >=
        (int)sizeof name)
      rc = MP_ENAMETOOLONG;
    else
      rc = mp_shm_remove(name);
    if (rc < 0) {
      errorf("mproc", "%s: %s", arg, mp_strerror(rc));
      status = 1;
    }
  }
  return status;
}

/* ---- shm, map, main ------------------------------------------------------ */

static const struct cmd shm_cmds[] = {
    {"ls", "list", cmd_shm_ls, "mproc shm ls"},
    {"rm", NULL, cmd_shm_rm, "mproc shm rm"},
    {NULL, NULL, NULL, NULL}};

static int cmd_shm(const struct cmd *self, int argc, char **argv) {
  int rc = parse_help_only(self, argc, argv, shm_usage, "+:h");
  if (rc >= 0)
    return rc;
  return dispatch(self->path, shm_cmds, argc - optind, argv + optind);
}

static int cmd_map(const struct cmd *self, int argc, char **argv) {
  int rc = parse_help_only(self, argc, argv, map_usage, "+:h");
  if (rc >= 0)
    return rc;
  errorf(self->path, "not implemented yet");
  return EXIT_USAGE;
}

static const struct cmd main_cmds[] = {{"shm", NULL, cmd_shm, "mproc shm"},
                                       {"map", NULL, cmd_map, "mproc map"},
                                       {NULL, NULL, NULL, NULL}};

/* Flush and close stdout; 1 (after a message) if any write to it failed,
 * as coreutils' close_stdout does. */
static int close_stdout(void) {
  int had_error = ferror(stdout);
  errno = 0;
  int close_failed = fclose(stdout) != 0;
  if (!had_error && !close_failed)
    return 0;
  if (close_failed && errno)
    errorf("mproc", "write error: %s", strerror(errno));
  else
    errorf("mproc", "write error");
  return 1;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  static const struct cmd self = {"mproc", NULL, NULL, "mproc"};
  int c, status = -1;

  getopt_reset();
  while (status < 0 &&
         (c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
    switch (c) {
    case 'h':
      status = print_help(main_usage);
      break;
    case 'V':
      printf("mproc %s\n", mp_version_string());
      status = 0;
      break;
    default:
      status = bad_option(self.path, c, argv, opts);
      break;
    }
  }
  if (status < 0)
    status = dispatch(self.path, main_cmds, argc - optind, argv + optind);
  if (close_stdout() && status == 0)
    status = 1;
  return status;
}
