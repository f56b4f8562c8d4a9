/* test/check_error.c - the error convention and the version. */
#include "tests.h"

#include <limits.h>
#include <string.h>

static const struct {
  int code;
  const char *name;
} codes[] = {
#define XX(n, v, m) {MP_##n, #n},
    MP_ERR_MAP(XX)
#undef XX
};
#define NCODES (sizeof codes / sizeof codes[0])

START_TEST(every_code_has_name_and_message) {
  for (size_t i = 0; i < NCODES; i++) {
    ck_assert_int_lt(codes[i].code, 0);
    ck_assert_str_eq(mp_err_name(codes[i].code), codes[i].name);
    const char *msg = mp_strerror(codes[i].code);
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_ne(msg, "unknown error");
    for (size_t j = 0; j < i; j++)
      ck_assert_int_ne(codes[i].code, codes[j].code);
  }
}
END_TEST

START_TEST(errno_codes_are_negative_errno) {
  ck_assert_int_eq(MP_EINVAL, -EINVAL);
  ck_assert_int_eq(MP_ETIMEDOUT, -ETIMEDOUT);
  ck_assert_int_eq(MP_EOWNERDEAD, -EOWNERDEAD);
  ck_assert_int_eq(MP_EAGAIN, -EAGAIN);
  ck_assert_str_eq(mp_strerror(MP_ETIMEDOUT), "timed out");
}
END_TEST

START_TEST(own_codes_far_from_errno) {
  int own[] = {MP_ENOTOBJ, MP_EKIND, MP_EVERSION, MP_EBROKEN, MP_EWORKERDIED};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
    ck_assert_int_le(own[i], -4000);
    ck_assert_int_ge(own[i], -4095);
  }
}
END_TEST

START_TEST(unknown_and_success_codes) {
  ck_assert_str_eq(mp_strerror(0), "success");
  ck_assert_str_eq(mp_err_name(0), "OK");
  int unknown[] = {1, 42, INT_MAX, INT_MIN, -4095, -3999999, -4050};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    ck_assert_str_eq(mp_strerror(unknown[i]), "unknown error");
    ck_assert_str_eq(mp_err_name(unknown[i]), "UNKNOWN");
  }
  /* An errno mproc does not list still gets the system's words. */
  ck_assert_str_ne(mp_strerror(-EILSEQ), "unknown error");
  ck_assert_str_eq(mp_err_name(-EILSEQ), "EILSEQ");
}
END_TEST

START_TEST(acquired_macro) {
  ck_assert(MP_ACQUIRED(0));
  ck_assert(MP_ACQUIRED(MP_EOWNERDEAD));
  ck_assert(!MP_ACQUIRED(MP_ETIMEDOUT));
  ck_assert(!MP_ACQUIRED(MP_EAGAIN));
}
END_TEST

START_TEST(version_matches_header) {
  ck_assert_uint_eq(mp_version(), MP_VERSION_HEX);
  ck_assert_str_eq(mp_version_string(), MP_VERSION_STRING);
  ck_assert_uint_eq(MP_VERSION_HEX >> 16, MP_VERSION_MAJOR);
}
END_TEST

Suite *error_suite(void) {
  Suite *s = suite_create("error");
  TCase *tc = tcase_create("codes");
  tcase_set_timeout(tc, T_TIMEOUT);
  tcase_add_test(tc, every_code_has_name_and_message);
  tcase_add_test(tc, errno_codes_are_negative_errno);
  tcase_add_test(tc, own_codes_far_from_errno);
  tcase_add_test(tc, unknown_and_success_codes);
  tcase_add_test(tc, acquired_macro);
  tcase_add_test(tc, version_matches_header);
  suite_add_tcase(s, tc);
  return s;
}
