/*
 * Media events are bounded per track (issue 12 §1): an application that does
 * not take its packets loses the oldest media events beyond the bound — a
 * counted drop, `events_dropped` in the track's stats — while data-channel
 * messages of the same peer connection are never dropped.
 *
 * QUEUED mode: the test thread is the application, nothing reaches it until
 * it dispatches.
 */
#include <string.h>

#include "pair.h"

typedef struct {
  gint rtp;   /* on_rtp calls (atomic) */
  gint track; /* on_track calls */
  weft_track *remote;
} media_probe;

static media_probe MP;

static void on_rtp(weft_track *t, const uint8_t *packet, size_t size, void *ud) {
  (void)t;
  (void)packet;
  (void)ud;
  g_assert_cmpuint(size, >=, 12);
  g_atomic_int_inc(&MP.rtp);
}

static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  (void)ud;
  MP.remote = weft_track_ref(t);
  g_assert_cmpint(weft_track_set_on_rtp(t, on_rtp), ==, WEFT_OK);
  g_atomic_int_inc(&MP.track);
}

static weft_track_stats track_stats(weft_track *t) {
  weft_track_stats s = WEFT_TRACK_STATS_INIT;
  g_assert_cmpint(weft_track_get_stats(t, &s), ==, WEFT_OK);
  return s;
}

static void test_slow_media_app(void) {
  memset(&MP, 0, sizeof MP);
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = PAIR_QUEUED;
  pair *p = pair_new(&o);
  weft_track *audio = weft_pc_add_track(p->side[0].pc, WEFT_KIND_AUDIO, NULL);
  g_assert_nonnull(audio);
  g_assert_cmpint(weft_pc_set_on_track(p->side[1].pc, on_track), ==, WEFT_OK);
  dc_probe *a, *b;
  pair_connect(p, "data", &a, &b);
  g_assert_true(pair_wait_ge(p, &MP.track, 1, 10000));
  g_atomic_int_set(&b->keep, 0);

  /* The application sleeps; 3000 audio packets and 200 messages arrive. */
  enum { PACKETS = 3000, MESSAGES = 200 };
  uint8_t pkt[172];
  memset(pkt, 0x55, sizeof pkt);
  for (int i = 0; i < PACKETS; i++) {
    pkt[0] = 0x80;
    pkt[1] = 111;
    pkt[2] = (uint8_t)(i >> 8);
    pkt[3] = (uint8_t)i;
    g_assert_cmpint(weft_track_send_rtp(audio, pkt, sizeof pkt, 0), ==, WEFT_OK);
    if (i % 100 == 99)
      g_usleep(2000); /* paced: loopback's socket buffer must not be what drops */
    if (i % 15 == 0)
      g_assert_cmpint(weft_dc_send_text(a->dc, "hello", 5), ==, WEFT_OK);
  }
  /* Wait until the receiving engine has seen every packet (stats are read
   * without dispatching). */
  gint64 end = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;
  while (track_stats(MP.remote).packets_received < PACKETS && g_get_monotonic_time() < end)
    g_usleep(20000);
  weft_track_stats s = track_stats(MP.remote);
  g_test_message("received %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT
                 " media events dropped before the app looked",
                 s.packets_received, s.events_dropped);
  g_assert_cmpuint(s.packets_received, ==, PACKETS);
  g_assert_cmpint(g_atomic_int_get(&MP.rtp), ==, 0);
  /* At most 1024 wait per track: the rest were dropped, oldest first. */
  g_assert_cmpuint(s.events_dropped, >=, PACKETS - 1024);

  /* The application wakes up: the newest packets, and every message. */
  g_assert_true(pair_wait_ge(p, &b->n_msgs, MESSAGES, 10000));
  pair_pump(p, 200);
  int got = g_atomic_int_get(&MP.rtp);
  g_test_message("delivered %d packets after the wake-up", got);
  g_assert_cmpint(got, <=, 1024);
  g_assert_cmpint((uint64_t)got + track_stats(MP.remote).events_dropped, ==, PACKETS);
  g_assert_cmpint(g_atomic_int_get(&b->n_msgs), ==, MESSAGES);

  /* A prompt application loses nothing. */
  uint64_t dropped = track_stats(MP.remote).events_dropped;
  for (int i = 0; i < 200; i++) {
    pkt[2] = (uint8_t)((PACKETS + i) >> 8);
    pkt[3] = (uint8_t)(PACKETS + i);
    g_assert_cmpint(weft_track_send_rtp(audio, pkt, sizeof pkt, 0), ==, WEFT_OK);
    if (i % 20 == 19)
      pair_pump(p, 5);
  }
  g_assert_true(pair_wait_ge(p, &MP.rtp, got + 200, 10000));
  g_assert_cmpuint(track_stats(MP.remote).events_dropped, ==, dropped);

  weft_track_unref(MP.remote);
  weft_track_unref(audio);
  pair_free(p);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/media-queue/slow-app", test_slow_media_app);
  return g_test_run();
}
