/* ice/: the receive deferral's cap (lib/ice/ice.c, recv_cb and burst_cb),
 * driven past it. A remote controls how fast datagrams come; once RECV_BURST
 * of them were processed without the main loop turning, the rest are copied
 * into a queue bounded at 4 MiB (bytes + 64 per datagram) and dropped over
 * it. Here B, on its own context and thread, has a slow receive callback,
 * and A, on the main thread, floods it with numbered 1200-byte datagrams for
 * long enough that the queue must fill many times over. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "core/core.h"
#include "ice/ice.h"
#include "test_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#endif

/* ASan keeps freed memory in a quarantine (256 MB by default) before reusing
 * it, which would show as RSS growth no weft bound can explain (as in
 * tests/hostile/hostile_peer.c). ASAN_OPTIONS overrides. */
#if defined(__SANITIZE_ADDRESS__)
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "quarantine_size_mb=4:thread_local_quarantine_size_kb=256";
}
#endif

enum {
  DGRAM = 1200,
  /* lib/ice/ice.c: MAX_DEFERRED_BYTES and DEFERRED_OVERHEAD. */
  CAP = 4 * 1024 * 1024,
  OVERHEAD = 64,
  /* B's callback sleeps this long per datagram while flooded: 128 take
   * tens of milliseconds, during which A sends thousands. */
  SLOW_US = 300,
  /* The flood: at least this many datagrams, and on until B has dropped at
   * least MIN_DROPPED (several queues' worth: far past the cap, not just
   * at it), but never longer than FLOOD_MAX_MS (libnice's consent runs out
   * after 10 s without the loop turning; the point is that it turns). */
  MIN_SENT = 30000,
  MIN_DROPPED = 4 * CAP / (DGRAM + OVERHEAD),
  FLOOD_MAX_MS = 6000,
  AFTER = 50, /* datagrams sent after the flood */
};

/* RSS growth allowed: the queue's cap plus slack for the allocator. Holding
 * every datagram of the flood instead would add 30+ MiB (the cap raised
 * eightfold: +34 MiB in a release build). Sanitizers add shadow memory and
 * allocator caches that plateau once the queue is full: ASan +8 MiB here,
 * +16 MiB when the kernel buffer is small (rmem_max 208 KiB, no root) and
 * the flood runs its full 6 s; ThreadSanitizer +28 MiB. */
#if defined(__SANITIZE_THREAD__)
enum { RSS_SLACK_KIB = (2 * CAP + 40 * 1024 * 1024) / 1024 };
#elif defined(__SANITIZE_ADDRESS__)
enum { RSS_SLACK_KIB = (CAP + 24 * 1024 * 1024) / 1024 };
#else
enum { RSS_SLACK_KIB = (CAP + 16 * 1024 * 1024) / 1024 };
#endif

typedef struct peer {
  const char *name;
  GMainContext *ctx;
  weft__ice *ice;
  struct peer *other;
  volatile int connected;
  weft_ice_connection_state last_state;
  int failed;
  /* Receive side: touched on B's thread during the flood, on the main
   * thread before and after it (g_thread_join orders the two). */
  atomic_int slow;
  atomic_uint_fast64_t delivered;
  atomic_uint_fast64_t dropped_seen; /* recv_dropped as last seen on B's thread */
  bool any;
  uint32_t last_seq;
  uint64_t reordered, bad;
  uint32_t after_from; /* the first datagram sent after the flood */
  atomic_uint_fast64_t after_n;
} peer;

static atomic_int stop_thread;

static void on_candidate(void *ud, const char *cand) {
  peer *p = ud;
  g_assert_cmpint(weft__ice_add_remote_candidate(p->other->ice, cand), ==, 0);
}

static void on_gathering_done(void *ud) {
  peer *p = ud;
  g_assert_cmpint(weft__ice_remote_gathering_done(p->other->ice), ==, 0);
}

static void on_state(void *ud, weft_ice_connection_state st) {
  peer *p = ud;
  p->last_state = st;
  if (st == WEFT_ICE_CONNECTED)
    p->connected = 1;
  if (st == WEFT_ICE_FAILED)
    p->failed = 1;
}

/* Datagram @seq: 23 (a DTLS content type, RFC 7983), @seq big-endian, then
 * a pattern derived from @seq. */
static void make_dgram(uint8_t *buf, uint32_t seq) {
  buf[0] = 23;
  buf[1] = (uint8_t)(seq >> 24);
  buf[2] = (uint8_t)(seq >> 16);
  buf[3] = (uint8_t)(seq >> 8);
  buf[4] = (uint8_t)seq;
  for (size_t k = 5; k < DGRAM; k++)
    buf[k] = (uint8_t)(k * 7 + seq);
}

