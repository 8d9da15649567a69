/* core/: error tables, thread-local errors, the log router, UTF-8, random. */
#include <string.h>

#include <glib.h>

#include "core/core.h"

static void test_error_tables(void) {
  int n = 0;
#define X(name, code, dom, msg)                                                                    \
  g_assert_cmpstr(weft_err_name(code), ==, "WEFT_ERR_" #name);                                     \
  g_assert_cmpstr(weft_err_dom_name(code), ==, dom);                                               \
  g_assert_cmpstr(weft_strerror(code), ==, msg);                                                   \
  g_assert_cmpint(code, <, 0);                                                                     \
  g_assert_cmpint(code, >, WEFT_ERR_LAST_);                                                        \
  n++;
  WEFT_ERRNO_MAP(X)
#undef X
  g_assert_cmpint(n, ==, 15);
  g_assert_cmpstr(weft_strerror(WEFT_OK), ==, "success");
  g_assert_cmpstr(weft_strerror(-999), ==, "unknown error");
  g_assert_cmpstr(weft_err_name(12345), ==, "WEFT_ERR_UNKNOWN");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_FINGERPRINT_FAILURE), ==,
                  "fingerprint-failure");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_NONE), ==, "");
}

static gpointer other_thread(gpointer p) {
  (void)p;
  g_assert_cmpint(weft_last_error(), ==, WEFT_OK); /* thread-local: nothing here */
  weft__error(WEFT_ERR_RANGE, "other %d", 2);
  return NULL;
}

static void test_last_error_thread_local(void) {
  g_assert_cmpint(weft__error(WEFT_ERR_SYNTAX, "SDP line %d: bad", 14), ==, WEFT_ERR_SYNTAX);
  GThread *t = g_thread_new("other", other_thread, NULL);
  g_thread_join(t);
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpstr(weft_last_error_message(), ==, "SDP line 14: bad");
  weft__error_clear();
  g_assert_cmpint(weft_last_error(), ==, WEFT_OK);
  g_assert_cmpstr(weft_last_error_message(), ==, "");
  /* Over-long messages are truncated, never overflow. */
  char big[2000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  weft__error(WEFT_ERR_INTERNAL, "%s", big);
  g_assert_cmpuint(strlen(weft_last_error_message()), <, 1000);
}

typedef struct {
  int count;
  weft_log_level last_level;
  char last_comp[32];
  char last_msg[256];
} log_sink;

static void sink_fn(weft_log_level level, const char *component, const char *message, void *ud) {
  log_sink *s = ud;
  s->count++;
  s->last_level = level;
  g_strlcpy(s->last_comp, component, sizeof s->last_comp);
  g_strlcpy(s->last_msg, message, sizeof s->last_msg);
}

static void test_log(void) {
  log_sink s = {0};
  weft_set_log_handler(sink_fn, &s);
  g_assert_cmpint(weft_set_log_spec("ice:debug,dtls:trace,*:error"), ==, WEFT_OK);
  WLOG_D("ice", "hello %d", 1);
  g_assert_cmpint(s.count, ==, 1);
  g_assert_cmpstr(s.last_comp, ==, "ice");
  g_assert_cmpstr(s.last_msg, ==, "hello 1");
  WLOG_D("sctp", "hidden");
  g_assert_cmpint(s.count, ==, 1);
  WLOG_T("dtls", "trace shown");
  g_assert_cmpint(s.count, ==, 2);
  WLOG_E("sctp", "errors pass the catch-all");
  g_assert_cmpint(s.count, ==, 3);
  /* Bad specs are refused and change nothing. */
  g_assert_cmpint(weft_set_log_spec("ice:loud"), ==, WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft_last_error_message(), "ice:loud"));
  g_assert_cmpint(weft_set_log_spec(":debug"), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_set_log_spec(NULL), ==, WEFT_ERR_INVALID_ARG);
  WLOG_D("ice", "still debug");
  g_assert_cmpint(s.count, ==, 4);
  g_assert_cmpint(weft_set_log_spec("3"), ==, WEFT_OK); /* numeric, all components: info */
  WLOG_I("pc", "info");
  WLOG_D("pc", "debug hidden");
  g_assert_cmpint(s.count, ==, 5);
  weft_set_log_level(WEFT_LOG_NONE);
  WLOG_E("pc", "none");
  g_assert_cmpint(s.count, ==, 5);
  weft_set_log_level(WEFT_LOG_WARNING);
  weft_set_log_handler(NULL, NULL);
}

static void test_utf8(void) {
  const struct {
    const char *s;
    gboolean ok;
  } cases[] = {
      {"", TRUE},
      {"plain ascii", TRUE},
      {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", TRUE},
      {"\xc3", FALSE},             /* truncated */
      {"\xe2\x82", FALSE},         /* truncated */
      {"\xc0\xaf", FALSE},         /* overlong '/' */
      {"\xed\xa0\x80", FALSE},     /* surrogate */
      {"\xf4\x90\x80\x80", FALSE}, /* > U+10FFFF */
      {"\xff", FALSE},
      {"a\x80z", FALSE},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
    g_assert_cmpint(weft__utf8_valid(cases[i].s, strlen(cases[i].s)), ==, cases[i].ok);
  /* Embedded NUL is valid UTF-8. */
  g_assert_true(weft__utf8_valid("a\0b", 3));
}

static void test_random(void) {
  char a[33], b[33];
  weft__random_ice_chars(a, 32);
  weft__random_ice_chars(b, 32);
  g_assert_cmpuint(strlen(a), ==, 32);
  g_assert_cmpstr(a, !=, b);
  for (int i = 0; i < 32; i++)
    g_assert_true(g_ascii_isalnum(a[i]) || a[i] == '+' || a[i] == '/');
  g_assert_cmpint(weft__now_us(), >, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/core/errors", test_error_tables);
  g_test_add_func("/core/last-error", test_last_error_thread_local);
  g_test_add_func("/core/log", test_log);
  g_test_add_func("/core/utf8", test_utf8);
  g_test_add_func("/core/random", test_random);
  return g_test_run();
}
