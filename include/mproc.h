/*
 * mproc.h - Python's multiprocessing for C: the only header a program
 * needs. See docs/ and the man pages for the whole API.
 */
#ifndef MPROC_H
#define MPROC_H

#include "mproc/common.h"
#include "mproc/dict.h"
#include "mproc/error.h"
#include "mproc/list.h"
#include "mproc/lock.h"
#include "mproc/pipe.h"
#include "mproc/process.h"
#include "mproc/queue.h"
#include "mproc/shm.h"
#include "mproc/sync.h"
#include "mproc/timer.h"
#include "mproc/value.h"
#include "mproc/version.h"

#endif /* MPROC_H */