static void on_recv(void *ud, const uint8_t *data, size_t len) {
  peer *p = ud;
  if (len != DGRAM || data[0] != 23) {
    p->bad++;
    return;
  }
  uint32_t seq =
      (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
  uint8_t want[DGRAM];
  make_dgram(want, seq);
  if (memcmp(want, data, DGRAM) != 0) {
    p->bad++;
    return;
  }
  if (p->any && seq <= p->last_seq)
    p->reordered++;
  p->any = true;
  p->last_seq = seq;
  if (seq >= p->after_from)
    atomic_fetch_add(&p->after_n, 1);
  uint64_t n = atomic_fetch_add(&p->delivered, 1) + 1;
  if (n % 64 == 0) {
    weft__ice_counters c;
    weft__ice_get_counters(p->ice, &c);
    atomic_store(&p->dropped_seen, c.recv_dropped);
  }
  if (atomic_load(&p->slow))
    g_usleep(SLOW_US);
}

static void peer_new(peer *p, const char *name, GMainContext *ctx, bool controlling) {
  memset(p, 0, sizeof *p);
  p->name = name;
  p->ctx = ctx;
  p->after_from = UINT32_MAX;
  weft__ice_config cfg = {.enable_loopback = true};
  weft__ice_callbacks cb = {.on_candidate = on_candidate,
                            .on_gathering_done = on_gathering_done,
                            .on_state = on_state,
                            .on_recv = on_recv,
                            .ud = p};
  p->ice = weft__ice_new(ctx, &cfg, controlling, &cb);
  g_assert_nonnull(p->ice);
}

/* Both contexts from this thread, until @cond or @ms pass. */
static void iterate_both(peer *a, peer *b, guint ms, bool (*cond)(peer *, peer *)) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (!(cond && cond(a, b)) && g_get_monotonic_time() < end) {
    gboolean busy = g_main_context_iteration(a->ctx, FALSE);
    busy |= g_main_context_iteration(b->ctx, FALSE);
    if (!busy)
      g_usleep(200);
  }
}

static bool both_connected(peer *a, peer *b) { return a->connected && b->connected; }

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  g_assert_nonnull(f);
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose(f);
  g_assert_cmpint(kib, >, 0);
  return kib;
}

static gpointer run_context(gpointer data) {
  GMainContext *c = data;
  g_main_context_push_thread_default(c);
  while (!atomic_load(&stop_thread))
    g_main_context_iteration(c, TRUE);
  g_main_context_pop_thread_default(c);
  return NULL;
}

static bool after_arrived(peer *a, peer *b) {
  (void)a;
  return atomic_load(&b->after_n) >= AFTER;
}

