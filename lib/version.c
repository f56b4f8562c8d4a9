/* lib/version.c - run-time version. */
#include "internal.h"

unsigned mp_version(void) { return MP_VERSION_HEX; }

const char *mp_version_string(void) { return MP_VERSION_STRING; }
