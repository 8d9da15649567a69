/*
 * Rule 3 of weft.h across threads: once weft_pc_close() / weft_dc_close()
 * returns on one thread, no callback of that object runs on the thread
 * dispatching the events, not even one that had already started.
 *
 * QUEUED and GLib modes (in THREAD mode the close runs on the callback thread
 * itself): a dispatcher thread delivers events in a loop while an echo flood
 * keeps it busy in the watched object's message handler (slow-ish: some calls
 * sleep), and the test thread closes at a random moment. Every callback of
 * the watched object checks, as its last step, whether the close has already
 * returned; any that has is a violation. Sometimes the handler also closes
 * the object itself, from inside its own callback, at the same time: that
 * must neither deadlock nor break the rule.
 *
 * WEFT_CLOSE_RACE_ITERS overrides the number of rounds per case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pair.h"

typedef enum { WATCH_PC, WATCH_DC, WATCH_TRACK } watch_kind;

typedef struct race {
  pair *p;
  watch_kind kind;
  dc_probe *a;        /* side A's channel; B echoes what A sends */
  weft_track *sender; /* WATCH_TRACK: A's audio track */
  weft_track *track;  /* WATCH_TRACK: B's end of it, stopped by the test */
  gint closed;        /* atomic: the close on the test thread returned */
  gint violations;    /* atomic: callbacks still running or started after that */
  gint calls;         /* atomic: watched message or RTP callbacks */
  gint self_close_at; /* close from inside the handler at this call (0 = never) */
  gint self_closed;   /* atomic: that in-callback close returned */
  gint stop;          /* atomic: the dispatcher thread ends */
  GThread *dispatcher;
} race;

static int iters(int dflt) {
  const char *e = getenv("WEFT_CLOSE_RACE_ITERS");
  return e && atoi(e) > 0 ? atoi(e) : dflt;
}

/* Last statement of every watched callback. */
static void check_after(race *r) {
  if (g_atomic_int_get(&r->closed))
    g_atomic_int_inc(&r->violations);
}

static void close_watched(race *r) {
  if (r->kind == WATCH_PC)
    g_assert_cmpint(weft_pc_close(r->p->side[0].pc), ==, WEFT_OK);
  else if (r->kind == WATCH_DC)
    g_assert_cmpint(weft_dc_close(r->a->dc), ==, WEFT_OK);
  else
    g_assert_cmpint(weft_track_stop(r->track), ==, WEFT_OK);
}

static void watched_message(dc_probe *pr, weft_msg_type type, const void *data, size_t size) {
  race *r = pr->hook_data;
  int n = g_atomic_int_add(&r->calls, 1) + 1;
  if (n == g_atomic_int_get(&r->self_close_at)) {
    close_watched(r);
    g_atomic_int_set(&r->self_closed, 1);
  }
  g_usleep(g_random_int_range(100, 600)); /* widen the window */
  check_after(r);
}

static void watched_rtp(weft_track *t, const uint8_t *packet, size_t size, void *ud) {
  race *r = ud;
  int n = g_atomic_int_add(&r->calls, 1) + 1;
  if (n == g_atomic_int_get(&r->self_close_at)) {
    close_watched(r);
    g_atomic_int_set(&r->self_closed, 1);
  }
  g_usleep(g_random_int_range(100, 600));
  check_after(r);
}

/* B's pc (user data: its pair side): the remote end of A's track. */
static void b_on_track(weft_pc *pc, weft_track *t, void *ud) {
  race *r = ((pair_side *)ud)->hook_data;
  if (r->track)
    return;
  r->track = weft_track_ref(t);
  g_assert_cmpint(weft_track_set_user_data(t, r, NULL), ==, WEFT_OK);
  g_assert_cmpint(weft_track_set_on_rtp(t, watched_rtp), ==, WEFT_OK);
}

