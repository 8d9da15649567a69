/*
 * examples/signaling — what test_signaling.c and test_room.c share: the check
 * macro and its failure count, and a main-loop wait. One test program
 * includes it once.
 */
#ifndef EXAMPLES_SIGNALING_TEST_UTIL_H
#define EXAMPLES_SIGNALING_TEST_UTIL_H

#include <glib.h>
#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      printf("ok   ");                                                                             \
    } else {                                                                                       \
      printf("FAIL ");                                                                             \
      failures++;                                                                                  \
    }                                                                                              \
    printf(__VA_ARGS__);                                                                           \
    printf("\n");                                                                                  \
    fflush(stdout);                                                                                \
  } while (0)

/* Iterates the default context until @cond() or @ms pass. */
#define RUN_UNTIL(cond, ms)                                                                        \
  do {                                                                                             \
    gint64 deadline_ = g_get_monotonic_time() + (gint64)(ms)*1000;                                 \
    while (!(cond) && g_get_monotonic_time() < deadline_)                                          \
      if (!g_main_context_iteration(NULL, FALSE))                                                  \
        g_usleep(1000);                                                                            \
  } while (0)

#endif
