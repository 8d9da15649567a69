/*
 * weft-bench-srtp — the SRTP media path in packets/s, next to raw libsrtp2.
 *
 * Three measurements in one run, on one CPU (the process pins itself to the
 * core it starts on unless --no-pin; every thread inherits that), with
 * 1200-byte RTP packets (12-byte header + 1188 bytes of payload):
 *
 *   srtp_weft_layer    protect + unprotect in a loop through weft's srtp/
 *                      layer (weft__srtp_*), one packet at a time,
 *                      AES128_CM_HMAC_SHA1_80 (the profile two weft peers
 *                      negotiate)
 *   srtp_raw_libsrtp2  the same with libsrtp2 called directly
 *   srtp_media_path    two weft peer connections on one context over UDP on
 *                      127.0.0.1, one video track each way (sendrecv):
 *                      weft_track_send_rtp on A -> engine: header rewrite,
 *                      history, SRTP protect -> UDP -> B: unprotect, route ->
 *                      on_rtp. Counted at B's on_rtp: delivered packets/s.
 *   srtp_media_vs_raw  media path packets/s divided by raw libsrtp2 pairs/s
 *                      (ratio), and raw CPU per pair divided by the media
 *                      path's CPU per packet (cpu_ratio)
 *
 * Pacing: the sender keeps at most WINDOW packets in flight (sent and not
 * yet delivered) so that the rate measured is the stack's, not the loopback
 * socket buffer's drop rate. Packets that never arrive (NACK recovers most)
 * would shrink the window for good: when nothing is delivered for 50 ms the
 * in-flight packets are written off (counted in "stalls").
 *
 * Prints one JSON line per measurement, like weft-bench. A benchmark, not a
 * test: it asserts nothing about speed. The exit status is 0 when every
 * measurement completed, packets were delivered, payloads round-tripped
 * intact and no SRTP failure was counted; 1 otherwise (with an "error" line).
 *
 * White-box: links weft_internal for the srtp/ layer; the media path uses the
 * public API only.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>
#include <weft/weft.h>

#include "srtp/srtp.h"

#define PKT_SIZE 1200
#define RTP_HDR 12
#define WINDOW 64
#define STALL_MS 50

static const char *IMPL = "weft";
static int failed;

/* ===== Time and output ===================================================== */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* An "error" line; the message is plain ASCII from this file or weft's
 * last-error text, with quotes and backslashes replaced. */
static void emit_error(const char *metric, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++)
    if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
      *p = '\'';
  printf("{\"impl\":\"%s\",\"metric\":\"%s\",\"error\":\"%s\"}\n", IMPL, metric, msg);
  fflush(stdout);
  failed = 1;
}

/* ===== Packets ============================================================= */

/* A 1200-byte RTP packet: V=2, PT 96, @seq, a timestamp per 10 packets, a
 * fixed SSRC, then a payload pattern that depends on @seq only through the
 * first two bytes (so a packet can be checked after a round trip). */
static void make_packet(uint8_t *p, uint16_t seq) {
  p[0] = 0x80;
  p[1] = (uint8_t)(96 | ((seq % 10 == 9) ? 0x80 : 0));
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  uint32_t ts = 1000u + (uint32_t)(seq / 10) * 3000u;
  p[4] = (uint8_t)(ts >> 24);
  p[5] = (uint8_t)(ts >> 16);
  p[6] = (uint8_t)(ts >> 8);
  p[7] = (uint8_t)ts;
  p[8] = 0x12;
  p[9] = 0x34;
  p[10] = 0x56;
  p[11] = 0x78;
  p[RTP_HDR] = (uint8_t)(seq >> 8);
  p[RTP_HDR + 1] = (uint8_t)seq;
  for (size_t i = RTP_HDR + 2; i < PKT_SIZE; i++)
    p[i] = (uint8_t)(i * 7 + 3);
}

static bool payload_intact(const uint8_t *payload, size_t len) {
  if (len != PKT_SIZE - RTP_HDR)
    return false;
  for (size_t i = 2; i < len; i++)
    if (payload[i] != (uint8_t)((i + RTP_HDR) * 7 + 3))
      return false;
  return true;
}