/* One message, or one RTP packet for WATCH_TRACK. */
static int send_one(race *r, const char *buf, size_t max) {
  size_t n = (size_t)g_random_int_range(1, (gint32)max);
  if (r->kind != WATCH_TRACK)
    return weft_dc_send_text(r->a->dc, buf, n);
  static guint16 seq;
  uint8_t pkt[12 + 200] = {0x80, 111};
  pkt[2] = (uint8_t)(seq >> 8);
  pkt[3] = (uint8_t)seq++;
  memcpy(pkt + 12, buf, n < 200 ? n : 200);
  int rc = weft_track_send_rtp(r->sender, pkt, 12 + (n < 200 ? n : 200), 0);
  return rc == WEFT_ERR_INVALID_STATE ? WEFT_ERR_AGAIN : rc; /* SRTP not ready yet */
}

static void watched_conn(pair_side *s, weft_pc_state st) { check_after(s->hook_data); }

static gpointer dispatcher_main(gpointer data) {
  race *r = data;
  pair *p = r->p;
  while (!g_atomic_int_get(&r->stop)) {
    if (p->opts.mode == PAIR_QUEUED) {
      g_assert_cmpint(weft_context_wait(p->ctx, 2), >=, 0);
      g_assert_cmpint(weft_context_dispatch(p->ctx, 0), >=, 0);
    } else {
      g_main_context_iteration(p->gmain, TRUE);
    }
  }
  return NULL;
}

static void dispatcher_start(race *r) {
  g_atomic_int_set(&r->stop, 0);
  r->dispatcher = g_thread_new("dispatcher", dispatcher_main, r);
}

static void dispatcher_stop(race *r) {
  g_atomic_int_set(&r->stop, 1);
  if (r->p->gmain)
    g_main_context_wakeup(r->p->gmain);
  g_thread_join(r->dispatcher);
  r->dispatcher = NULL;
}

/* Counters of callbacks of the watched object that start with a counter. */
static int started(race *r) {
  dc_probe *a = r->a;
  int n = g_atomic_int_get(&a->opened) + g_atomic_int_get(&a->closing) +
          g_atomic_int_get(&a->closed) + g_atomic_int_get(&a->low) + g_atomic_int_get(&a->errors);
  if (r->kind == WATCH_PC)
    n += g_atomic_int_get(&r->p->side[0].callbacks);
  return n;
}

/* One round: flood for a random while, close on this thread, then let the
 * dispatcher run on to catch late callbacks. Returns the violations. */
static int round_run(race *r) {
  dc_probe *a = r->a;
  g_atomic_int_set(&r->closed, 0);
  g_atomic_int_set(&r->violations, 0);
  g_atomic_int_set(&r->calls, 0);
  g_atomic_int_set(&r->self_closed, 0);
  /* One round in four also closes from inside the handler, racing this one. */
  g_atomic_int_set(&r->self_close_at,
                   g_random_int_range(0, 4) == 0 ? g_random_int_range(1, 300) : 0);
  a->hook_data = r;
  a->on_message_hook = watched_message;
  a->keep = 0;
  if (r->kind == WATCH_PC) {
    r->p->side[0].hook_data = r;
    r->p->side[0].conn_hook = watched_conn;
  }
  dispatcher_start(r);
  char msg[200];
  memset(msg, 'x', sizeof msg);
  /* Until the echoes flow back, then for a random while. */
  gint64 t0 = g_get_monotonic_time(), end = 0;
  for (;;) {
    gint64 now = g_get_monotonic_time();
    if (!end && (g_atomic_int_get(&r->calls) >= 20 || now - t0 > 10 * G_USEC_PER_SEC))
      end = now + g_random_int_range(1000, 30000);
    if (end && now >= end)
      break;
    int rc = send_one(r, msg, sizeof msg);
    if (rc == WEFT_ERR_AGAIN || rc == WEFT_OK)
      g_usleep(150); /* a steady stream the dispatcher cannot keep up with */
    else if (rc != WEFT_OK)
      break; /* closed from inside the handler */
  }
  int calls_at_close = g_atomic_int_get(&r->calls);
  close_watched(r);
  g_atomic_int_set(&r->closed, 1);
  int base = started(r);
  g_usleep(20000); /* anything still queued would run now */
  dispatcher_stop(r);
  int v = g_atomic_int_get(&r->violations) + (started(r) - base);
  if (v)
    g_test_message("%d callbacks after close (%d watched callbacks before it)", v, calls_at_close);
  return v;
}

