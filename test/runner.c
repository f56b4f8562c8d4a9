/*
 * test/runner.c - runs every Check suite (forked mode), or, with
 * `--helper NAME ARGS...`, one helper entry point: tests start this very
 * binary as an unrelated process that way.
 */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  t_helper_fn fn;
} helpers[] = {
    {"lock-try", helper_lock_try},
    {"lock-hold", helper_lock_hold},
};

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "--helper") == 0) {
    for (size_t i = 0; i < sizeof helpers / sizeof helpers[0]; i++)
      if (strcmp(argv[2], helpers[i].name) == 0)
        return helpers[i].fn(argc - 3, argv + 3);
    fprintf(stderr, "unknown helper %s\n", argv[2]);
    return 127;
  }
  SRunner *sr = srunner_create(error_suite());
  srunner_add_suite(sr, deadline_suite());
  srunner_add_suite(sr, shm_suite());
  srunner_add_suite(sr, lock_suite());
  srunner_add_suite(sr, sync_suite());
  srunner_add_suite(sr, timer_suite());
  srunner_add_suite(sr, sync_kill_suite());
  srunner_add_suite(sr, process_suite());
  srunner_add_suite(sr, pipe_suite());
  srunner_add_suite(sr, queue_suite());
  srunner_add_suite(sr, value_suite());
  srunner_add_suite(sr, dict_suite());
  srunner_add_suite(sr, list_suite());
  srunner_add_suite(sr, crash_suite());
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
