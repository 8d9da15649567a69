/*
 * Fuzz target: the RTP/RTCP receive path of a peer connection (lib/pc/media.c
 * weft__pc_media_input: SRTP unprotect, RTP routing by SSRC / MID extension /
 * payload type, loss and NACK bookkeeping, the frame assemblers, RTCP
 * dispatch of SR/RR/NACK/PLI/FIR/SDES/BYE, retransmissions) on a real
 * weft_pc.
 *
 * One pc per process (creating one per input would cost a libnice agent):
 * GLib-mode context iterated by this thread, which is the engine. It
 * answers a fixed audio (Opus, PCMU) + video (VP8 + rtx, H264) offer with
 * two local tracks of fixed SSRCs (audio 0x0a0a0a0a, video 0x0b0b0b0b) that
 * have already sent a few frames (for NACKs to find), then gets SRTP keys
 * directly (weft__pc_media_dtls_keys: no DTLS handshake). Before each input
 * the SRTP sessions, the SSRC routing table and every track's receive state
 * (source, NACK list, assembler) are reset, so an input replays the same way
 * alone (the 20 ms media timer still runs between packets).
 *
 * Input: [op][16-bit big-endian length][bytes]...:
 *   op % 3 == 0  an RTP packet, protected with the remote's keys, then input
 *   op % 3 == 1  an RTCP (compound) packet, protected, then input
 *   op % 3 == 2  the bytes as they are (a forged or garbled datagram)
 * The offer's SSRCs are 1111 (audio), 2222 and 3333 (video, FID), its MID
 * extension id 4 (mids "0" and "1").
 *
 * Invariants (after the queued callbacks ran):
 * - every on_rtp packet is, byte for byte, one of the RTP packets protected
 *   in this input, and the tracks' packets_received grew by the number of
 *   on_rtp calls; nothing forged reaches a track;
 * - every on_rtcp packet lies inside one of the RTCP packets protected in
 *   this input; keyframe requests and on_rtcp only when RTCP was sent;
 * - frames carry a timestamp and a codec negotiated for their track's kind,
 *   and are no bigger than the payload bytes received could make.
 */
#include "fuzz_common.h"
#include "pc/pc.h"
#include "srtp/srtp.h"

#include <weft/weft-glib.h>

static const char offer[] =
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 "
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
    "CD:EF\r\n"
    "a=setup:actpass\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=ssrc:1111 cname:fuzz\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:1\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 nack\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=ssrc-group:FID 2222 3333\r\n"
    "a=ssrc:2222 cname:fuzz\r\n"
    "a=ssrc:3333 cname:fuzz\r\n";

enum { MAX_PKTS = 4096 };

typedef struct pkt {
  uint8_t *data;
  size_t len;
} pkt;

static struct {
  GMainContext *gmain;
  weft_context *ctx;
  weft_pc *pc;
  weft_track *track[2]; /* audio, video */
  GHashTable *routes;   /* the SSRC routing table after negotiation */
  weft__srtp_keys keys;
  /* This input. */
  pkt rtp[MAX_PKTS], rtcp[MAX_PKTS];
  size_t n_rtp, n_rtcp, payload_bytes;
  unsigned on_rtp, on_rtcp, frames, keyframe_requests;
} F;

static bool known(const pkt *list, size_t n, const uint8_t *p, size_t len, bool inside) {
  for (size_t i = 0; i < n; i++) {
    if (!inside && list[i].len == len && memcmp(list[i].data, p, len) == 0)
      return true;
    if (inside && len <= list[i].len)
      for (size_t off = 0; off + len <= list[i].len; off += 4)
        if (memcmp(list[i].data + off, p, len) == 0)
          return true;
  }
  return false;
}

static int track_index(weft_track *t) {
  FUZZ_CHECK(t == F.track[0] || t == F.track[1]);
  return t == F.track[1];
}

static void on_rtp(weft_track *t, const uint8_t *p, size_t len, void *ud) {
  (void)ud;
  track_index(t);
  FUZZ_CHECK(known(F.rtp, F.n_rtp, p, len, false));
  F.on_rtp++;
}

static void on_rtcp(weft_track *t, const uint8_t *p, size_t len, void *ud) {
  (void)ud;
  track_index(t);
  FUZZ_CHECK(len >= 4 && len % 4 == 0);
  FUZZ_CHECK(known(F.rtcp, F.n_rtcp, p, len, true));
  F.on_rtcp++;
}