static gboolean pred_open(pair *p, void *arg) {
  dc_probe **pr = arg;
  return pr[0] && g_atomic_int_get(&pr[0]->opened) > 0;
}

/* A new pair per round: WATCH_PC closes it, WATCH_TRACK stops B's end of
 * an audio track A sends on. */
static void run_pair_case(pair_mode mode, watch_kind kind, int rounds) {
  int total = 0, calls = 0;
  for (int i = 0; i < rounds; i++) {
    pair_opts o = PAIR_OPTS_INIT;
    o.mode = mode;
    o.echo_remote = TRUE;
    pair *p = pair_new(&o);
    race r = {.p = p, .kind = kind};
    if (kind == WATCH_TRACK) {
      p->side[1].hook_data = &r;
      g_assert_cmpint(weft_pc_set_on_track(p->side[1].pc, b_on_track), ==, WEFT_OK);
      r.sender = weft_pc_add_track(p->side[0].pc, WEFT_KIND_AUDIO, NULL);
      g_assert_nonnull(r.sender);
    }
    dc_probe *b;
    pair_connect(p, "race", &r.a, &b);
    b->keep = 0;
    g_assert_true(kind != WATCH_TRACK || r.track);
    total += round_run(&r);
    calls += g_atomic_int_get(&r.calls);
    weft_track_unref(r.sender);
    weft_track_unref(r.track);
    pair_free(p);
  }
  g_test_message("mode %d, %s: %d rounds, %d watched callbacks, %d violations", mode,
                 kind == WATCH_PC ? "pc close" : "track stop", rounds, calls, total);
  g_assert_cmpint(total, ==, 0);
}

static void run_dc_case(pair_mode mode, int rounds) {
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = mode;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  race r = {.p = p, .kind = WATCH_DC};
  dc_probe *b;
  pair_connect(p, "race0", &r.a, &b);
  b->keep = 0;
  int total = 0, calls = 0;
  for (int i = 0; i < rounds; i++) {
    if (i > 0) {
      char label[32];
      g_snprintf(label, sizeof label, "race%d", i);
      dc_probe *pr[1] = {pair_create_dc(p, 0, label, NULL)};
      g_assert_true(pair_wait(p, pred_open, pr, 10000));
      r.a = pr[0];
      b = pair_wait_remote_dc(p, 1, label, 10000);
      g_assert_nonnull(b);
      b->keep = 0;
    }
    total += round_run(&r);
    calls += g_atomic_int_get(&r.calls);
    probe_release_dc(r.a);
  }
  g_test_message("mode %d, dc close: %d rounds, %d watched callbacks, %d violations", mode, rounds,
                 calls, total);
  g_assert_cmpint(total, ==, 0);
  pair_free(p);
}

static void test_pc_queued(void) { run_pair_case(PAIR_QUEUED, WATCH_PC, iters(10)); }
static void test_pc_glib(void) { run_pair_case(PAIR_GLIB, WATCH_PC, iters(10)); }
static void test_track_queued(void) { run_pair_case(PAIR_QUEUED, WATCH_TRACK, iters(10)); }
static void test_track_glib(void) { run_pair_case(PAIR_GLIB, WATCH_TRACK, iters(10)); }
static void test_dc_queued(void) { run_dc_case(PAIR_QUEUED, iters(20)); }
static void test_dc_glib(void) { run_dc_case(PAIR_GLIB, iters(20)); }

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/close_race/pc_queued", test_pc_queued);
  g_test_add_func("/api/close_race/pc_glib", test_pc_glib);
  g_test_add_func("/api/close_race/dc_queued", test_dc_queued);
  g_test_add_func("/api/close_race/dc_glib", test_dc_glib);
  g_test_add_func("/api/close_race/track_queued", test_track_queued);
  g_test_add_func("/api/close_race/track_glib", test_track_glib);
  return g_test_run();
}
