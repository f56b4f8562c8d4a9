/* test/check_deadline.c - the timeout convention's arithmetic (internal). */
#include "tests.h"

#include <math.h>
#include <stdint.h>

#include "internal.h"

static const struct {
  double timeout;
  int rc;
  bool forever;
  int64_t min_ns, max_ns; /* time left right after init */
} table[] = {
    {-1.0, 0, true, INT64_MAX, INT64_MAX},
    {MP_FOREVER, 0, true, INT64_MAX, INT64_MAX},
    {-1e-300, 0, true, INT64_MAX, INT64_MAX},
    {-INFINITY, 0, true, INT64_MAX, INT64_MAX},
    {INFINITY, 0, true, INT64_MAX, INT64_MAX},
    {MP_TIMEOUT_MAX, 0, true, INT64_MAX, INT64_MAX},
    {1e300, 0, true, INT64_MAX, INT64_MAX},
    {0.0, 0, false, 0, 0},
    {-0.0, 0, false, 0, 0},
    {1e-12, 0, false, 0, 1},
    {0.5, 0, false, 400000000, 500000000},
    {2.0, 0, false, 1900000000, 2000000000},
    {9.9e8, 0, false, 989999999000000000, 990000000000000000},
    {NAN, -EINVAL, false, 0, 0},
};

START_TEST(deadline_table) {
  mp__deadline d;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    int rc = mp__deadline_init(&d, table[i].timeout);
    ck_assert_msg(rc == table[i].rc, "row %zu: rc %d", i, rc);
    if (rc)
      continue;
    ck_assert_msg(d.forever == table[i].forever, "row %zu: forever", i);
    int64_t left = mp__deadline_left_ns(&d);
    ck_assert_msg(left >= table[i].min_ns && left <= table[i].max_ns,
                  "row %zu: %lld ns left", i, (long long)left);
  }
}
END_TEST

START_TEST(deadline_passes) {
  mp__deadline d;
  ck_rc(mp__deadline_init(&d, 0.05), 0);
  double t0 = t_now();
  while (mp__deadline_left_ns(&d) > 0)
    ck_assert(t_now() - t0 < 2.0);
  ck_assert(t_now() - t0 >= 0.049);
  ck_assert_int_eq(mp__deadline_left_ns(&d), 0);
}
END_TEST

Suite *deadline_suite(void) {
  Suite *s = suite_create("deadline");
  TCase *tc = tcase_create("arithmetic");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, deadline_table);
  tcase_add_test(tc, deadline_passes);
  suite_add_tcase(s, tc);
  return s;
}
