/* Small helpers shared by white-box tests. */
#ifndef WEFT_TEST_UTIL_H
#define WEFT_TEST_UTIL_H

#include <glib.h>

/* Iterates @ctx (non-blocking steps with short sleeps) until *@flag becomes
 * non-zero or @timeout_ms passes. Returns TRUE if the flag was set. */
gboolean test_iterate_until(GMainContext *ctx, volatile int *flag, guint timeout_ms);
/* Iterates @ctx for @ms milliseconds. */
void test_iterate_for(GMainContext *ctx, guint ms);

#endif
