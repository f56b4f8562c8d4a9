/* mproc/version.h - compile-time and run-time version of mproc. */
#ifndef MPROC_VERSION_H
#define MPROC_VERSION_H

#include "common.h"

#define MP_VERSION_MAJOR 0
#define MP_VERSION_MINOR 1
#define MP_VERSION_PATCH 0
#define MP_VERSION_HEX                                                         \
  ((MP_VERSION_MAJOR << 16) | (MP_VERSION_MINOR << 8) | MP_VERSION_PATCH)

#define MP_STRINGIFY_(x) #x
#define MP_STRINGIFY(x) MP_STRINGIFY_(x)
#define MP_VERSION_STRING                                                      \
  MP_STRINGIFY(MP_VERSION_MAJOR)                                               \
  "." MP_STRINGIFY(MP_VERSION_MINOR) "." MP_STRINGIFY(MP_VERSION_PATCH)

MP_BEGIN_DECLS

/* Version of the library actually loaded, as MP_VERSION_HEX. Never fails. */
MP_EXTERN unsigned mp_version(void);

/* Version of the loaded library as "MAJOR.MINOR.PATCH"; a static string. */
MP_EXTERN const char *mp_version_string(void);

MP_END_DECLS

#endif /* MPROC_VERSION_H */
