/*
 * process_cubes.c - the notebook's exercise: "create 5 processes to find
 * the cubes of numbers in parallel", the results collected in shared memory.
 *
 * Python (the same exercise with Array, as in the notebook's square_list):
 *     def cube(numbers, i, result):
 *         result[i] = numbers[i] ** 3
 *
 *     result = multiprocessing.Array('l', 5)
 *     procs = [Process(target=cube, args=(numbers, i, result))
 *              for i in range(5)]
 *     for p in procs: p.start()
 *     for p in procs: p.join()
 *     print(result[:])
 *
 * Each process gets its own slot of an mp_shm segment and writes only
 * that one, so no lock is needed; the parent reads the results after joining
 * them all. With the fork start method (the default) a child uses the
 * parent's pointers, into the segment and into the job table, as they are;
 * process_spawn.c does the same work with spawn and forkserver.
 *
 * Build: cc -std=c11 process_cubes.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>

#define NPROC 5

struct job {
  long number; /* the input          */
  long *cube;  /* its slot: output   */
};

/* The target: one cube into one slot. Its return value is the exit code. */
static int cube(void *arg) {
  struct job *job = arg;
  *job->cube = job->number * job->number * job->number;
  return 0;
}

int main(void) {
  const long numbers[NPROC] = {2, 3, 5, 7, 11};
  struct job jobs[NPROC];
  mp_process *p[NPROC];
  mp_shm *shm;
  int failed = 0, rc;

  printf("Number of cpu: %d\n", mp_cpu_count());
  if ((rc = mp_shm_create(NULL, NPROC * sizeof(long), &shm)) < 0) {
    fprintf(stderr, "process_cubes: mp_shm_create: %s\n", mp_strerror(rc));
    return 1;
  }
  long *result = mp_shm_buf(shm); /* zero-filled */

  for (int i = 0; i < NPROC; i++) {
    jobs[i] = (struct job){numbers[i], &result[i]};
    p[i] = NULL;
    if ((rc = mp_process_create(cube, &jobs[i], NULL, &p[i])) < 0 ||
        (rc = mp_process_start(p[i])) < 0) {
      fprintf(stderr, "process_cubes: start: %s\n", mp_strerror(rc));
      failed = 1;
    }
  }
  for (int i = 0; i < NPROC; i++) {
    int code = -1;
    if (!p[i])
      continue;
    if (mp_process_join(p[i], MP_FOREVER) < 0 ||
        mp_process_exitcode(p[i], &code) < 0 || code != 0)
      failed = 1;
    mp_process_close(p[i]);
  }

  printf("cubes:");
  for (int i = 0; i < NPROC; i++) {
    printf(" %ld", result[i]);
    if (result[i] != numbers[i] * numbers[i] * numbers[i])
      failed = 1;
  }
  printf("\n");
  mp_shm_destroy(shm);
  return failed;
}