static void on_frame(weft_track *t, const uint8_t *frame, size_t size, const weft_frame_info *info,
                     void *ud) {
  (void)ud;
  int video = track_index(t);
  FUZZ_CHECK(frame || size == 0);
  FUZZ_CHECK(info && info->has_rtp_timestamp);
  if (video)
    FUZZ_CHECK(info->codec == WEFT_CODEC_VP8 || info->codec == WEFT_CODEC_H264);
  else
    FUZZ_CHECK(info->codec == WEFT_CODEC_OPUS || info->codec == WEFT_CODEC_PCMU);
  /* H264 start codes (4 bytes per NAL) replace at least 2 bytes each. */
  FUZZ_CHECK(size <= 2 * F.payload_bytes + 4);
  F.frames++;
}

static void on_keyframe_request(weft_track *t, void *ud) {
  (void)ud;
  track_index(t);
  F.keyframe_requests++;
}

static void pump(void) {
  for (int i = 0; i < 1000 && g_main_context_iteration(F.gmain, FALSE); i++) {
  }
}

static void setup(void) {
  F.gmain = g_main_context_new();
  FUZZ_CHECK(g_main_context_acquire(F.gmain));
  F.ctx = weft_context_new_for_main_context(F.gmain);
  FUZZ_CHECK(F.ctx);
  F.pc = weft_pc_new(F.ctx, NULL);
  FUZZ_CHECK(F.pc);
  for (int k = 0; k < 2; k++) {
    weft_track_init init = WEFT_TRACK_INIT;
    init.ssrc = k ? 0x0b0b0b0b : 0x0a0a0a0a;
    init.stream_id = "s";
    init.track_id = k ? "v" : "a";
    F.track[k] = weft_pc_add_track(F.pc, k ? WEFT_KIND_VIDEO : WEFT_KIND_AUDIO, &init);
    FUZZ_CHECK(F.track[k]);
    weft_track_set_on_rtp(F.track[k], on_rtp);
    weft_track_set_on_rtcp(F.track[k], on_rtcp);
    weft_track_set_on_frame(F.track[k], on_frame);
    weft_track_set_on_keyframe_request(F.track[k], on_keyframe_request);
  }
  FUZZ_CHECK(weft_pc_set_remote_description(F.pc, WEFT_SDP_OFFER, offer) == 0);
  char *answer = NULL;
  FUZZ_CHECK(weft_pc_create_answer(F.pc, &answer) == 0 && answer);
  FUZZ_CHECK(weft_pc_set_local_description(F.pc, WEFT_SDP_ANSWER, answer) == 0);
  weft_free(answer);
  pump();
  for (size_t i = 0; i < sizeof F.keys.client_key; i++) {
    F.keys.client_key[i] = (uint8_t)(0x10 + i);
    F.keys.server_key[i] = (uint8_t)(0x80 + i);
  }
  for (size_t i = 0; i < sizeof F.keys.client_salt; i++) {
    F.keys.client_salt[i] = (uint8_t)(0x40 + i);
    F.keys.server_salt[i] = (uint8_t)(0xc0 + i);
  }
  F.keys.profile = WEFT__SRTP_AES128_CM_SHA1_80;
  F.keys.is_client = false; /* the pc is the DTLS server: it receives with client_* */
  weft__pc_media_dtls_keys(F.pc, &F.keys);
  FUZZ_CHECK(F.pc->srtp);
  /* A few frames sent, so the history has packets for NACKs. */
  static uint8_t video[3000], audio[80];
  for (int i = 0; i < 4; i++) {
    weft_frame_info info = WEFT_FRAME_INFO_INIT;
    info.has_rtp_timestamp = 1;
    info.rtp_timestamp = (uint32_t)i * 3000;
    video[0] = i ? 0x11 : 0x10;
    weft_track_send_frame(F.track[1], video, sizeof video, &info);
    info.rtp_timestamp = (uint32_t)i * 960;
    audio[0] = 0x78;
    weft_track_send_frame(F.track[0], audio, sizeof audio, &info);
  }
  pump();
  F.routes = g_hash_table_new(g_direct_hash, g_direct_equal);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, F.pc->ssrc_tracks);
  while (g_hash_table_iter_next(&it, &k, &v))
    g_hash_table_insert(F.routes, k, v);
  FUZZ_CHECK(g_hash_table_size(F.routes) == 2); /* 1111, 2222 (3333 is the rtx of the FID) */
}

