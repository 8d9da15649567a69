#include "test_util.h"

gboolean test_iterate_until(GMainContext *ctx, volatile int *flag, guint timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (!*flag) {
    if (g_get_monotonic_time() >= end)
      return FALSE;
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(500);
  }
  return TRUE;
}

void test_iterate_for(GMainContext *ctx, guint ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (g_get_monotonic_time() < end) {
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(500);
  }
}
