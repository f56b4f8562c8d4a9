/* lib/error.c - mp_strerror() and mp_err_name(), generated from MP_ERR_MAP. */
#include "internal.h"

#include <string.h>


const char *mp_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define XX(name, value, msg)                                                   \
  case MP_##name:                                                              \
    return msg;
    MP_ERR_MAP(XX)
#undef XX
  default:
    break;
  }
  /* Another negative errno: glibc's static description, if it has one. */
  if (code < 0 && code > -4000) {
    const char *d = strerrordesc_np(-code);
    if (d)
      return d;
  }
  return "unknown error";
}

const char *mp_err_name(int code) {
  switch (code) {
  case 0:
    return "OK";
#define XX(name, value, msg)                                                   \
  case MP_##name:                                                              \
    return #name;
    MP_ERR_MAP(XX)
#undef XX
  default:
    break;
  }
  if (code < 0 && code > -4000) {
    const char *n = strerrorname_np(-code);
    if (n)
      return n;
  }
  return "UNKNOWN";
}