/* RFC 3711 B.3 master key and salt: any fixed key will do for timing. */
static const uint8_t MASTER[30] = {0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0, 0xD6, 0x4F,
                                   0xA3, 0x2C, 0x06, 0xDE, 0x41, 0x39, 0x0E, 0xC6, 0x75, 0xAD,
                                   0x49, 0x8A, 0xFE, 0xEB, 0xB6, 0x96, 0x0B, 0x3A, 0xAB, 0xE6};

/* ===== Raw libsrtp2 ======================================================== */

typedef struct loop_result {
  uint64_t n;
  double seconds, cpu;
  bool intact;
} loop_result;

/* libsrtp must be initialised once per process, and a second srtp_init()
 * fails (libsrtp 2.5: bad_param) -- as does weft's own if the host called it
 * first. So this runs after bench_layer(), whose first weft__srtp_new() did
 * the process's one srtp_init(). */
static int bench_raw(double seconds, loop_result *r) {
  uint8_t key[30];
  memcpy(key, MASTER, sizeof key);
  srtp_policy_t pol;
  memset(&pol, 0, sizeof pol);
  srtp_crypto_policy_set_rtp_default(&pol.rtp); /* AES128_CM_HMAC_SHA1_80 */
  srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
  pol.key = key;
  pol.window_size = 1024;
  pol.allow_repeat_tx = 1;
  srtp_t tx = NULL, rx = NULL;
  pol.ssrc.type = ssrc_any_outbound;
  srtp_err_status_t st = srtp_create(&tx, &pol);
  if (st == srtp_err_status_ok) {
    pol.ssrc.type = ssrc_any_inbound;
    st = srtp_create(&rx, &pol);
  }
  if (st != srtp_err_status_ok) {
    emit_error("srtp_raw_libsrtp2", "srtp_create: status %d", (int)st);
    if (tx)
      srtp_dealloc(tx);
    return -1;
  }
  uint8_t buf[PKT_SIZE + SRTP_MAX_TRAILER_LEN];
  uint64_t n = 0;
  bool ok = true;
  double c0 = cpu_s(), t0 = now_s(), t = t0;
  while (ok && t - t0 < seconds) {
    for (int i = 0; i < 1000; i++) {
      make_packet(buf, (uint16_t)n);
      int len = PKT_SIZE;
      if (srtp_protect(tx, buf, &len) != srtp_err_status_ok ||
          srtp_unprotect(rx, buf, &len) != srtp_err_status_ok || len != PKT_SIZE) {
        ok = false;
        break;
      }
      n++;
    }
    t = now_s();
  }
  r->n = n;
  r->seconds = t - t0;
  r->cpu = cpu_s() - c0;
  r->intact = ok && payload_intact(buf + RTP_HDR, PKT_SIZE - RTP_HDR);
  srtp_dealloc(tx);
  srtp_dealloc(rx);
  if (!r->intact) {
    emit_error("srtp_raw_libsrtp2", "protect/unprotect failed after %llu packets",
               (unsigned long long)n);
    return -1;
  }
  return 0;
}

/* ===== weft's srtp/ layer =================================================== */

static int bench_layer(double seconds, loop_result *r) {
  weft__srtp_keys k;
  memset(&k, 0, sizeof k);
  k.profile = WEFT__SRTP_AES128_CM_SHA1_80;
  memcpy(k.client_key, MASTER, sizeof k.client_key);
  memcpy(k.server_key, MASTER, sizeof k.server_key);
  memcpy(k.client_salt, MASTER + 16, sizeof k.client_salt);
  memcpy(k.server_salt, MASTER + 16, sizeof k.server_salt);
  weft__srtp *tx = NULL, *rx = NULL;
  k.is_client = true; /* protects with client_* */
  int rc = weft__srtp_new(&k, &tx);
  k.is_client = false; /* unprotects with client_* */
  if (rc == 0)
    rc = weft__srtp_new(&k, &rx);
  if (rc < 0) {
    emit_error("srtp_weft_layer", "weft__srtp_new: %s", weft_last_error_message());
    weft__srtp_free(tx);
    return -1;
  }
  uint8_t buf[PKT_SIZE + WEFT__SRTP_RTP_HEADROOM];
  uint64_t n = 0;
  bool ok = true;
  double c0 = cpu_s(), t0 = now_s(), t = t0;
  while (ok && t - t0 < seconds) {
    for (int i = 0; i < 1000; i++) {
      make_packet(buf, (uint16_t)n);
      size_t len = 0, out = 0;
      if (weft__srtp_protect_rtp(tx, buf, PKT_SIZE, sizeof buf, &len) < 0 ||
          weft__srtp_unprotect_rtp(rx, buf, len, &out, NULL) < 0 || out != PKT_SIZE) {
        ok = false;
        break;
      }
      n++;
    }
    t = now_s();
  }
  r->n = n;
  r->seconds = t - t0;
  r->cpu = cpu_s() - c0;
  r->intact = ok && payload_intact(buf + RTP_HDR, PKT_SIZE - RTP_HDR);
  weft__srtp_free(tx);
  weft__srtp_free(rx);
  if (!r->intact) {
    emit_error("srtp_weft_layer", "protect/unprotect failed after %llu packets: %s",
               (unsigned long long)n, weft_last_error_message());
    return -1;
  }
  return 0;
}

