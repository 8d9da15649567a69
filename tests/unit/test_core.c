/* core/: error tables, thread-local errors, the log router, UTF-8, random. */
#include <stdlib.h>
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

static void check_sanitize(const char *in, size_t len, const char *want) {
  size_t n = 0;
  uint8_t *out = weft__utf8_sanitize(in, len, &n);
  g_assert_cmpuint(n, ==, strlen(want));
  g_assert_cmpmem(out, n, want, strlen(want));
  g_assert_true(weft__utf8_valid(out, n));
  free(out);
}

/* WHATWG "UTF-8 decode": one U+FFFD per maximal invalid subpart. */
static void test_utf8_sanitize(void) {
#define R "\xEF\xBF\xBD"
  check_sanitize("abc", 3, "abc");
  check_sanitize("a\xFF"
                 "b",
                 3, "a" R "b");
  check_sanitize("\xE2\x82", 2, R); /* truncated: one replacement */
  check_sanitize("\xE2\x82"
                 "A",
                 3, R "A");                       /* the prefix, not the A */
  check_sanitize("\xC0\xAF", 2, R R);             /* overlong lead: byte by byte */
  check_sanitize("\xED\xA0\x80", 3, R R R);       /* surrogate */
  check_sanitize("\xF4\x90\x80\x80", 4, R R R R); /* > U+10FFFF */
  check_sanitize("\xF0\x9F\x98\x80", 4, "\xF0\x9F\x98\x80");
  check_sanitize("\xF0\x9F\x98", 3, R);
  size_t n = 0; /* NUL is valid UTF-8: kept */
  uint8_t *nul = weft__utf8_sanitize("a\0b", 3, &n);
  g_assert_cmpmem(nul, n, "a\0b", 3);
  free(nul);
#undef R
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

static void count_wake(void *ud) { atomic_fetch_add((atomic_int *)ud, 1); }

static void test_rx_budget(void) {
  atomic_int wakes = 0;
  weft__rx_budget b;
  weft__rx_budget_init(&b, 1000, count_wake, &wakes);
  g_assert_true(weft__rx_budget_admit(&b, 5000)); /* empty: one big message passes */
  weft__rx_budget_add(&b, 600);
  g_assert_true(weft__rx_budget_admit(&b, 399));
  g_assert_false(weft__rx_budget_admit(&b, 400)); /* 600 + 400 reaches the limit */
  weft__rx_budget_add(&b, 500);                   /* a reader may overshoot by one message */
  g_assert_false(weft__rx_budget_admit(&b, 0));
  weft__rx_budget_release(&b, 500); /* 600 left: above half, no wake yet */
  g_assert_cmpint(atomic_load(&wakes), ==, 0);
  weft__rx_budget_release(&b, 100); /* 500: at half the limit */
  g_assert_cmpint(atomic_load(&wakes), ==, 1);
  weft__rx_budget_release(&b, 500); /* not stopped any more: no second wake */
  g_assert_cmpint(atomic_load(&wakes), ==, 1);
  g_assert_cmpuint(weft__rx_budget_used(&b), ==, 0);
  weft__rx_budget_release(&b, 0);
  g_assert_cmpint(atomic_load(&wakes), ==, 1);
}

/* A reader and a consumer on two threads: every stop is followed by a wake
 * (no lost wake-up), and the count never exceeds limit + one message. */
typedef struct budget_race {
  weft__rx_budget b;
  GMutex lock;
  GCond cond;
  bool woken;
  GAsyncQueue *q; /* message sizes handed from reader to consumer */
  atomic_size_t peak;
} budget_race;

static void race_wake(void *ud) {
  budget_race *r = ud;
  g_mutex_lock(&r->lock);
  r->woken = true;
  g_cond_signal(&r->cond);
  g_mutex_unlock(&r->lock);
}

static gpointer race_consumer(gpointer ud) {
  budget_race *r = ud;
  for (;;) {
    gpointer p = g_async_queue_pop(r->q);
    size_t n = GPOINTER_TO_SIZE(p);
    if (n == 1)
      return NULL; /* end marker */
    weft__rx_budget_release(&r->b, n);
  }
}

static void test_rx_budget_threads(void) {
  budget_race r;
  memset(&r, 0, sizeof r);
  g_mutex_init(&r.lock);
  g_cond_init(&r.cond);
  r.q = g_async_queue_new();
  weft__rx_budget_init(&r.b, 64 * 100, race_wake, &r);
  GThread *t = g_thread_new("consumer", race_consumer, &r);
  int stops = 0;
  for (int i = 0; i < 200000; i++) {
    while (!weft__rx_budget_admit(&r.b, 0)) {
      stops++;
      g_mutex_lock(&r.lock);
      gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
      while (!r.woken)
        g_assert_true(g_cond_wait_until(&r.cond, &r.lock, end)); /* a lost wake hangs here */
      r.woken = false;
      g_mutex_unlock(&r.lock);
    }
    size_t n = 64 + (size_t)(i % 7) * 2; /* even sizes, never the end marker */
    weft__rx_budget_add(&r.b, n);
    size_t used = weft__rx_budget_used(&r.b);
    if (used > atomic_load(&r.peak))
      atomic_store(&r.peak, used);
    g_async_queue_push(r.q, GSIZE_TO_POINTER(n));
  }
  g_async_queue_push(r.q, GSIZE_TO_POINTER((gsize)1));
  g_thread_join(t);
  g_assert_cmpuint(weft__rx_budget_used(&r.b), ==, 0);
  g_assert_cmpuint(atomic_load(&r.peak), <, 64 * 100 + 128);
  g_test_message("%d stops, peak %zu bytes", stops, (size_t)atomic_load(&r.peak));
  g_async_queue_unref(r.q);
  g_mutex_clear(&r.lock);
  g_cond_clear(&r.cond);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/core/errors", test_error_tables);
  g_test_add_func("/core/last-error", test_last_error_thread_local);
  g_test_add_func("/core/log", test_log);
  g_test_add_func("/core/utf8", test_utf8);
  g_test_add_func("/core/random", test_random);
  g_test_add_func("/core/utf8-sanitize", test_utf8_sanitize);
  g_test_add_func("/core/rx-budget", test_rx_budget);
  g_test_add_func("/core/rx-budget-threads", test_rx_budget_threads);
  return g_test_run();
}
