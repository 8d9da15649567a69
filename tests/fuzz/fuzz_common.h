/*
 * Shared helpers of the fuzz targets. A target asserts invariants with
 * FUZZ_CHECK, which prints the failed condition and aborts whatever the build
 * type (assert() would vanish under NDEBUG), so libFuzzer and the standalone
 * driver both report it as a crash with the input that caused it.
 */
#ifndef WEFT_FUZZ_COMMON_H
#define WEFT_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "core/core.h"

#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s (last weft error: %s)\n", __FILE__, __LINE__,   \
              #cond, weft__error_message());                                                       \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* A failing weft__ call must leave a message naming the fault. */
#define FUZZ_CHECK_ERROR_MESSAGE()                                                                 \
  do {                                                                                             \
    const char *msg_ = weft__error_message();                                                      \
    FUZZ_CHECK(msg_ &&msg_[0]);                                                                    \
  } while (0)

/* True when the view [p, p+n) lies inside [base, base+len). */
static inline bool fuzz_inside(const void *p, size_t n, const uint8_t *base, size_t len) {
  const uint8_t *q = p;
  if (n == 0)
    return true; /* an empty view may point anywhere (or be NULL) */
  return q >= base && q <= base + len && n <= (size_t)(base + len - q);
}

/* A NUL-terminated heap copy of the input (free()). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    abort();
  if (size)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* Silences weft's own logging: a fuzzer prints only its findings. */
static inline void fuzz_quiet(void) {
  static bool done;
  if (!done) {
    weft_set_log_level(WEFT_LOG_NONE);
    done = true;
  }
}

#endif