/* ===== The media path ======================================================== */

typedef struct peer {
  weft_pc *pc;
  atomic_int state;    /* weft_pc_state */
  atomic_int gathered; /* 1 once gathering is complete */
  pthread_mutex_t lock;
  weft_track *remote; /* ref; the first track the remote added */
} peer;

static peer A, B;
static atomic_ullong rx_packets, rx_bad;
static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rx_cond = PTHREAD_COND_INITIALIZER;
static atomic_int sender_waiting;
static uint16_t next_seq; /* the sender's RTP sequence number (main thread) */

/* B's on_rtp (the context thread): count, check the payload (weft rewrites
 * the header and adds extensions, the payload ends the packet), wake the
 * sender when it waits for the window to open. */
static void on_rtp(weft_track *t, const uint8_t *pkt, size_t size, void *ud) {
  (void)t;
  (void)ud;
  if (size < PKT_SIZE || !payload_intact(pkt + size - (PKT_SIZE - RTP_HDR), PKT_SIZE - RTP_HDR))
    atomic_fetch_add(&rx_bad, 1);
  atomic_fetch_add(&rx_packets, 1);
  if (atomic_load(&sender_waiting)) {
    pthread_mutex_lock(&rx_lock);
    pthread_cond_signal(&rx_cond);
    pthread_mutex_unlock(&rx_lock);
  }
}

static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  peer *p = ud;
  pthread_mutex_lock(&p->lock);
  if (!p->remote) {
    p->remote = weft_track_ref(t);
    if (p == &B)
      weft_track_set_on_rtp(t, on_rtp);
  }
  pthread_mutex_unlock(&p->lock);
}

static void on_state(weft_pc *pc, weft_pc_state s, void *ud) {
  (void)pc;
  atomic_store(&((peer *)ud)->state, (int)s);
}

static void on_gathering(weft_pc *pc, weft_ice_gathering_state s, void *ud) {
  (void)pc;
  if (s == WEFT_GATHERING_COMPLETE)
    atomic_store(&((peer *)ud)->gathered, 1);
}

static bool wait_until(atomic_int *v, int want, double timeout_s) {
  double end = now_s() + timeout_s;
  while (atomic_load(v) != want) {
    if (now_s() > end)
      return false;
    usleep(2000);
  }
  return true;
}

static int peer_init(peer *p, weft_context *ctx) {
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->lock, NULL);
  weft_config *cfg = weft_config_new();
  weft_config_set_enable_loopback(cfg, 1);
  p->pc = weft_pc_new(ctx, cfg);
  weft_config_free(cfg);
  if (!p->pc)
    return -1;
  weft_pc_set_user_data(p->pc, p, NULL);
  weft_pc_set_on_connection_state_change(p->pc, on_state);
  weft_pc_set_on_ice_gathering_state_change(p->pc, on_gathering);
  weft_pc_set_on_track(p->pc, on_track);
  return 0;
}

static void peer_free(peer *p) {
  if (p->pc) {
    weft_pc_close(p->pc);
    weft_pc_unref(p->pc);
  }
  weft_track_unref(p->remote);
  pthread_mutex_destroy(&p->lock);
}

