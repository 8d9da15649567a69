/* loop/: the three context modes, marshalling, the event queue, purge. */
#include <poll.h>

#include <glib.h>
#include <weft/weft-glib.h>

#include "loop/loop.h"

typedef struct {
  weft__event base;
  int *counter;
  int *freed;
  GThread **ran_on;
} test_event;

static void ev_run(weft__event *e) {
  test_event *t = (test_event *)e;
  (*t->counter)++;
  if (t->ran_on)
    *t->ran_on = g_thread_self();
}
static void ev_free(weft__event *e) {
  test_event *t = (test_event *)e;
  if (t->freed)
    (*t->freed)++;
  g_free(t);
}
static test_event *new_event(const void *owner, int *counter, int *freed, GThread **ran_on) {
  test_event *t = g_new0(test_event, 1);
  t->base.run = ev_run;
  t->base.free = ev_free;
  t->base.owner = owner;
  t->counter = counter;
  t->freed = freed;
  t->ran_on = ran_on;
  return t;
}

typedef struct {
  weft_context *ctx;
  int current;
  GThread *thread;
} probe;

static void probe_fn(void *p) {
  probe *pr = p;
  pr->current = weft_context_is_current(pr->ctx);
  pr->thread = g_thread_self();
}

static void test_thread_mode(void) {
  weft_context *ctx = weft_context_new(NULL);
  g_assert_nonnull(ctx);
  g_assert_cmpint(weft_context_is_current(ctx), ==, 0);
  probe pr = {ctx, 0, NULL};
  g_assert_cmpint(weft__context_invoke_sync(ctx, probe_fn, &pr), ==, WEFT_OK);
  g_assert_cmpint(pr.current, ==, 1);
  g_assert_true(pr.thread != g_thread_self());
  /* Events run on the engine thread, in order. */
  volatile int count = 0;
  int freed = 0;
  GThread *ran_on = NULL;
  for (int i = 0; i < 5; i++)
    weft__context_emit(ctx, &new_event(NULL, (int *)&count, &freed, &ran_on)->base);
  gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  while (g_atomic_int_get(&count) < 5 && g_get_monotonic_time() < end)
    g_usleep(1000);
  g_assert_cmpint(count, ==, 5);
  g_assert_true(ran_on == pr.thread);
  g_assert_cmpint(weft_context_get_fd(ctx), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft_context_dispatch(ctx, 0), ==, WEFT_ERR_INVALID_STATE);
  weft_context_unref(ctx);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

static weft_context *dispatch_ctx;
static int nested_rc;
static void nested_run(weft__event *e) {
  (void)e;
  nested_rc = weft_context_dispatch(dispatch_ctx, 0);
}

static void test_queued_mode(void) {
  weft_context_options o = WEFT_CONTEXT_OPTIONS_INIT;
  o.mode = WEFT_CONTEXT_QUEUED;
  weft_context *ctx = weft_context_new(&o);
  g_assert_nonnull(ctx);
  int fd = weft_context_get_fd(ctx);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(weft_context_wait(ctx, 10), ==, 0);
  int count = 0, freed = 0;
  GThread *ran_on = NULL;
  for (int i = 0; i < 3; i++)
    weft__context_emit(ctx, &new_event(NULL, &count, &freed, &ran_on)->base);
  struct pollfd p = {fd, POLLIN, 0};
  g_assert_cmpint(poll(&p, 1, 0), ==, 1);
  g_assert_cmpint(weft_context_wait(ctx, 0), ==, 1);
  g_assert_cmpint(weft_context_dispatch(ctx, 2), ==, 2);
  g_assert_cmpint(count, ==, 2);
  g_assert_true(ran_on == g_thread_self());
  g_assert_cmpint(weft_context_dispatch(ctx, 0), ==, 1);
  g_assert_cmpint(freed, ==, 3);
  g_assert_cmpint(poll(&p, 1, 0), ==, 0); /* drained: not readable any more */
  /* Dispatching from inside a callback is refused. */
  dispatch_ctx = ctx;
  test_event *t = new_event(NULL, &count, &freed, NULL);
  t->base.run = nested_run;
  weft__context_emit(ctx, &t->base);
  g_assert_cmpint(weft_context_dispatch(ctx, 0), ==, 1);
  g_assert_cmpint(nested_rc, ==, WEFT_ERR_WRONG_THREAD);
  /* Purge drops one owner's events without running them. */
  int a = 0, b = 0, fa = 0, fb = 0;
  int owner_a, owner_b;
  for (int i = 0; i < 3; i++)
    weft__context_emit(ctx, &new_event(&owner_a, &a, &fa, NULL)->base);
  for (int i = 0; i < 2; i++)
    weft__context_emit(ctx, &new_event(&owner_b, &b, &fb, NULL)->base);
  weft__context_purge(ctx, &owner_a);
  g_assert_cmpint(fa, ==, 3);
  g_assert_cmpint(weft_context_dispatch(ctx, 0), ==, 2);
  g_assert_cmpint(a, ==, 0);
  g_assert_cmpint(b, ==, 2);
  /* Events left pending at destruction are freed, not run. */
  weft__context_emit(ctx, &new_event(NULL, &a, &fa, NULL)->base);
  weft_context_unref(ctx);
  g_assert_cmpint(fa, ==, 4);
  g_assert_cmpint(a, ==, 0);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

static void test_glib_mode(void) {
  GMainContext *gctx = g_main_context_new();
  weft_context *ctx = weft_context_new_for_main_context(gctx);
  g_assert_nonnull(ctx);
  g_assert_true(weft_context_get_main_context(ctx) == gctx);
  /* Nobody iterates it: invoke runs inline on this thread. */
  probe pr = {ctx, 0, NULL};
  g_assert_cmpint(weft__context_invoke_sync(ctx, probe_fn, &pr), ==, WEFT_OK);
  g_assert_true(pr.thread == g_thread_self());
  int count = 0;
  weft__context_emit(ctx, &new_event(NULL, &count, NULL, NULL)->base);
  g_assert_cmpint(count, ==, 0); /* never from inside the emitting call */
  while (g_main_context_iteration(gctx, FALSE))
    ;
  g_assert_cmpint(count, ==, 1);
  weft_context_unref(ctx);
  /* The caller's context is left as found: nothing of ours is attached. */
  g_assert_false(g_main_context_pending(gctx));
  g_main_context_unref(gctx);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
  g_assert_null(weft_context_new_for_main_context(NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
}

static void unref_self(weft__event *e) {
  (void)e;
  weft_context_unref(dispatch_ctx);
}

static void test_unref_from_own_callback(void) {
  weft_context *ctx = weft_context_new(NULL);
  dispatch_ctx = ctx;
  int freed = 0, count = 0;
  test_event *t = new_event(NULL, &count, &freed, NULL);
  t->base.run = unref_self;
  weft__context_emit(ctx, &t->base);
  gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  while (weft_debug_live_objects() > 0 && g_get_monotonic_time() < end)
    g_usleep(1000);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

static void test_bad_options(void) {
  weft_context_options o = WEFT_CONTEXT_OPTIONS_INIT;
  o.mode = (weft_context_mode)7;
  g_assert_null(weft_context_new(&o));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  o = (weft_context_options)WEFT_CONTEXT_OPTIONS_INIT;
  o.struct_size = 2;
  g_assert_null(weft_context_new(&o));
  weft_context_unref(NULL);
  g_assert_cmpint(weft_context_dispatch(NULL, 0), ==, WEFT_ERR_INVALID_ARG);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/loop/thread", test_thread_mode);
  g_test_add_func("/loop/queued", test_queued_mode);
  g_test_add_func("/loop/glib", test_glib_mode);
  g_test_add_func("/loop/unref-from-callback", test_unref_from_own_callback);
  g_test_add_func("/loop/bad-options", test_bad_options);
  return g_test_run();
}
