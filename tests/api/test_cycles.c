/*
 * Connect / open / message / close cycles on one context, checking that no
 * object survives a cycle. WEFT_TEST_CYCLES sets the count (default 100);
 * scripts run it under valgrind with a small count.
 */
#include <stdlib.h>
#include <string.h>

#include "pair.h"

static void wait_live(long want, int timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (weft_debug_live_objects() != want && g_get_monotonic_time() < end)
    g_usleep(2000);
  if (weft_debug_live_objects() != want)
    g_printerr("live objects: %ld, want %ld\n", weft_debug_live_objects(), want);
  g_assert_cmpint(weft_debug_live_objects(), ==, want);
}

static gboolean pred_b_closed(pair *p, void *arg) {
  dc_probe *b = arg;
  return g_atomic_int_get(&b->closed) > 0;
}

static void test_cycles(void) {
  int cycles = 100;
  const char *env = g_getenv("WEFT_TEST_CYCLES");
  if (env && atoi(env) > 0)
    cycles = atoi(env);
  weft_context *ctx = weft_context_new(NULL);
  g_assert_nonnull(ctx);
  wait_live(1, 2000);
  gint64 t_all = g_get_monotonic_time();
  double open_ms_sum = 0, open_ms_max = 0;
  for (int c = 0; c < cycles; c++) {
    pair_opts o = PAIR_OPTS_INIT;
    o.ctx = ctx;
    o.echo_remote = TRUE;
    pair *p = pair_new(&o);
    dc_probe *a, *b;
    char label[32];
    g_snprintf(label, sizeof label, "cycle-%d", c);
    pair_connect(p, label, &a, &b);
    double open_ms = (double)(p->t_open_us - p->t_start_us) / 1000.0;
    open_ms_sum += open_ms;
    if (open_ms > open_ms_max)
      open_ms_max = open_ms;
    g_assert_cmpint(weft_dc_send_text(a->dc, label, strlen(label)), ==, WEFT_OK);
    g_assert_true(probe_wait_msgs(a, 1, 10000));
    g_assert_cmpstr((const char *)probe_msg(a, 0)->data, ==, label);
    g_assert_cmpint(weft_dc_close(a->dc), ==, WEFT_OK);
    g_assert_true(pair_wait(p, pred_b_closed, b, 5000));
    pair_release(p);
    if ((c + 1) % 10 == 0 || c + 1 == cycles)
      wait_live(1, 2000); /* only the context */
  }
  double total_ms = (double)(g_get_monotonic_time() - t_all) / 1000.0;
  g_test_message("%d cycles: mean cycle %.1f ms, mean time to open %.1f ms (max %.1f ms)", cycles,
                 total_ms / cycles, open_ms_sum / cycles, open_ms_max);
  g_printerr("# %d cycles: mean cycle %.1f ms, mean time to open %.1f ms (max %.1f ms)\n", cycles,
             total_ms / cycles, open_ms_sum / cycles, open_ms_max);
  weft_context_unref(ctx);
  wait_live(0, 2000);
}

/* Closing at every stage of connection establishment (gathering, ICE, DTLS,
 * SCTP, DCEP): no crash, no leak, no callback after close. */
static void test_close_while_connecting(void) {
  int cycles = 40;
  const char *env = g_getenv("WEFT_TEST_CYCLES");
  if (env && atoi(env) > 0)
    cycles = MAX(4, atoi(env) / 2);
  weft_context *ctx = weft_context_new(NULL);
  for (int c = 0; c < cycles; c++) {
    pair_opts o = PAIR_OPTS_INIT;
    o.ctx = ctx;
    pair *p = pair_new(&o);
    pair_create_dc(p, 0, "early-close", NULL);
    pair_negotiate(p);
    /* 0..39 ms covers the whole setup on loopback (about 30 ms). */
    pair_pump(p, c % 40);
    int victim = c % 2;
    g_assert_cmpint(weft_pc_close(p->side[victim].pc), ==, WEFT_OK);
    int after = g_atomic_int_get(&p->side[victim].callbacks);
    pair_pump(p, 20);
    g_assert_cmpint(g_atomic_int_get(&p->side[victim].callbacks), ==, after);
    pair_release(p);
  }
  weft_context_unref(ctx);
  wait_live(0, 2000);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/cycles/connect-close", test_cycles);
  g_test_add_func("/api/cycles/close-while-connecting", test_close_while_connecting);
  return g_test_run();
}