/* Non-trickle offer/answer A -> B (descriptions with every candidate). */
static int negotiate(const char *metric) {
  char *offer = NULL, *answer = NULL;
  int rc = weft_pc_set_local_description(A.pc, WEFT_SDP_UNSPEC, NULL);
  if (rc == 0 && !wait_until(&A.gathered, 1, 10))
    rc = WEFT_ERR_TIMEOUT;
  if (rc == 0)
    rc = weft_pc_get_description(A.pc, WEFT_DESC_LOCAL, NULL, &offer);
  if (rc == 0)
    rc = weft_pc_set_remote_description(B.pc, WEFT_SDP_OFFER, offer);
  if (rc == 0)
    rc = weft_pc_set_local_description(B.pc, WEFT_SDP_UNSPEC, NULL);
  if (rc == 0 && !wait_until(&B.gathered, 1, 10))
    rc = WEFT_ERR_TIMEOUT;
  if (rc == 0)
    rc = weft_pc_get_description(B.pc, WEFT_DESC_LOCAL, NULL, &answer);
  if (rc == 0)
    rc = weft_pc_set_remote_description(A.pc, WEFT_SDP_ANSWER, answer);
  if (rc < 0)
    emit_error(metric, "negotiation: %s (%s)", weft_err_name(rc),
               rc == WEFT_ERR_TIMEOUT ? "gathering timed out" : weft_last_error_message());
  weft_free(offer);
  weft_free(answer);
  return rc;
}

/* Sends for @seconds with the window; returns packets sent (or -1). */
static long long blast(weft_track *t, double seconds, uint64_t *stalls, const char *metric) {
  uint8_t pkt[PKT_SIZE];
  long long sent = 0;
  uint64_t written_off = 0;
  uint64_t last_rx = atomic_load(&rx_packets), base_rx = last_rx;
  double last_progress = now_s(), end = now_s() + seconds;
  while (now_s() < end) {
    uint64_t rx = atomic_load(&rx_packets);
    if (rx != last_rx) {
      last_rx = rx;
      last_progress = now_s();
    }
    long long inflight = sent - (long long)(rx - base_rx) - (long long)written_off;
    if (inflight >= WINDOW) {
      if (now_s() - last_progress > STALL_MS / 1000.0) {
        written_off += (uint64_t)inflight;
        (*stalls)++;
        last_progress = now_s();
        continue;
      }
      /* Sleep until on_rtp signals (bounded: a lost wake-up costs 1 ms). */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_mutex_lock(&rx_lock);
      atomic_store(&sender_waiting, 1);
      if (atomic_load(&rx_packets) == rx)
        pthread_cond_timedwait(&rx_cond, &rx_lock, &ts);
      atomic_store(&sender_waiting, 0);
      pthread_mutex_unlock(&rx_lock);
      continue;
    }
    /* One continuous sequence across calls: weft keeps the source's
     * numbering (offset), so a sequence restarting at 0 on the same SSRC would
     * map onto numbers already protected (libsrtp replay_old on send). */
    make_packet(pkt, next_seq);
    int rc = weft_track_send_rtp(t, pkt, sizeof pkt, 0);
    if (rc == WEFT_ERR_AGAIN) {
      usleep(200);
      continue;
    }
    if (rc < 0) {
      emit_error(metric, "weft_track_send_rtp: %s (%s)", weft_err_name(rc),
                 weft_last_error_message());
      return -1;
    }
    sent++;
    next_seq++;
  }
  return sent;
}

