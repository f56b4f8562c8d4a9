#include <mproc.h>
#include <stdio.h>
int main(void) { printf("mproc %s\n", mp_version_string()); return 0; }