static void test_deferred_cap(void) {
  GMainContext *ctx_a = g_main_context_new(), *ctx_b = g_main_context_new();
  peer a, b;
  peer_new(&a, "A", ctx_a, true);
  peer_new(&b, "B", ctx_b, false);
  a.other = &b;
  b.other = &a;
  g_assert_cmpint(weft__ice_set_remote_credentials(a.ice, weft__ice_local_ufrag(b.ice),
                                                   weft__ice_local_pwd(b.ice)),
                  ==, 0);
  g_assert_cmpint(weft__ice_set_remote_credentials(b.ice, weft__ice_local_ufrag(a.ice),
                                                   weft__ice_local_pwd(a.ice)),
                  ==, 0);
  g_assert_cmpint(weft__ice_gather(a.ice), ==, 0);
  g_assert_cmpint(weft__ice_gather(b.ice), ==, 0);
  iterate_both(&a, &b, 5000, both_connected);
  g_assert_true(a.connected && b.connected);
  /* Let the selected pair settle (B's receive buffer is enlarged then). */
  iterate_both(&a, &b, 200, NULL);

  long rss0 = rss_kib(), rss_max = rss0;
  atomic_store(&b.slow, 1);
  atomic_store(&stop_thread, 0);
  GThread *th = g_thread_new("ice-b", run_context, ctx_b);

  uint8_t buf[DGRAM];
  uint32_t seq = 0;
  uint64_t send_failed = 0;
  gint64 t0 = g_get_monotonic_time(), end = t0 + (gint64)FLOOD_MAX_MS * 1000;
  for (;;) {
    make_dgram(buf, seq++);
    if (weft__ice_send(a.ice, buf, DGRAM) != 0)
      send_failed++;
    if (seq % 256 == 0) {
      while (g_main_context_iteration(ctx_a, FALSE))
        ;
      long r = rss_kib();
      rss_max = MAX(rss_max, r);
      if ((seq >= MIN_SENT && atomic_load(&b.dropped_seen) >= MIN_DROPPED) ||
          g_get_monotonic_time() >= end)
        break;
    }
  }
  gint64 t_flood = g_get_monotonic_time() - t0;
  uint64_t sent = seq;

  /* B catches up at full speed on its own thread; A keeps answering. */
  atomic_store(&b.slow, 0);
  gint64 drain_end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  uint64_t prev = (uint64_t)-1;
  while (g_get_monotonic_time() < drain_end) {
    test_iterate_for(ctx_a, 100);
    rss_max = MAX(rss_max, rss_kib());
    uint64_t d = atomic_load(&b.delivered);
    if (d == prev)
      break; /* nothing for 100 ms: the queue is empty */
    prev = d;
  }
  atomic_store(&stop_thread, 1);
  g_main_context_wakeup(ctx_b);
  g_thread_join(th);

  weft__ice_counters n;
  weft__ice_get_counters(b.ice, &n);
  uint64_t delivered = atomic_load(&b.delivered);
  g_test_message("flood %.2f s: sent %" G_GUINT64_FORMAT " (send failures %" G_GUINT64_FORMAT
                 "), delivered %" G_GUINT64_FORMAT ", deferred %" G_GUINT64_FORMAT
                 ", dropped %" G_GUINT64_FORMAT ", queue peak %" G_GUINT64_FORMAT
                 " B (cap %d), RSS %ld -> max %ld KiB (+%ld)",
                 (double)t_flood / 1e6, sent, send_failed, delivered, n.recv_deferred,
                 n.recv_dropped, n.recv_deferred_peak, CAP, rss0, rss_max, rss_max - rss0);
  printf("# ice deferred: sent %" G_GUINT64_FORMAT " delivered %" G_GUINT64_FORMAT
         " deferred %" G_GUINT64_FORMAT " dropped %" G_GUINT64_FORMAT " peak %" G_GUINT64_FORMAT
         " B rss +%ld KiB flood %.2f s\n",
         sent, delivered, n.recv_deferred, n.recv_dropped, n.recv_deferred_peak, rss_max - rss0,
         (double)t_flood / 1e6);

  /* The cap was reached, and far passed; never exceeded. */
  g_assert_cmpuint(n.recv_deferred, >, 0);
  g_assert_cmpuint(n.recv_dropped, >, 0);
  g_assert_cmpuint(n.recv_deferred_peak, <=, CAP);
  g_assert_cmpuint(n.recv_deferred_peak, >, CAP - (DGRAM + OVERHEAD));
  /* What was delivered is intact and in order; nothing counted twice. */
  g_assert_cmpuint(b.bad, ==, 0);
  g_assert_cmpuint(b.reordered, ==, 0);
  g_assert_cmpuint(delivered + n.recv_dropped, <=, sent);
  /* Memory follows the cap, not the flood. */
  g_assert_cmpint(rss_max - rss0, <, RSS_SLACK_KIB);

  /* The link still works: a few more, all delivered (after any B still
   * held deferred: in order), and nothing dropped now. */
  g_assert_false(a.failed || b.failed);
  g_assert_cmpint(weft__ice_get_state(a.ice), ==, WEFT_ICE_CONNECTED);
  g_assert_cmpint(weft__ice_get_state(b.ice), ==, WEFT_ICE_CONNECTED);
  uint64_t dropped_before = n.recv_dropped;
  b.after_from = seq;
  for (unsigned i = 0; i < AFTER; i++) {
    make_dgram(buf, seq++);
    g_assert_cmpint(weft__ice_send(a.ice, buf, DGRAM), ==, 0);
    if (i % 10 == 9)
      iterate_both(&a, &b, 10, NULL);
  }
  iterate_both(&a, &b, 5000, after_arrived);
  g_assert_cmpuint(atomic_load(&b.after_n), ==, AFTER);
  g_assert_cmpuint(b.last_seq, ==, seq - 1);
  /* Every deferred datagram was delivered in the end. */
  g_assert_cmpuint(atomic_load(&b.delivered), >=, n.recv_deferred + AFTER);
  g_assert_cmpuint(b.bad, ==, 0);
  g_assert_cmpuint(b.reordered, ==, 0);
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.recv_dropped, ==, dropped_before);
  iterate_both(&a, &b, 200, NULL);
  g_assert_cmpint(a.last_state, ==, WEFT_ICE_CONNECTED);
  g_assert_cmpint(b.last_state, ==, WEFT_ICE_CONNECTED);

  weft__ice_free(a.ice);
  weft__ice_free(b.ice);
  gint64 close_end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while ((weft__ice_pending_closes(ctx_a) > 0 || weft__ice_pending_closes(ctx_b) > 0) &&
         g_get_monotonic_time() < close_end)
    iterate_both(&a, &b, 10, NULL);
  g_assert_cmpint(weft__ice_pending_closes(ctx_a), ==, 0);
  g_assert_cmpint(weft__ice_pending_closes(ctx_b), ==, 0);
  g_main_context_unref(ctx_a);
  g_main_context_unref(ctx_b);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/ice/bounds/deferred-datagrams", test_deferred_cap);
  return g_test_run();
}