static int bench_media(double seconds, double raw_pps, double raw_cpu_us) {
  const char *metric = "srtp_media_path";
  weft_context *ctx = weft_context_new(NULL);
  if (!ctx || peer_init(&A, ctx) < 0 || peer_init(&B, ctx) < 0) {
    emit_error(metric, "setup: %s", weft_last_error_message());
    if (ctx) {
      peer_free(&A);
      peer_free(&B);
      weft_context_unref(ctx);
    }
    return -1;
  }
  int rc = -1;
  weft_codec vp8 = WEFT_CODEC_VP8;
  weft_track_init init = WEFT_TRACK_INIT;
  init.codecs = &vp8;
  init.n_codecs = 1;
  weft_track *video = weft_pc_add_track(A.pc, WEFT_KIND_VIDEO, &init);
  if (!video) {
    emit_error(metric, "add_track: %s", weft_last_error_message());
    goto out;
  }
  if (negotiate(metric) < 0)
    goto out;
  if (!wait_until(&A.state, WEFT_PC_CONNECTED, 10) ||
      !wait_until(&B.state, WEFT_PC_CONNECTED, 10)) {
    emit_error(metric, "not connected after 10 s (states %d, %d)", atomic_load(&A.state),
               atomic_load(&B.state));
    goto out;
  }
  double end = now_s() + 5;
  for (;;) {
    pthread_mutex_lock(&B.lock);
    bool have = B.remote != NULL;
    pthread_mutex_unlock(&B.lock);
    if (have)
      break;
    if (now_s() > end) {
      emit_error(metric, "B saw no remote track");
      goto out;
    }
    usleep(2000);
  }
  weft_direction dir = weft_track_get_current_direction(B.remote);
  if (dir != WEFT_DIR_SENDRECV || weft_track_get_current_direction(video) != WEFT_DIR_SENDRECV) {
    emit_error(metric, "directions %s / %s, not sendrecv both ways",
               weft_direction_to_string(weft_track_get_current_direction(video)),
               weft_direction_to_string(dir));
    goto out;
  }

  uint64_t stalls = 0;
  /* Warm-up: caches, libsrtp stream creation, the SSRC route on B. */
  if (blast(video, seconds / 10, &stalls, metric) < 0)
    goto out;
  usleep(100000);
  stalls = 0;
  uint64_t rx0 = atomic_load(&rx_packets);
  double c0 = cpu_s(), t0 = now_s();
  long long sent = blast(video, seconds, &stalls, metric);
  uint64_t rx1 = atomic_load(&rx_packets);
  double t1 = now_s(), c1 = cpu_s();
  if (sent < 0)
    goto out;
  /* Let the tail (and NACK answers) arrive before reading the counters:
   * until nothing arrived for 300 ms (at most 5 s; a slow machine or
   * valgrind can be far behind). */
  uint64_t last = atomic_load(&rx_packets);
  double quiet = now_s(), drain_end = now_s() + 5;
  while (now_s() - quiet < 0.3 && now_s() < drain_end) {
    usleep(20000);
    uint64_t n = atomic_load(&rx_packets);
    if (n != last) {
      last = n;
      quiet = now_s();
    }
  }
  uint64_t total = last - rx0; /* delivered of what the timed phase sent */
  uint64_t delivered = rx1 - rx0;
  double secs = t1 - t0;
  double pps = (double)delivered / secs;
  weft_track_stats tx = WEFT_TRACK_STATS_INIT, rx = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(video, &tx);
  weft_track_get_stats(B.remote, &rx);
  printf("{\"impl\":\"%s\",\"metric\":\"%s\",\"pkts_per_s\":%.0f,\"mb_per_s\":%.2f,"
         "\"cpu_us_per_pkt\":%.2f,\"sent\":%lld,\"delivered\":%llu,\"seconds\":%.3f,"
         "\"packet_size\":%d,\"window\":%d,\"stalls\":%llu,\"srtp_failures\":%llu,"
         "\"nacks_sent\":%llu,\"retransmitted\":%llu,\"packets_lost\":%llu,\"bad_payload\":%llu,"
         "\"delivered_after_drain\":%llu}\n",
         IMPL, metric, pps, pps * PKT_SIZE / 1e6, delivered ? (c1 - c0) * 1e6 / delivered : 0.0,
         sent, (unsigned long long)delivered, secs, PKT_SIZE, WINDOW, (unsigned long long)stalls,
         (unsigned long long)rx.srtp_failures, (unsigned long long)rx.nacks_sent,
         (unsigned long long)tx.retransmitted, (unsigned long long)rx.packets_lost,
         (unsigned long long)atomic_load(&rx_bad), (unsigned long long)total);
  /* ratio: wall-clock rates; cpu_ratio: CPU per packet, which a busy
   * machine (other processes on the pinned core) disturbs less. */
  double media_cpu_us = delivered ? (c1 - c0) * 1e6 / (double)delivered : 0.0;
  if (raw_pps > 0)
    printf("{\"impl\":\"%s\",\"metric\":\"srtp_media_vs_raw\",\"ratio\":%.4f,"
           "\"cpu_ratio\":%.4f,\"media_pkts_per_s\":%.0f,\"raw_pairs_per_s\":%.0f}\n",
           IMPL, pps / raw_pps, media_cpu_us > 0 ? raw_cpu_us / media_cpu_us : 0.0, pps, raw_pps);
  fflush(stdout);
  if (total == 0)
    emit_error(metric, "no packet delivered");
  else if (atomic_load(&rx_bad) > 0)
    emit_error(metric, "%llu packets arrived with a damaged payload",
               (unsigned long long)atomic_load(&rx_bad));
  else if (rx.srtp_failures > 0)
    emit_error(metric, "%llu SRTP unprotect failures", (unsigned long long)rx.srtp_failures);
  else
    rc = 0;
out:
  weft_track_unref(video);
  peer_free(&A);
  peer_free(&B);
  weft_context_unref(ctx);
  return rc;
}

