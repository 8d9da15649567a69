/* core/ratelimit.c: the limiter of remote-triggered log lines (time given
 * as an argument) and the escaping of remote strings. */
#include <glib.h>
#include <string.h>

#include "core/core.h"

static void test_burst_then_suppressed(void) {
  weft__ratelimit rl = {.burst = 3};
  const int64_t t0 = 1000000;
  uint64_t held = 99;
  /* Just under the bound: three lines in one second all pass. */
  for (int i = 0; i < 3; i++) {
    g_assert_true(weft__ratelimit_allow(&rl, t0 + i * 1000, &held));
    g_assert_cmpuint(held, ==, 0);
  }
  /* Past it: the rest of the window is held back and counted. */
  for (int i = 0; i < 1000; i++)
    g_assert_false(weft__ratelimit_allow(&rl, t0 + 10000 + i, &held));
  g_assert_cmpuint(rl.suppressed, ==, 1000);
  g_assert_cmpuint(rl.events, ==, 1003);
  /* Still in the window at 999 ms. */
  g_assert_false(weft__ratelimit_allow(&rl, t0 + 999999, NULL));
  /* Next window: the first line reports how many were held back. */
  g_assert_true(weft__ratelimit_allow(&rl, t0 + WEFT__RATELIMIT_WINDOW_US + 5, &held));
  g_assert_cmpuint(held, ==, 1001);
  g_assert_true(weft__ratelimit_allow(&rl, t0 + WEFT__RATELIMIT_WINDOW_US + 6, &held));
  g_assert_cmpuint(held, ==, 0);
  g_assert_cmpuint(rl.suppressed, ==, 0);
}

static void test_default_burst_and_clock(void) {
  weft__ratelimit rl = {0};
  int passed = 0;
  for (int i = 0; i < 100; i++)
    passed += weft__ratelimit_allow(&rl, 5000 + i, NULL);
  g_assert_cmpint(passed, ==, WEFT__RATELIMIT_BURST);
  /* A clock that goes back starts a new window instead of blocking. */
  g_assert_true(weft__ratelimit_allow(&rl, 10, NULL));
  /* 100 events a second for a minute: at most burst lines a second. */
  weft__ratelimit r2 = {.burst = 2};
  passed = 0;
  for (int64_t t = 0; t < 60 * WEFT__RATELIMIT_WINDOW_US; t += 10000)
    passed += weft__ratelimit_allow(&r2, t, NULL);
  g_assert_cmpint(passed, ==, 2 * 60);
}

static int lines_seen;
static char last_line[1024];
static void capture(weft_log_level level, const char *component, const char *message, void *ud) {
  (void)level;
  (void)ud;
  if (strcmp(component, "test") != 0)
    return;
  lines_seen++;
  g_strlcpy(last_line, message, sizeof last_line);
}

static void test_log_limited(void) {
  weft_set_log_handler(capture, NULL);
  weft__ratelimit rl = {.burst = 2};
  for (int i = 0; i < 50; i++)
    weft__log_limited(&rl, WEFT_LOG_WARNING, "test", "bad thing %d", i);
  g_assert_cmpint(lines_seen, ==, 2);
  g_assert_cmpstr(last_line, ==, "bad thing 1");
  /* The next window's first line carries the count. */
  rl.window_start_us -= WEFT__RATELIMIT_WINDOW_US;
  weft__log_limited(&rl, WEFT_LOG_WARNING, "test", "bad thing %d", 50);
  g_assert_cmpint(lines_seen, ==, 3);
  g_assert_cmpstr(last_line, ==, "bad thing 50 (48 similar suppressed)");
  /* A disabled level costs nothing and counts nothing. */
  uint64_t before = rl.events;
  weft__log_limited(&rl, WEFT_LOG_TRACE, "test", "quiet");
  g_assert_cmpuint(rl.events, ==, before);
  weft_set_log_handler(NULL, NULL);
}

static void test_escape(void) {
  char buf[WEFT__ESCAPE_BUF];
  g_assert_cmpstr(weft__escape(buf, sizeof buf, "plain label", SIZE_MAX), ==, "plain label");
  g_assert_cmpstr(weft__escape(buf, sizeof buf, "a\x01\x1b[31mb\\c\xc3\xa9", SIZE_MAX), ==,
                  "a\\x01\\x1b[31mb\\x5cc\\xc3\\xa9");
  g_assert_cmpstr(weft__escape(buf, sizeof buf, NULL, 3), ==, "(null)");
  /* With a length, NULs are bytes like any other; SIZE_MAX is a C string. */
  g_assert_cmpstr(weft__escape(buf, sizeof buf, "ab\0cd", 5), ==, "ab\\x00cd");
  g_assert_cmpstr(weft__escape(buf, sizeof buf, "ab\0cd", SIZE_MAX), ==, "ab");
  g_assert_cmpstr(weft__escape(buf, sizeof buf, "abcdef", 3), ==, "abc");
  /* Length-limited: exactly what fits is kept whole, one more is cut. */
  char in[200];
  memset(in, 'x', sizeof in);
  in[sizeof in - 1] = '\0';
  in[WEFT__ESCAPE_BUF - 1] = '\0';
  weft__escape(buf, sizeof buf, in, SIZE_MAX);
  g_assert_cmpuint(strlen(buf), ==, WEFT__ESCAPE_BUF - 1);
  g_assert_false(g_str_has_suffix(buf, "..."));
  in[WEFT__ESCAPE_BUF - 1] = 'x';
  weft__escape(buf, sizeof buf, in, SIZE_MAX);
  g_assert_cmpuint(strlen(buf), ==, WEFT__ESCAPE_BUF - 1);
  g_assert_true(g_str_has_suffix(buf, "xxx..."));
  /* Escapes are never cut in the middle. */
  memset(in, 0x01, sizeof in - 1);
  weft__escape(buf, sizeof buf, in, SIZE_MAX);
  g_assert_true(g_str_has_suffix(buf, "\\x01..."));
  g_assert_cmpuint(strlen(buf) % 4, ==, 3);
  /* A tiny buffer still ends in a NUL. */
  char small[4];
  g_assert_cmpstr(weft__escape(small, sizeof small, "abcdef", SIZE_MAX), ==, "...");
  g_assert_cmpstr(weft__escape(small, sizeof small, "abc", SIZE_MAX), ==, "abc");
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/core/ratelimit/burst-then-suppressed", test_burst_then_suppressed);
  g_test_add_func("/core/ratelimit/default-burst-and-clock", test_default_burst_and_clock);
  g_test_add_func("/core/ratelimit/log-limited", test_log_limited);
  g_test_add_func("/core/escape", test_escape);
  return g_test_run();
}