static uint64_t received(void) {
  uint64_t n = 0;
  for (int k = 0; k < 2; k++) {
    weft_track_stats st = WEFT_TRACK_STATS_INIT;
    FUZZ_CHECK(weft_track_get_stats(F.track[k], &st) == 0);
    n += st.packets_received;
  }
  return n;
}

static void reset(void) {
  weft__srtp_free(F.pc->srtp);
  F.pc->srtp = NULL;
  weft__pc_media_dtls_keys(F.pc, &F.keys);
  FUZZ_CHECK(F.pc->srtp);
  g_hash_table_remove_all(F.pc->ssrc_tracks);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, F.routes);
  while (g_hash_table_iter_next(&it, &k, &v))
    g_hash_table_insert(F.pc->ssrc_tracks, k, v);
  /* What track_reset_receive() (static in pc/media.c) does, and the SSRC
   * forgotten: nothing of the previous input may surface in this one (the
   * 20 ms tick flushes an assembler once its NACKs gave up). */
  for (int i = 0; i < 2; i++) {
    weft_track *t = F.track[i];
    t->remote_ssrc_known = false;
    t->src_started = false;
    memset(&t->unwrap, 0, sizeof t->unwrap);
    t->highest = 0;
    g_array_set_size(t->missing, 0);
    if (t->assembler)
      weft__media_assembler_reset(t->assembler);
    t->first_frame_set = false;
    t->seen_keyframe = false;
  }
  for (size_t i = 0; i < F.n_rtp; i++)
    free(F.rtp[i].data);
  for (size_t i = 0; i < F.n_rtcp; i++)
    free(F.rtcp[i].data);
  F.n_rtp = F.n_rtcp = F.payload_bytes = 0;
  F.on_rtp = F.on_rtcp = F.frames = F.keyframe_requests = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  if (!F.pc)
    setup();
  reset();
  weft__srtp_keys tx_keys = F.keys;
  tx_keys.is_client = true;
  weft__srtp *tx = NULL;
  FUZZ_CHECK(weft__srtp_new(&tx_keys, &tx) == 0);
  uint64_t before = received();

  size_t off = 0;
  while (off < size) {
    uint8_t op = data[off++];
    size_t n = 0;
    if (size - off >= 2) {
      n = weft__rd16(data + off);
      off += 2;
    }
    if (n > size - off)
      n = size - off;
    const uint8_t *p = data + off;
    off += n;
    int kind = op % 3;
    if (kind == 2) {
      uint8_t *copy = malloc(n ? n : 1);
      if (!copy)
        abort();
      if (n)
        memcpy(copy, p, n);
      weft__pc_media_input(F.pc, copy, n);
      free(copy);
      continue;
    }
    bool rtcp = kind == 1;
    pkt *list = rtcp ? F.rtcp : F.rtp;
    size_t *count = rtcp ? &F.n_rtcp : &F.n_rtp;
    if (*count == MAX_PKTS)
      continue;
    size_t cap = n + WEFT__SRTP_RTCP_HEADROOM;
    uint8_t *buf = malloc(cap);
    if (!buf)
      abort();
    memcpy(buf, p, n);
    size_t plen = 0;
    int rc = rtcp ? weft__srtp_protect_rtcp(tx, buf, n, cap, &plen)
                  : weft__srtp_protect_rtp(tx, buf, n, cap, &plen);
    if (rc == 0) {
      uint8_t *exact = malloc(plen);
      if (!exact)
        abort();
      memcpy(exact, buf, plen);
      list[*count].data = malloc(n ? n : 1);
      if (!list[*count].data)
        abort();
      if (n)
        memcpy(list[*count].data, p, n);
      list[*count].len = n;
      (*count)++;
      if (!rtcp)
        F.payload_bytes += n;
      weft__pc_media_input(F.pc, exact, plen);
      free(exact);
    }
    free(buf);
  }
  weft__srtp_free(tx);
  pump();
  FUZZ_CHECK(F.on_rtp <= F.n_rtp);
  FUZZ_CHECK(received() - before == F.on_rtp);
  if (F.n_rtcp == 0)
    FUZZ_CHECK(F.on_rtcp == 0 && F.keyframe_requests == 0);
  if (F.n_rtp == 0)
    FUZZ_CHECK(F.frames == 0);
  return 0;
}