/* ===== Main ================================================================== */

static void print_loop(const char *metric, const loop_result *r) {
  printf("{\"impl\":\"%s\",\"metric\":\"%s\",\"pairs_per_s\":%.0f,\"mb_per_s\":%.2f,"
         "\"cpu_us_per_pair\":%.3f,\"n\":%llu,\"seconds\":%.3f,\"packet_size\":%d,"
         "\"profile\":\"AES128_CM_SHA1_80\"}\n",
         IMPL, metric, (double)r->n / r->seconds, (double)r->n * PKT_SIZE / r->seconds / 1e6,
         r->n ? r->cpu * 1e6 / (double)r->n : 0.0, (unsigned long long)r->n, r->seconds, PKT_SIZE);
  fflush(stdout);
}

static void usage(FILE *f) {
  fprintf(f, "usage: weft-bench-srtp [--quick] [--seconds S] [--no-pin | --cpu N]\n"
             "  SRTP media path (send_rtp -> protect -> UDP -> unprotect -> on_rtp) and raw\n"
             "  libsrtp2 protect+unprotect, 1200-byte packets, one JSON line each.\n");
}

int main(int argc, char **argv) {
  double seconds = 3.0, loop_seconds = 1.0;
  int cpu = -1;
  bool pin = true;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) {
      seconds = 0.5;
      loop_seconds = 0.2;
    } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else if (!strcmp(argv[i], "--cpu") && i + 1 < argc) {
      cpu = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--no-pin")) {
      pin = false;
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!(seconds > 0) || seconds > 600) {
    fprintf(stderr, "weft-bench-srtp: --seconds must be in (0, 600]\n");
    return 2;
  }
  /* One core for everything: the engine thread weft starts inherits it. */
  if (pin) {
    if (cpu < 0)
      cpu = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu < 0 ? 0 : cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) {
      fprintf(stderr, "weft-bench-srtp: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
      return 2;
    }
    fprintf(stderr, "weft-bench-srtp: pinned to CPU %d\n", cpu);
  }
  loop_result raw = {0}, layer = {0};
  double raw_pps = 0, raw_cpu_us = 0;
  if (bench_layer(loop_seconds, &layer) == 0)
    print_loop("srtp_weft_layer", &layer);
  if (bench_raw(loop_seconds, &raw) == 0) {
    print_loop("srtp_raw_libsrtp2", &raw);
    raw_pps = (double)raw.n / raw.seconds;
    raw_cpu_us = raw.n ? raw.cpu * 1e6 / (double)raw.n : 0.0;
  }
  bench_media(seconds, raw_pps, raw_cpu_us);
  /* Every library object must be gone (pcs are freed once their engine work
   * is done, a moment after the last unref). */
  double end = now_s() + 3;
  while (weft_debug_live_objects() > 0 && now_s() < end)
    usleep(10000);
  if (weft_debug_live_objects() != 0)
    emit_error("srtp_media_path", "%ld weft objects still alive at exit",
               weft_debug_live_objects());
  return failed ? 1 : 0;
}
