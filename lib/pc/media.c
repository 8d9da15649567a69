/*
 * The media engine of a peer connection: tracks (transceivers) through
 * offer/answer, SRTP keyed by DTLS-SRTP, RTP and RTCP in and out on the one
 * bundled transport, NACK (RFC 4585) with a send history, PLI/FIR, and
 * sender/receiver reports (RFC 3550) on a timer.
 *
 *   send_frame -> packetizer (media/) -> RTP header -> history -> SRTP -> ICE
 *   ICE -> demux (RTP 128..191) -> SRTP -> route by SSRC / mid / PT -> track
 *       -> on_rtp, NACK gaps, assembler (media/) -> on_frame
 *
 * Everything here runs on the engine thread, except weft__pc_media_submit
 * (any thread) and the counters, which are atomics.
 */
#include <string.h>

#include "demux/demux.h"
#include "pc/pc.h"

#define MEDIA_BUF_BYTES (WEFT__SRTP_MAX_PACKET + WEFT__SRTP_RTCP_HEADROOM)
/* RTP payload per packet: 1200-byte datagrams (what libwebrtc targets)
 * leave room for the 12-byte header, the mid extension and the SRTP tag. */
#define RTP_MAX_PAYLOAD 1160
#define MEDIAQ_LIMIT (4u * 1024 * 1024)
#define TIMER_MS 20
#define NACK_GIVE_UP_US 1000000 /* a packet NACKed for this long is lost */
#define NO_NACK_WAIT_US 60000   /* without NACK, reorder tolerance */
#define NACK_MAX_TRIES 10
#define PLI_MIN_INTERVAL_US 200000

static const char MID_URI[] = "urn:ietf:params:rtp-hdrext:sdes:mid";

/* ---- Codec tables ---------------------------------------------------------- */

static weft_codec codec_from_name(const char *name) {
  if (!name)
    return WEFT_CODEC_NONE;
  if (!g_ascii_strcasecmp(name, "opus"))
    return WEFT_CODEC_OPUS;
  if (!g_ascii_strcasecmp(name, "PCMU"))
    return WEFT_CODEC_PCMU;
  if (!g_ascii_strcasecmp(name, "PCMA"))
    return WEFT_CODEC_PCMA;
  if (!g_ascii_strcasecmp(name, "VP8"))
    return WEFT_CODEC_VP8;
  if (!g_ascii_strcasecmp(name, "H264"))
    return WEFT_CODEC_H264;
  return WEFT_CODEC_NONE;
}

static bool media_codec_of(weft_codec c, weft__media_codec *out) {
  switch (c) {
  case WEFT_CODEC_OPUS:
    *out = WEFT__CODEC_OPUS;
    return true;
  case WEFT_CODEC_VP8:
    *out = WEFT__CODEC_VP8;
    return true;
  case WEFT_CODEC_H264:
    *out = WEFT__CODEC_H264;
    return true;
  default:
    return false;
  }
}

static weft__direction dir_to_jsep(weft_direction d) {
  switch (d) {
  case WEFT_DIR_SENDONLY:
    return WEFT__DIR_SENDONLY;
  case WEFT_DIR_RECVONLY:
    return WEFT__DIR_RECVONLY;
  case WEFT_DIR_INACTIVE:
  case WEFT_DIR_STOPPED:
    return WEFT__DIR_INACTIVE;
  default:
    return WEFT__DIR_SENDRECV;
  }
}

static bool dir_sends(int d) { return d == WEFT_DIR_SENDRECV || d == WEFT_DIR_SENDONLY; }
static bool dir_recvs(int d) { return d == WEFT_DIR_SENDRECV || d == WEFT_DIR_RECVONLY; }
static bool jdir_sends(weft__direction d) {
  return d == WEFT__DIR_SENDRECV || d == WEFT__DIR_SENDONLY;
}
static bool jdir_recvs(weft__direction d) {
  return d == WEFT__DIR_SENDRECV || d == WEFT__DIR_RECVONLY;
}

static weft_direction make_dir(bool send, bool recv) {
  return send && recv ? WEFT_DIR_SENDRECV
         : send       ? WEFT_DIR_SENDONLY
         : recv       ? WEFT_DIR_RECVONLY
                      : WEFT_DIR_INACTIVE;
}

/* ---- Tracks ---------------------------------------------------------------- */

static char *random_token(size_t n) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint8_t r[64];
  if (n > sizeof r)
    n = sizeof r;
  weft__random(r, n);
  char *s = g_malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    s[i] = alphabet[r[i] % (sizeof alphabet - 1)];
  s[n] = '\0';
  return s;
}

static weft__codec_id jsep_flag(weft_codec c) {
  switch (c) {
  case WEFT_CODEC_OPUS:
    return WEFT__CID_OPUS;
  case WEFT_CODEC_PCMU:
    return WEFT__CID_PCMU;
  case WEFT_CODEC_PCMA:
    return WEFT__CID_PCMA;
  case WEFT_CODEC_VP8:
    return WEFT__CID_VP8;
  case WEFT_CODEC_H264:
    return WEFT__CID_H264;
  default:
    return 0;
  }
}

weft_track *weft__track_new(weft_media_kind kind, const weft_track_init *init) {
  weft_track *t = g_new0(weft_track, 1);
  weft__ref_init(&t->refs);
  g_mutex_init(&t->lock);
  t->kind = kind;
  atomic_init(&t->direction, init ? (int)init->direction : WEFT_DIR_SENDRECV);
  atomic_init(&t->current_direction, WEFT_DIR_INACTIVE);
  atomic_init(&t->n.rtt_us, -1);
  if (init && init->n_codecs) {
    t->prefs_jsep = g_new0(weft__codec_id, init->n_codecs);
    for (size_t i = 0; i < init->n_codecs; i++)
      t->prefs_jsep[i] = jsep_flag(init->codecs[i]);
    t->n_prefs = init->n_codecs;
  }
  t->stream_id = init && init->stream_id ? g_strdup(init->stream_id) : random_token(16);
  t->track_id = init && init->track_id ? g_strdup(init->track_id) : random_token(16);
  t->cname = random_token(16);
  t->ssrc = init ? init->ssrc : 0;
  while (t->ssrc == 0)
    weft__random(&t->ssrc, sizeof t->ssrc);
  t->rtcp_feedback = init ? init->rtcp_feedback != 0 : true;
  t->send_params.struct_size = sizeof t->send_params;
  t->mline = -1;
  weft__random(&t->seq, sizeof t->seq);
  weft__random(&t->ts_base, sizeof t->ts_base);
  t->vp8.picture_id = true;
  t->vp8.long_picture_id = true;
  weft__random(&t->vp8.next_picture_id, sizeof t->vp8.next_picture_id);
  t->vp8.next_picture_id &= 0x7fff;
  t->missing = g_array_new(FALSE, FALSE, sizeof(weft__missing));
  weft__live_inc();
  return t;
}

static void track_reset_receive(weft_track *t) {
  t->src_started = false;
  memset(&t->unwrap, 0, sizeof t->unwrap);
  t->highest = 0;
  g_array_set_size(t->missing, 0);
  if (t->assembler)
    weft__media_assembler_reset(t->assembler);
  t->first_frame_set = false;
  t->seen_keyframe = false;
}

static weft_track *track_by_mid(weft_pc *pc, const char *mid) {
  for (guint i = 0; mid && i < pc->tracks->len; i++) {
    weft_track *t = pc->tracks->pdata[i];
    if (t->mid && strcmp(t->mid, mid) == 0)
      return t;
  }
  return NULL;
}

static weft_track *track_by_local_ssrc(weft_pc *pc, uint32_t ssrc) {
  for (guint i = 0; i < pc->tracks->len; i++) {
    weft_track *t = pc->tracks->pdata[i];
    if (t->ssrc == ssrc)
      return t;
  }
  return NULL;
}

static void set_mid(weft_track *t, const char *mid) {
  g_mutex_lock(&t->lock);
  g_free(t->mid);
  t->mid = g_strdup(mid);
  g_mutex_unlock(&t->lock);
}

static bool mid_in_use(weft_pc *pc, const char *mid) {
  if (pc->data_mid && strcmp(pc->data_mid, mid) == 0)
    return true;
  return track_by_mid(pc, mid) != NULL;
}

static char *new_mid(weft_pc *pc) {
  for (unsigned i = 0;; i++) {
    char *m = g_strdup_printf("%u", i);
    if (!mid_in_use(pc, m))
      return m;
    g_free(m);
  }
}

int weft__pc_engine_add_track(weft_pc *pc, weft_track *t) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  g_mutex_lock(&t->lock);
  t->pc = pc;
  g_mutex_unlock(&t->lock);
  g_ptr_array_add(pc->tracks, weft_track_ref(t));
  weft__pc_need_negotiation(pc);
  return WEFT_OK;
}

/* ---- Remote SSRCs (issue 12: bounded) ----------------------------------------
 *
 * pc->ssrc_tracks maps the remote SSRCs packets are accepted from to their
 * track: the ones the remote description announces (a=ssrc, at most
 * WEFT__SSRC_ANNOUNCED_PER_TRACK per m-section) and those learnt from packets
 * routed by mid or payload type, which pc->ssrc_learnt caps (rtp.h). libsrtp
 * keeps an inbound stream for every SSRC that authenticates: the stream of an
 * SSRC that is not (or no longer) admitted is removed at once, so libsrtp
 * never holds more streams than the table has SSRCs. */

/* Owner in pc->ssrc_learnt of SSRCs that only send RTCP (a receive-only
 * remote's reports): admitted so their SRTCP replay state stays. */
static const char RTCP_ONLY[] = "rtcp-only";

/* Each bound logs a refusal at most once per second (the counters say the
 * rest). */
static bool log_allowed(weft__ratelimit *rl, int64_t now) {
  rl->burst = 1;
  return weft__ratelimit_allow(rl, now, NULL);
}

static void srtp_stream_drop(weft_pc *pc, uint32_t ssrc) {
  if (pc->srtp && weft__srtp_rx_has_stream(pc->srtp, ssrc))
    weft__srtp_remove_ssrc(pc->srtp, ssrc, false);
}

static bool ssrc_admitted(weft_pc *pc, uint32_t ssrc, int64_t now) {
  if (g_hash_table_contains(pc->ssrc_tracks, GUINT_TO_POINTER(ssrc))) {
    if (pc->ssrc_learnt.n)
      weft__ssrc_table_touch(&pc->ssrc_learnt, ssrc, now);
    return true;
  }
  return weft__ssrc_table_touch(&pc->ssrc_learnt, ssrc, now) != NULL;
}

/* Learns @ssrc for @owner (a track or RTCP_ONLY) within the caps; false when
 * refused. An idle entry evicted to make room is forgotten everywhere. */
static bool ssrc_learn(weft_pc *pc, uint32_t ssrc, const void *owner, int64_t now) {
  weft__ssrc_learnt ev;
  bool evicted = false;
  weft__ssrc_verdict v = weft__ssrc_table_admit(&pc->ssrc_learnt, ssrc, owner, now, &ev, &evicted);
  if (evicted) {
    if (g_hash_table_lookup(pc->ssrc_tracks, GUINT_TO_POINTER(ev.ssrc)) == ev.owner)
      g_hash_table_remove(pc->ssrc_tracks, GUINT_TO_POINTER(ev.ssrc));
    srtp_stream_drop(pc, ev.ssrc);
    WLOG_D("rtp", "pc %p: SSRC %08x idle, forgotten for %08x", (void *)pc, ev.ssrc, ssrc);
  }
  if (v == WEFT__SSRC_REFUSED) {
    if (log_allowed(&pc->ssrc_learnt.log, now))
      WLOG_W("rtp",
             "pc %p: packets of unannounced SSRC %08x dropped: %d SSRCs learnt per track, %d in "
             "all (%" G_GUINT64_FORMAT " refused so far)",
             (void *)pc, ssrc, WEFT__SSRC_LEARNT_PER_OWNER, WEFT__SSRC_LEARNT_MAX,
             pc->ssrc_learnt.refused);
    return false;
  }
  if (owner != RTCP_ONLY)
    g_hash_table_insert(pc->ssrc_tracks, GUINT_TO_POINTER(ssrc), (gpointer)owner);
  return true;
}

/* An SSRC whose packet authenticated but that is not admitted: its libsrtp
 * stream goes (the packet itself is dropped by the caller, or for RTCP
 * processed: it authenticated). */
static void ssrc_refused(weft_pc *pc, uint32_t ssrc, int64_t now) {
  if (!ssrc_admitted(pc, ssrc, now))
    srtp_stream_drop(pc, ssrc);
}

static bool is_fid_secondary(const weft__media_desc *md, uint32_t ssrc);

/* The SSRCs the remote description @rm announces for @t (the first
 * WEFT__SSRC_ANNOUNCED_PER_TRACK that are not FID secondaries) replace those
 * an earlier description announced: renegotiation does not grow the table,
 * and an SSRC announced again keeps its libsrtp stream (ROC, replay window). */
static void ssrc_set_announced(weft_pc *pc, weft_track *t, const weft__media_desc *rm) {
  uint32_t take[WEFT__SSRC_ANNOUNCED_PER_TRACK];
  size_t n = 0, ignored = 0;
  for (guint i = 0; rm->ssrcs && i < rm->ssrcs->len; i++) {
    uint32_t ssrc = ((const weft__rtp_ssrc *)g_ptr_array_index(rm->ssrcs, i))->ssrc;
    bool dup = false;
    for (size_t j = 0; j < n && !dup; j++)
      dup = take[j] == ssrc;
    if (dup || is_fid_secondary(rm, ssrc))
      continue;
    if (n < G_N_ELEMENTS(take))
      take[n++] = ssrc;
    else
      ignored++;
  }
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, pc->ssrc_tracks);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    uint32_t ssrc = GPOINTER_TO_UINT(k);
    bool keep = v != t || weft__ssrc_table_owner(&pc->ssrc_learnt, ssrc);
    for (size_t j = 0; j < n && !keep; j++)
      keep = take[j] == ssrc;
    if (keep)
      continue;
    g_hash_table_iter_remove(&it);
    srtp_stream_drop(pc, ssrc);
  }
  for (size_t j = 0; j < n; j++) {
    /* Learnt before, announced now: no longer counts against the cap. */
    weft__ssrc_table_remove(&pc->ssrc_learnt, take[j]);
    g_hash_table_insert(pc->ssrc_tracks, GUINT_TO_POINTER(take[j]), t);
  }
  if (ignored)
    WLOG_W("rtp", "pc %p: mid %s: %zu announced SSRCs past %d ignored", (void *)pc, t->mid, ignored,
           WEFT__SSRC_ANNOUNCED_PER_TRACK);
}

/* Forgets every remote SSRC of @t (stopped, or leaving the pc). */
static void ssrc_forget_track(weft_pc *pc, weft_track *t) {
  uint32_t learnt[WEFT__SSRC_LEARNT_PER_OWNER];
  size_t n = weft__ssrc_table_remove_owner(&pc->ssrc_learnt, t, learnt);
  for (size_t i = 0; i < n; i++)
    srtp_stream_drop(pc, learnt[i]);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, pc->ssrc_tracks);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    if (v != t)
      continue;
    g_hash_table_iter_remove(&it);
    srtp_stream_drop(pc, GPOINTER_TO_UINT(k));
  }
}

int weft__track_engine_stop(weft_pc *pc, weft_track *t) {
  if (atomic_exchange(&t->stopped, true))
    return WEFT_OK;
  atomic_store(&t->can_send, false);
  atomic_store(&t->current_direction, WEFT_DIR_STOPPED);
  atomic_store(&t->direction, WEFT_DIR_STOPPED);
  ssrc_forget_track(pc, t);
  if (t->mline >= 0 && (guint)t->mline < pc->n_mlines && !atomic_load(&pc->closed))
    weft__pc_need_negotiation(pc);
  return WEFT_OK;
}

int weft__track_engine_set_direction(weft_pc *pc, weft_track *t, weft_direction d) {
  if (atomic_load(&t->stopped))
    return weft__error(WEFT_ERR_INVALID_STATE, "the track is stopped");
  if (atomic_exchange(&t->direction, (int)d) != (int)d && !atomic_load(&pc->closed))
    weft__pc_need_negotiation(pc);
  return WEFT_OK;
}

void weft__track_detach(weft_track *t) {
  g_mutex_lock(&t->lock);
  t->pc = NULL;
  g_mutex_unlock(&t->lock);
  atomic_store(&t->stopped, true);
  atomic_store(&t->can_send, false);
}

/* ---- Offer / answer --------------------------------------------------------- */

static void fill_media_local(weft_track *t, weft__media_local *ml) {
  memset(ml, 0, sizeof *ml);
  ml->kind = t->kind == WEFT_KIND_AUDIO ? WEFT__KIND_AUDIO : WEFT__KIND_VIDEO;
  ml->mid = t->mid;
  ml->direction = dir_to_jsep((weft_direction)atomic_load(&t->direction));
  ml->prefs = t->prefs_jsep;
  ml->n_prefs = t->n_prefs;
  ml->ssrc = t->ssrc;
  ml->cname = t->cname;
  ml->msid_stream = t->stream_id;
  ml->msid_track = t->track_id;
}

static bool data_wanted(weft_pc *pc) {
  return pc->data_mline >= 0 || pc->channels_all->len > 0 || pc->tracks->len == 0;
}

/* A rejected copy of m-line @i of the current remote description: a section
 * weft has no object for (an unsupported kind it rejected) keeps its place. */
static weft__sdp_media *rejected_copy(weft_pc *pc, guint i) {
  const weft__jsep_desc *r = pc->remote_current;
  if (!r || i >= r->sdp->media->len)
    return NULL;
  const weft__sdp_media *om = g_ptr_array_index(r->sdp->media, i);
  weft__sdp_media *m = weft__sdp_media_new(om->media, 0, om->proto);
  for (guint f = 0; f < om->formats->len; f++)
    weft__sdp_media_add_format(m, g_ptr_array_index(om->formats, f));
  weft__sdp_lines_add(m->lines, 'c', "IN IP4 0.0.0.0");
  const char *mid = weft__sdp_media_mid(om);
  if (mid)
    weft__sdp_attr_add(m->attrs, "mid", mid);
  return m;
}

int weft__pc_media_offer_sections(weft_pc *pc, weft__jsep_msection **out, size_t *n,
                                  GPtrArray **models) {
  GPtrArray *mods = g_ptr_array_new_with_free_func((GDestroyNotify)weft__media_desc_free);
  guint fixed = pc->n_mlines;
  size_t cap = fixed + pc->tracks->len + 1;
  weft__jsep_msection *secs = g_new0(weft__jsep_msection, cap);
  size_t count = fixed;
  bool data_new = data_wanted(pc) && (pc->data_mline < 0 || (guint)pc->data_mline >= fixed);
  if (data_new && fixed == 0) {
    /* The first offer puts the data section first (mid "0"), as before media. */
    if (!pc->data_mid)
      pc->data_mid = g_strdup("0");
    pc->data_mline = 0;
    secs[0].is_data = true;
    count = 1;
    data_new = false;
  }
  for (guint i = 0; i < pc->tracks->len; i++) {
    weft_track *t = pc->tracks->pdata[i];
    bool placed = t->mline >= 0 && (guint)t->mline < fixed;
    if (!placed) {
      if (atomic_load(&t->stopped))
        continue; /* never negotiated: nothing to reject */
      if (!t->mid) {
        char *mid = new_mid(pc);
        set_mid(t, mid);
        g_free(mid);
      }
      t->mline = (int)count++;
    }
    weft__media_local ml;
    fill_media_local(t, &ml);
    weft__media_desc *md = NULL;
    if (weft__media_offer(&ml, &md) < 0) {
      g_free(secs);
      g_ptr_array_unref(mods);
      return weft__error(WEFT_ERR_INTERNAL, "media offer for mid %s: %s", t->mid,
                         weft_last_error_message());
    }
    if (atomic_load(&t->stopped)) {
      md->port = 0;
      md->rejected = true;
    }
    g_ptr_array_add(mods, md);
    secs[t->mline].media = md;
  }
  if (data_new) {
    if (!pc->data_mid)
      pc->data_mid = new_mid(pc);
    pc->data_mline = (int)count;
    secs[count++].is_data = true;
  } else if (pc->data_mline >= 0 && (guint)pc->data_mline < count) {
    secs[pc->data_mline].is_data = true;
  }
  /* Holes: m-lines of the current description weft has no object for. */
  for (guint i = 0; i < fixed; i++) {
    if (secs[i].is_data || secs[i].media)
      continue;
    weft__sdp_media *m = rejected_copy(pc, i);
    if (!m)
      continue;
    weft__media_desc *md = NULL;
    if (weft__media_parse(m, &md) == 0) {
      md->port = 0;
      md->rejected = true;
      g_ptr_array_add(mods, md);
      secs[i].media = md;
    }
    weft__sdp_media_free(m);
  }
  *out = secs;
  *n = count;
  *models = mods;
  return WEFT_OK;
}

/* What a remote offer creates is bounded without a cap of its own: an offer
 * has at most WEFT__SDP_MAX_MEDIA (64) m-sections and a track per m-section;
 * a track leaves the pc when the offer that created it is rolled back or
 * replaced, or when its (rejected) m-line is recycled with a new mid; and a
 * mid may change nowhere else (weft__pc_media_check_remote_offer). */

/* @t leaves the pc: stopped and detached (references the app took in
 * on_track stay valid, inert), its SSRCs and any on_track event still
 * waiting for a handler dropped. Drops the pc's reference: @t is index @i of
 * pc->tracks. */
static void withdraw_track(weft_pc *pc, weft_track *t, guint i) {
  atomic_store(&t->withdrawn, true);
  atomic_store(&t->current_direction, WEFT_DIR_STOPPED);
  ssrc_forget_track(pc, t);
  weft__pc_forget_held_track(pc, t);
  weft__track_detach(t);
  g_ptr_array_remove_index(pc->tracks, i);
}

/* Whether @t was created (or given its mid) by the remote offer @offer and
 * nothing since made it part of a negotiated session. */
static bool track_of_pending_offer(weft_pc *pc, const weft_track *t, const weft__jsep_desc *offer) {
  return t->mid && !t->negotiated && !t->section_rejected && weft__jsep_find_mid(offer, t->mid) &&
         !(pc->remote_current && weft__jsep_find_mid(pc->remote_current, t->mid));
}

/* Undoes what the remote offer @old did to the tracks, except for the
 * m-sections @keep (a newer offer replacing it) still has: the tracks it
 * created leave the pc (stopped and detached: references the app took in
 * on_track stay valid, inert), local tracks it gave a mid lose it again. */
static void undo_remote_offer(weft_pc *pc, const weft__jsep_desc *old,
                              const weft__jsep_desc *keep) {
  for (guint i = pc->tracks->len; i-- > 0;) {
    weft_track *t = pc->tracks->pdata[i];
    if (!track_of_pending_offer(pc, t, old) || (keep && weft__jsep_find_mid(keep, t->mid)))
      continue;
    if (t->remote_created) {
      WLOG_D("pc", "pc %p: remote track of mid %s undone", (void *)pc, t->mid);
      withdraw_track(pc, t, i);
    } else {
      set_mid(t, NULL);
      t->mline = -1;
    }
  }
}

/* W3C rollback of a remote offer (RFC 9429 §4.1.10.2): call while
 * pc->remote_pending is still the offer rolled back. */
void weft__pc_media_remote_rollback(weft_pc *pc) {
  if (pc->remote_pending && pc->remote_pending->type == WEFT_SDP_OFFER)
    undo_remote_offer(pc, pc->remote_pending, NULL);
}

/* Whether m-line @i is live in the current negotiation: a track or the data
 * channels use it, and neither side rejected it. */
static bool mline_live(weft_pc *pc, guint i) {
  if (pc->data_mline >= 0 && (guint)pc->data_mline == i)
    return true;
  for (guint j = 0; j < pc->tracks->len; j++) {
    const weft_track *t = pc->tracks->pdata[j];
    if (t->mline >= 0 && (guint)t->mline == i && !t->section_rejected)
      return true;
  }
  return false;
}

int weft__pc_media_check_remote_offer(weft_pc *pc, const weft__jsep_desc *offer) {
  const weft__jsep_desc *cur = pc->remote_current;
  if (!cur)
    return WEFT_OK;
  if (offer->sections->len < cur->sections->len)
    return weft__error(WEFT_ERR_INVALID_ACCESS,
                       "the offer has %u m-sections, the session %u: an offer may not remove "
                       "one (RFC 9429 §5.8)",
                       offer->sections->len, cur->sections->len);
  for (guint i = 0; i < cur->sections->len; i++) {
    const weft__jsep_section *was = g_ptr_array_index(cur->sections, i);
    const weft__jsep_section *now = g_ptr_array_index(offer->sections, i);
    if (!was->mid || !now->mid || !strcmp(was->mid, now->mid) || was->rejected ||
        !mline_live(pc, i))
      continue;
    char a[WEFT__ESCAPE_BUF], b[WEFT__ESCAPE_BUF];
    weft__escape(a, sizeof a, was->mid, SIZE_MAX);
    weft__escape(b, sizeof b, now->mid, SIZE_MAX);
    return weft__error(WEFT_ERR_INVALID_ACCESS,
                       "m-section %u changes mid %s to %s: only a rejected m-section may be "
                       "recycled (RFC 9429 §5.10)",
                       i, a, b);
  }
  return WEFT_OK;
}

int weft__pc_media_remote_offer(weft_pc *pc, const weft__jsep_desc *offer) {
  /* An offer replacing a pending one (have-remote-offer): what the old one
   * created and this one does not have goes. */
  if (pc->remote_pending && pc->remote_pending->type == WEFT_SDP_OFFER)
    undo_remote_offer(pc, pc->remote_pending, offer);
  /* Tentative mids from an offer of ours that was never applied. */
  for (guint i = 0; i < pc->tracks->len; i++) {
    weft_track *t = pc->tracks->pdata[i];
    if (t->mline >= 0 && (guint)t->mline >= pc->n_mlines && !weft__jsep_find_mid(offer, t->mid)) {
      t->mline = -1;
      set_mid(t, NULL);
    }
  }
  for (guint i = 0; i < offer->sections->len; i++) {
    const weft__jsep_section *s = g_ptr_array_index(offer->sections, i);
    if (s->kind != WEFT__KIND_AUDIO && s->kind != WEFT__KIND_VIDEO)
      continue;
    weft_media_kind kind = s->kind == WEFT__KIND_AUDIO ? WEFT_KIND_AUDIO : WEFT_KIND_VIDEO;
    weft_track *t = track_by_mid(pc, s->mid);
    if (t) {
      t->mline = (int)i;
      continue;
    }
    if (s->rejected || !s->mid)
      continue;
    /* A recycled m-line (RFC 9429 §5.10): the track of its old mid, rejected
     * (checked before), leaves the pc. */
    for (guint j = pc->tracks->len; j-- > 0;) {
      weft_track *old = pc->tracks->pdata[j];
      if (old->mline >= 0 && (guint)old->mline == i && i < pc->n_mlines) {
        WLOG_D("pc", "pc %p: m-line %u recycled: track of mid %s leaves", (void *)pc, i,
               old->mid ? old->mid : "-");
        withdraw_track(pc, old, j);
      }
    }
    /* JSEP §5.10: a local transceiver of the same kind not yet associated
     * takes the new m-section. */
    for (guint j = 0; j < pc->tracks->len && !t; j++) {
      weft_track *c = pc->tracks->pdata[j];
      if (c->kind == kind && !c->mid && !atomic_load(&c->stopped) && !c->remote_created)
        t = c;
    }
    if (t) {
      set_mid(t, s->mid);
      t->mline = (int)i;
      continue;
    }
    char mid[WEFT__ESCAPE_BUF];
    weft__escape(mid, sizeof mid, s->mid, SIZE_MAX);
    /* A new remote track. It answers sendrecv when the offer allows it:
     * weft tracks need no MediaStreamTrack to send (doc/media.md). */
    t = weft__track_new(kind, NULL);
    t->remote_created = true;
    g_mutex_lock(&pc->lock);
    t->user_data = pc->user_data;
    g_mutex_unlock(&pc->lock);
    t->pc = pc;
    set_mid(t, s->mid);
    t->mline = (int)i;
    g_ptr_array_add(pc->tracks, t); /* the array owns the new reference */
    WLOG_I("pc", "pc %p: remote %s track, mid %s", (void *)pc,
           kind == WEFT_KIND_AUDIO ? "audio" : "video", mid);
    weft__pc_emit_track(pc, t);
  }
  return WEFT_OK;
}

int weft__pc_media_answer_sections(weft_pc *pc, const weft__jsep_desc *offer,
                                   weft__jsep_msection **out, size_t *n, GPtrArray **models) {
  GPtrArray *mods = g_ptr_array_new_with_free_func((GDestroyNotify)weft__media_desc_free);
  guint count = offer->sections->len;
  weft__jsep_msection *secs = g_new0(weft__jsep_msection, count ? count : 1);
  const weft__jsep_section *data = weft__jsep_data_section(offer);
  const weft__jsep_section *transport = weft__jsep_transport_section(offer);
  bool bundled = offer->bundle_mids->len > 0;
  for (guint i = 0; i < count; i++) {
    const weft__jsep_section *s = g_ptr_array_index(offer->sections, i);
    /* One transport only: without BUNDLE, only the first live section. */
    bool usable =
        !s->rejected && (s == transport || (bundled && weft__jsep_in_bundle(offer, s->mid)));
    if (s == data) {
      secs[i].is_data = usable;
      continue;
    }
    if (!usable || (s->kind != WEFT__KIND_AUDIO && s->kind != WEFT__KIND_VIDEO))
      continue;
    weft_track *t = track_by_mid(pc, s->mid);
    if (!t || atomic_load(&t->stopped))
      continue;
    weft__media_desc *om = NULL;
    if (weft__media_parse(g_ptr_array_index(offer->sdp->media, s->index), &om) < 0) {
      WLOG_W("pc", "offered m-section %u rejected: %s", i, weft_last_error_message());
      continue;
    }
    weft__media_local ml;
    fill_media_local(t, &ml);
    weft__media_desc *ans = NULL;
    int rc = weft__media_answer(om, &ml, &ans);
    weft__media_desc_free(om);
    if (rc < 0) {
      WLOG_W("pc", "m-section %u: %s", i, weft_last_error_message());
      continue;
    }
    g_ptr_array_add(mods, ans);
    secs[i].media = ans;
  }
  *out = secs;
  *n = count;
  *models = mods;
  return WEFT_OK;
}

static uint8_t find_mid_ext(const weft__media_desc *md) {
  for (guint i = 0; i < md->extmaps->len; i++) {
    const weft__rtp_extmap *e = g_ptr_array_index(md->extmaps, i);
    if (e->uri && strcmp(e->uri, MID_URI) == 0 && e->id >= 1 && e->id <= 14)
      return (uint8_t)e->id;
  }
  return 0;
}

static bool codec_has_fb(const weft__rtp_codec *c, const char *fb) {
  for (guint i = 0; c->rtcp_fb && i < c->rtcp_fb->len; i++)
    if (g_ascii_strcasecmp(g_ptr_array_index(c->rtcp_fb, i), fb) == 0)
      return true;
  return false;
}

static bool is_fid_secondary(const weft__media_desc *md, uint32_t ssrc) {
  for (guint i = 0; md->fid && i + 1 < md->fid->len; i += 2)
    if (g_array_index(md->fid, uint32_t, i + 1) == ssrc)
      return true;
  return false;
}

static gboolean media_timer_cb(gpointer data);

/* The 20 ms timer runs only while the pc has SRTP and a negotiated track:
 * data-only peer connections never wake for it. */
static void ensure_timer(weft_pc *pc) {
  if (pc->media_timer || !pc->srtp || atomic_load(&pc->closed))
    return;
  pc->media_timer = g_timeout_source_new(TIMER_MS);
  g_source_set_callback(pc->media_timer, media_timer_cb, pc, NULL);
  g_source_attach(pc->media_timer, weft__context_gctx(pc->ctx));
  pc->next_report_us = weft__now_us() + 200000;
}

static void update_can_send(weft_pc *pc, weft_track *t) {
  bool ok = pc->srtp && t->negotiated && !atomic_load(&t->stopped) &&
            dir_sends(atomic_load(&t->current_direction)) && t->n_codecs > 0;
  atomic_store(&t->can_send, ok);
}

/* Whether the descriptions in place do not say what the app asked of @t. */
static bool track_needs_negotiation(weft_pc *pc, weft_track *t) {
  bool placed = t->mline >= 0 && (guint)t->mline < pc->n_mlines;
  if (atomic_load(&t->stopped))
    return placed && !t->section_rejected;
  if (!placed)
    return true;
  weft__direction want = dir_to_jsep((weft_direction)atomic_load(&t->direction));
  /* An answer could only give what the offer allowed (JSEP §5.3.1). */
  if (t->answered)
    want = weft__direction_answer(t->offered_dir, want);
  return want != t->written_dir;
}

static void apply_track(weft_pc *pc, weft_track *t, const weft__media_desc *lm,
                        const weft__media_desc *rm, bool we_offered) {
  if (lm->port == 0 || lm->rejected || rm->port == 0 || rm->rejected) {
    if (!atomic_load(&t->stopped))
      WLOG_I("pc", "pc %p: track mid %s rejected", (void *)pc, t->mid);
    atomic_store(&t->stopped, true);
    atomic_store(&t->current_direction, WEFT_DIR_STOPPED);
    atomic_store(&t->can_send, false);
    t->section_rejected = true;
    return;
  }
  t->written_dir = lm->direction;
  t->answered = !we_offered;
  t->offered_dir = rm->direction;
  const weft__media_desc *ans = we_offered ? rm : lm;
  t->n_codecs = 0;
  t->nack = t->pli = t->fir = false;
  for (guint i = 0; i < ans->codecs->len && t->n_codecs < G_N_ELEMENTS(t->codecs); i++) {
    const weft__rtp_codec *c = g_ptr_array_index(ans->codecs, i);
    weft_codec wc = codec_from_name(c->name);
    if (wc == WEFT_CODEC_NONE)
      continue;
    if (t->n_codecs == 0) {
      t->nack = codec_has_fb(c, "nack");
      t->pli = codec_has_fb(c, "nack pli");
      t->fir = codec_has_fb(c, "ccm fir");
      g_mutex_lock(&t->lock);
      t->send_params.codec = wc;
      t->send_params.payload_type = c->pt;
      t->send_params.clock_rate = c->clock_rate;
      t->send_params.channels = c->channels ? c->channels : 1;
      g_mutex_unlock(&t->lock);
    }
    t->codecs[t->n_codecs].pt = c->pt;
    t->codecs[t->n_codecs].codec = wc;
    t->codecs[t->n_codecs].clock = c->clock_rate;
    t->n_codecs++;
  }
  t->mid_ext_id = find_mid_ext(ans);
  t->rsize = ans->rtcp_rsize;
  if (!t->rtcp_feedback)
    t->nack = t->pli = t->fir = false;
  bool send = jdir_sends(lm->direction) && jdir_recvs(rm->direction);
  bool recv = jdir_recvs(lm->direction) && jdir_sends(rm->direction);
  atomic_store(&t->current_direction, make_dir(send, recv));
  ssrc_set_announced(pc, t, rm);
  t->negotiated = true;
  update_can_send(pc, t);
  ensure_timer(pc);
  WLOG_I("pc", "pc %p: track mid %s %s, %s/%u pt %u%s%s", (void *)pc, t->mid,
         weft_direction_to_string((weft_direction)atomic_load(&t->current_direction)),
         weft_codec_to_string(t->send_params.codec), t->send_params.clock_rate,
         t->send_params.payload_type, t->nack ? ", nack" : "", t->pli ? ", pli" : "");
}

void weft__pc_media_negotiated(weft_pc *pc, const char *local_sdp, const weft__jsep_desc *remote) {
  weft__sdp *local = NULL;
  if (!local_sdp || weft__sdp_parse(local_sdp, &local) < 0) {
    WLOG_W("pc", "pc %p: local description unreadable for media", (void *)pc);
    return;
  }
  bool we_offered = remote->type != WEFT_SDP_OFFER;
  pc->n_mlines = remote->sections->len;
  const weft__jsep_section *data = weft__jsep_data_section(remote);
  pc->data_mline = data ? (int)data->index : -1;
  for (guint i = 0; i < remote->sections->len && i < local->media->len; i++) {
    const weft__jsep_section *s = g_ptr_array_index(remote->sections, i);
    if (s->kind != WEFT__KIND_AUDIO && s->kind != WEFT__KIND_VIDEO)
      continue;
    weft_track *t = track_by_mid(pc, s->mid);
    if (!t)
      continue;
    t->mline = (int)i;
    weft__media_desc *lm = NULL, *rm = NULL;
    if (weft__media_parse(g_ptr_array_index(local->media, i), &lm) == 0 &&
        weft__media_parse(g_ptr_array_index(remote->sdp->media, s->index), &rm) == 0)
      apply_track(pc, t, lm, rm, we_offered);
    else
      WLOG_W("pc", "pc %p: mid %s: %s", (void *)pc, s->mid, weft_last_error_message());
    weft__media_desc_free(lm);
    weft__media_desc_free(rm);
  }
  weft__sdp_free(local);
  /* What changed while this round was under way (a track added, stopped or
   * given another direction, a first channel) needs another round (W3C
   * "check if negotiation is needed"). */
  bool again = pc->channels_all->len > 0 && pc->data_mline < 0;
  for (guint i = 0; i < pc->tracks->len && !again; i++)
    again = track_needs_negotiation(pc, pc->tracks->pdata[i]);
  if (again)
    weft__pc_need_negotiation(pc);
}

/* ---- Sending ---------------------------------------------------------------- */

/* Packets sent on the track so far (what an SR reports; 0 = none yet). */
static bool has_sent(weft_track *t) { return atomic_load(&t->n.packets_sent) > 0; }

static bool test_drop(weft_pc *pc) {
  if (!pc->test_drop_permille || pc->test_drop_seen++ < 20)
    return false;
  /* xorshift32: deterministic per seed, cheap. */
  uint32_t x = pc->test_drop_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  pc->test_drop_state = x;
  return x % 1000 < pc->test_drop_permille;
}

/* Protects buf[0..len) in place (cap MEDIA_BUF_BYTES) and sends it. */
static int protect_send(weft_pc *pc, uint8_t *buf, size_t len, size_t cap, bool rtcp) {
  if (!pc->srtp || !pc->ice)
    return weft__error(WEFT_ERR_INVALID_STATE, "SRTP is not ready (DTLS not connected)");
  size_t out = 0;
  int rc = rtcp ? weft__srtp_protect_rtcp(pc->srtp, buf, len, cap, &out)
                : weft__srtp_protect_rtp(pc->srtp, buf, len, cap, &out);
  if (rc < 0)
    return rc;
  if (!rtcp && test_drop(pc))
    return WEFT_OK;
  rc = weft__ice_send(pc->ice, buf, out);
  return rc < 0 ? rc : WEFT_OK;
}

static void hist_store(weft_track *t, uint16_t seq, const uint8_t *pkt, size_t len) {
  if (!t->nack || len > WEFT__HIST_SLOT_BYTES)
    return;
  if (!t->hist)
    t->hist = g_new0(weft__hist_slot, WEFT__HIST_SIZE);
  weft__hist_slot *s = &t->hist[seq % WEFT__HIST_SIZE];
  if (!s->buf)
    s->buf = g_malloc(WEFT__HIST_SLOT_BYTES);
  memcpy(s->buf, pkt, len);
  s->len = len;
  s->seq = seq;
  s->used = true;
  s->rtx_us = WEFT__RTX_NEVER;
  /* Original packets raise the retransmission budget (rtp.h). */
  weft__rtx_limiter_on_send(&t->rtx, weft__now_us(), atomic_load(&t->n.rtt_us));
}

typedef struct send_ctx {
  weft_pc *pc;
  weft_track *t;
  uint32_t ts;
  size_t hdr_len;
  int rc;
} send_ctx;

static void mid_ext(const weft_track *t, weft__rtp_ext *e) {
  e->id = t->mid_ext_id;
  e->data = (const uint8_t *)t->mid;
  e->len = strlen(t->mid);
}

static bool use_mid_ext(const weft_track *t) {
  return t->mid_ext_id && t->mid && strlen(t->mid) >= 1 && strlen(t->mid) <= 16;
}

/* pc->pkt_buf (WEFT__PKT_BUF_BYTES) holds an RTP header (12 bytes + at most
 * a 24-byte mid extension block) and one payload. */
G_STATIC_ASSERT(12 + 24 + RTP_MAX_PAYLOAD + WEFT__SRTP_RTP_HEADROOM <= WEFT__PKT_BUF_BYTES);

static size_t header_len(const weft_track *t) {
  weft__rtp_ext e;
  weft__rtp_build b = {0};
  if (use_mid_ext(t)) {
    mid_ext(t, &e);
    b.exts = &e;
    b.ext_count = 1;
  }
  return weft__rtp_header_size(&b);
}

static int write_header(weft_track *t, uint8_t *buf, bool marker, uint16_t seq, uint32_t ts) {
  weft__rtp_ext e;
  weft__rtp_build b = {0};
  b.marker = marker;
  b.payload_type = t->send_params.payload_type;
  b.seq = seq;
  b.timestamp = ts;
  b.ssrc = t->ssrc;
  if (use_mid_ext(t)) {
    mid_ext(t, &e);
    b.exts = &e;
    b.ext_count = 1;
  }
  return weft__rtp_write_header(&b, buf, MEDIA_BUF_BYTES);
}

static int emit_payload(void *ctx, uint8_t *payload, size_t len, bool marker) {
  send_ctx *c = ctx;
  weft_track *t = c->t;
  uint8_t *pkt = payload - c->hdr_len;
  uint16_t seq = t->seq++;
  int rc = write_header(t, pkt, marker, seq, c->ts);
  if (rc < 0)
    return rc;
  size_t total = c->hdr_len + len;
  hist_store(t, seq, pkt, total);
  atomic_fetch_add(&t->n.packets_sent, 1);
  atomic_fetch_add(&t->n.bytes_sent, len);
  /* In place: packetizers write every payload in full (media.h), and the
   * header sits at the start of pkt_buf (headroom = header length). */
  rc = protect_send(c->pc, pkt, total, WEFT__PKT_BUF_BYTES, false);
  if (rc < 0 && rc != WEFT_ERR_AGAIN)
    return rc;
  return 0;
}

static uint32_t ts_from_info(weft_track *t, const weft_frame_info *info) {
  uint32_t clock = t->send_params.clock_rate ? t->send_params.clock_rate : 90000;
  if (info && info->has_rtp_timestamp)
    return info->rtp_timestamp;
  int64_t us = info ? info->pts_us : weft__now_us();
  return t->ts_base + (uint32_t)((uint64_t)us * clock / 1000000u);
}

static int engine_send_frame(weft_pc *pc, weft_track *t, const uint8_t *frame, size_t len,
                             const weft_frame_info *info) {
  if (!atomic_load(&t->can_send) || !pc->srtp)
    return weft__error(WEFT_ERR_INVALID_STATE, "track mid %s does not send (%s)",
                       t->mid ? t->mid : "-",
                       t->negotiated ? "direction or DTLS" : "not negotiated");
  send_ctx c = {pc, t, ts_from_info(t, info), header_len(t), 0};
  weft__media_sink sink = {pc->pkt_buf, c.hdr_len, RTP_MAX_PAYLOAD, emit_payload, &c};
  int rc;
  switch (t->send_params.codec) {
  case WEFT_CODEC_OPUS:
    rc = weft__opus_packetize(&sink, frame, len);
    break;
  case WEFT_CODEC_VP8:
    rc = weft__vp8_packetize(&t->vp8, &sink, frame, len, false);
    break;
  case WEFT_CODEC_H264:
    rc = weft__h264_packetize(&t->h264, &sink, frame, len);
    break;
  case WEFT_CODEC_PCMU:
  case WEFT_CODEC_PCMA:
    if (len > RTP_MAX_PAYLOAD)
      return weft__error(WEFT_ERR_TOO_BIG, "G.711 frame of %zu bytes (max %d)", len,
                         RTP_MAX_PAYLOAD);
    memcpy(pc->pkt_buf + c.hdr_len, frame, len);
    rc = emit_payload(&c, pc->pkt_buf + c.hdr_len, len, false);
    break;
  default:
    return weft__error(WEFT_ERR_INVALID_STATE, "no send codec");
  }
  if (rc < 0)
    return rc;
  t->last_ts = c.ts;
  t->last_ts_us = weft__now_us();
  atomic_fetch_add(&t->n.frames_sent, 1);
  return WEFT_OK;
}

static int engine_send_rtp(weft_pc *pc, weft_track *t, const uint8_t *data, size_t len,
                           uint32_t flags) {
  if (!atomic_load(&t->can_send) || !pc->srtp)
    return weft__error(WEFT_ERR_INVALID_STATE, "track mid %s does not send", t->mid ? t->mid : "-");
  weft__rtp_packet p;
  int rc = weft__rtp_parse(data, len, &p);
  if (rc < 0)
    return rc;
  if (p.payload_len == 0) {
    /* Padding only (a sender's bandwidth probe): not forwarded. Close the
     * hole it leaves in the renumbered sequence, or the receiver would NACK
     * (and then give up on) a packet that never existed. */
    if (t->rtp_src_known && t->rtp_src_ssrc == p.ssrc &&
        weft__rtp_seq_newer(p.seq, t->rtp_last_in_seq)) {
      t->rtp_seq_offset--;
      t->rtp_last_in_seq = p.seq;
    }
    return WEFT_OK;
  }
  size_t hl = header_len(t);
  if (hl + p.payload_len > WEFT__SRTP_MAX_PACKET)
    return weft__error(WEFT_ERR_TOO_BIG, "RTP packet too big");
  int32_t jump = t->rtp_src_known ? weft__rtp_seq_diff(p.seq, t->rtp_last_in_seq) : 0;
  if (!t->rtp_src_known || t->rtp_src_ssrc != p.ssrc || jump > WEFT__RTP_MAX_DROPOUT ||
      jump < -WEFT__RTP_MAX_MISORDER) {
    /* A new source, or one that restarted its numbering (a jump RFC 3550
     * A.1 would not take for loss or reordering): continue our numbering and
     * timeline from where they are, or the receiver (and SRTP) would see old
     * numbers again. */
    t->rtp_src_known = true;
    t->rtp_src_ssrc = p.ssrc;
    t->rtp_seq_offset = (uint16_t)(t->seq - p.seq);
    uint32_t next_ts = has_sent(t) ? t->last_ts + 1 : t->ts_base;
    t->rtp_ts_offset = next_ts - p.timestamp;
    t->rtp_last_in_seq = (uint16_t)(p.seq - 1);
  }
  if (weft__rtp_seq_newer(p.seq, t->rtp_last_in_seq) || p.seq == t->rtp_last_in_seq)
    t->rtp_last_in_seq = p.seq;
  uint16_t seq = (flags & WEFT_RTP_KEEP_SEQ) ? p.seq : (uint16_t)(p.seq + t->rtp_seq_offset);
  uint32_t ts = (flags & WEFT_RTP_KEEP_TIMESTAMP) ? p.timestamp : p.timestamp + t->rtp_ts_offset;
  if (!has_sent(t) || weft__rtp_seq_newer((uint16_t)(seq + 1), t->seq))
    t->seq = (uint16_t)(seq + 1);
  uint8_t *buf = pc->send_buf;
  rc = write_header(t, buf, p.marker, seq, ts);
  if (rc < 0)
    return rc;
  memmove(buf + hl, p.payload, p.payload_len);
  size_t total = hl + p.payload_len;
  hist_store(t, seq, buf, total);
  atomic_fetch_add(&t->n.packets_sent, 1);
  atomic_fetch_add(&t->n.bytes_sent, p.payload_len);
  if (p.marker || t->kind == WEFT_KIND_AUDIO)
    atomic_fetch_add(&t->n.frames_sent, 1);
  t->last_ts = ts;
  t->last_ts_us = weft__now_us();
  rc = protect_send(pc, buf, total, MEDIA_BUF_BYTES, false);
  return rc == WEFT_ERR_AGAIN ? WEFT_OK : rc;
}

static int send_rtcp_raw(weft_pc *pc, const uint8_t *data, size_t len) {
  if (len + WEFT__SRTP_RTCP_HEADROOM > MEDIA_BUF_BYTES)
    return weft__error(WEFT_ERR_TOO_BIG, "RTCP packet of %zu bytes", len);
  if (data != pc->send_buf)
    memmove(pc->send_buf, data, len);
  return protect_send(pc, pc->send_buf, len, MEDIA_BUF_BYTES, true);
}

/* RR (+ a report block on the received source) + SDES CNAME: the compound
 * prefix RFC 3550 §6.1 wants (and rtcp-rsize makes optional). */
static size_t report_prefix(weft_track *t, uint8_t *out, size_t cap, bool with_sr) {
  weft__rtcp_report_block rb;
  size_t nb = 0;
  if (t->src_started) {
    memset(&rb, 0, sizeof rb);
    rb.ssrc = t->remote_ssrc;
    weft__rtp_source_loss(&t->src, &rb.cumulative_lost, &rb.fraction_lost);
    rb.ext_highest_seq = weft__rtp_source_ext_max(&t->src);
    rb.jitter = weft__rtp_source_jitter(&t->src);
    if (t->last_sr_us) {
      rb.lsr = t->last_sr_compact;
      rb.dlsr = (uint32_t)((weft__now_us() - t->last_sr_us) * 65536 / 1000000);
    }
    nb = 1;
  }
  int n;
  if (with_sr) {
    weft__rtcp_sr sr = {0};
    sr.ssrc = t->ssrc;
    sr.ntp = weft__rtcp_ntp_from_unix_us(g_get_real_time());
    uint32_t clock = t->send_params.clock_rate ? t->send_params.clock_rate : 90000;
    sr.rtp_timestamp =
        t->last_ts + (uint32_t)((uint64_t)(weft__now_us() - t->last_ts_us) * clock / 1000000u);
    sr.packet_count = (uint32_t)atomic_load(&t->n.packets_sent);
    sr.octet_count = (uint32_t)atomic_load(&t->n.bytes_sent);
    n = weft__rtcp_write_sr(&sr, nb ? &rb : NULL, nb, out, cap);
  } else {
    n = weft__rtcp_write_rr(t->ssrc, nb ? &rb : NULL, nb, out, cap);
  }
  if (n < 0)
    return 0;
  weft__rtcp_sdes_chunk ch = {t->ssrc, t->cname, strlen(t->cname)};
  int m = weft__rtcp_write_sdes(&ch, 1, out + n, cap - (size_t)n);
  return m < 0 ? (size_t)n : (size_t)(n + m);
}

static void send_report(weft_pc *pc, weft_track *t) {
  uint8_t *buf = pc->send_buf;
  size_t n = report_prefix(t, buf, 1400, has_sent(t));
  if (n && send_rtcp_raw(pc, buf, n) < 0)
    WLOG_D("rtp", "report for mid %s: %s", t->mid, weft_last_error_message());
}

static void send_nack(weft_pc *pc, weft_track *t, const uint16_t *seqs, size_t n) {
  uint8_t *buf = pc->send_buf;
  size_t off = report_prefix(t, buf, 1400, false);
  int m = weft__rtcp_write_nack(t->ssrc, t->remote_ssrc, seqs, n, buf + off, 1400 - off);
  if (m < 0)
    return;
  if (send_rtcp_raw(pc, buf, off + (size_t)m) == 0)
    atomic_fetch_add(&t->n.nacks_sent, n);
}

static int send_pli(weft_pc *pc, weft_track *t) {
  if (!t->remote_ssrc_known)
    return weft__error(WEFT_ERR_INVALID_STATE, "nothing received on track mid %s yet",
                       t->mid ? t->mid : "-");
  t->last_pli_us = weft__now_us();
  uint8_t *buf = pc->send_buf;
  size_t off = report_prefix(t, buf, 1400, false);
  int m = weft__rtcp_write_pli(t->ssrc, t->remote_ssrc, buf + off, 1400 - off);
  if (m < 0)
    return m;
  int rc = send_rtcp_raw(pc, buf, off + (size_t)m);
  if (rc == 0)
    atomic_fetch_add(&t->n.plis_sent, 1);
  return rc;
}

/* ---- Receiving --------------------------------------------------------------- */

static weft_codec codec_of_pt(const weft_track *t, uint8_t pt, uint32_t *clock) {
  for (size_t i = 0; i < t->n_codecs; i++)
    if (t->codecs[i].pt == pt) {
      *clock = t->codecs[i].clock;
      return t->codecs[i].codec;
    }
  return WEFT_CODEC_NONE;
}

static void missing_remove(weft_track *t, int64_t seq) {
  for (guint i = 0; i < t->missing->len; i++)
    if (g_array_index(t->missing, weft__missing, i).seq == seq) {
      g_array_remove_index(t->missing, i);
      return;
    }
}

static uint32_t clock_of_codec(const weft_track *t, weft_codec c) {
  for (size_t i = 0; i < t->n_codecs; i++)
    if (t->codecs[i].codec == c)
      return t->codecs[i].clock;
  return 0;
}

static void deliver_frame(weft_pc *pc, weft_track *t, const uint8_t *data, size_t len, uint32_t ts,
                          bool key, uint32_t clock) {
  if (!t->first_frame_set) {
    t->first_frame_set = true;
    t->first_frame_ts = ts;
  }
  weft_frame_info info = WEFT_FRAME_INFO_INIT;
  info.flags = key ? WEFT_FRAME_KEY : 0;
  info.has_rtp_timestamp = 1;
  info.rtp_timestamp = ts;
  info.pts_us = clock ? (int64_t)(uint32_t)(ts - t->first_frame_ts) * 1000000 / clock : 0;
  info.codec = t->asm_codec;
  atomic_fetch_add(&t->n.frames_received, 1);
  weft__track_emit_frame(t, pc, data, len, &info);
}

/* Assembler callbacks: ctx is the track (its pc is alive on the engine). */
static int on_asm_frame(void *ctx, const weft__media_frame *f) {
  weft_track *t = ctx;
  /* Video that starts without its keyframe (lost before the SRTP keys were
   * there, or the sender began earlier) cannot be decoded: drop and count
   * what comes before the first keyframe, and ask for one (RFC 4585 §6.3.1,
   * as often as PLIs may go). */
  if (t->kind == WEFT_KIND_VIDEO && !t->seen_keyframe) {
    if (!f->keyframe) {
      atomic_fetch_add(&t->n.frames_dropped, 1);
      if (t->pli && weft__now_us() - t->last_pli_us > PLI_MIN_INTERVAL_US) {
        WLOG_D("media", "mid %s: video starts without a keyframe: asking for one", t->mid);
        send_pli(t->pc, t);
      }
      return 0;
    }
    t->seen_keyframe = true;
  }
  deliver_frame(t->pc, t, f->data, f->len, f->timestamp, f->keyframe,
                clock_of_codec(t, t->asm_codec));
  return 0;
}

static void on_asm_drop(void *ctx, uint32_t ts, weft__media_drop_reason why) {
  weft_track *t = ctx;
  (void)ts;
  atomic_fetch_add(&t->n.frames_dropped, 1);
  WLOG_D("media", "mid %s: frame dropped (reason %d)", t->mid, (int)why);
  if (t->kind == WEFT_KIND_VIDEO && t->pli && weft__now_us() - t->last_pli_us > PLI_MIN_INTERVAL_US)
    send_pli(t->pc, t);
}

static void to_assembler(weft_pc *pc, weft_track *t, const weft__rtp_packet *p) {
  uint32_t clock = 0;
  weft_codec codec = codec_of_pt(t, p->payload_type, &clock);
  if (codec == WEFT_CODEC_NONE)
    return;
  if (codec == WEFT_CODEC_PCMU || codec == WEFT_CODEC_PCMA) {
    t->asm_codec = codec;
    deliver_frame(pc, t, p->payload, p->payload_len, p->timestamp, true, clock);
    return;
  }
  weft__media_codec mc;
  if (!media_codec_of(codec, &mc))
    return;
  if (!t->assembler || t->asm_codec != codec) {
    weft__media_assembler_free(t->assembler);
    weft__media_assembler_config cfg = {0};
    cfg.codec = mc;
    cfg.reorder = WEFT__MEDIA_MAX_REORDER;
    cfg.on_frame = on_asm_frame;
    cfg.on_drop = on_asm_drop;
    cfg.ctx = t;
    t->assembler = weft__media_assembler_new(&cfg);
    t->asm_codec = codec;
    if (!t->assembler)
      return;
  }
  if (weft__media_assembler_push(t->assembler, p->seq, p->timestamp, p->marker, p->payload,
                                 p->payload_len) < 0)
    WLOG_D("media", "mid %s: payload refused: %s", t->mid, weft_last_error_message());
}

static void track_rtp_in(weft_pc *pc, weft_track *t, const weft__rtp_packet *p, const uint8_t *pkt,
                         size_t len) {
  int64_t now = weft__now_us();
  if (!t->remote_ssrc_known || t->remote_ssrc != p->ssrc) {
    if (t->remote_ssrc_known)
      WLOG_I("rtp", "mid %s: remote SSRC %08x replaces %08x", t->mid, p->ssrc, t->remote_ssrc);
    t->remote_ssrc = p->ssrc;
    t->remote_ssrc_known = true;
    track_reset_receive(t);
  }
  atomic_store(&t->received_any, true);
  atomic_fetch_add(&t->n.packets_received, 1);
  atomic_fetch_add(&t->n.bytes_received, p->payload_len);
  uint32_t clock = 0;
  codec_of_pt(t, p->payload_type, &clock);
  bool first = !t->src_started;
  if (first) {
    weft__rtp_source_init(&t->src, p->seq);
    t->src_started = true;
  } else {
    weft__rtp_source_update(&t->src, p->seq);
  }
  if (clock)
    weft__rtp_source_jitter_update(&t->src, (uint32_t)((uint64_t)now * clock / 1000000u),
                                   p->timestamp);
  /* Gaps: remember them for NACK (and loss accounting). */
  int64_t ext = weft__rtp_seq_unwrap(&t->unwrap, p->seq);
  if (first) {
    t->highest = ext;
  } else if (ext > t->highest) {
    int64_t gap = ext - t->highest - 1;
    if (gap > WEFT__MAX_MISSING) {
      atomic_fetch_add(&t->n.packets_lost, (uint64_t)gap);
      g_array_set_size(t->missing, 0);
    } else if (gap > 0) {
      uint16_t seqs[WEFT__MAX_MISSING];
      size_t ns = 0;
      for (int64_t s = t->highest + 1; s < ext; s++) {
        if (t->missing->len >= WEFT__MAX_MISSING) {
          atomic_fetch_add(&t->n.packets_lost, 1);
          g_array_remove_index(t->missing, 0);
        }
        weft__missing m = {s, now, now, 1};
        g_array_append_val(t->missing, m);
        seqs[ns++] = (uint16_t)s;
      }
      if (t->nack && ns)
        send_nack(pc, t, seqs, ns);
    }
    t->highest = ext;
  } else {
    missing_remove(t, ext);
  }
  if (atomic_load(&t->want_rtp))
    weft__track_emit_packet(t, pc, false, pkt, len);
  if (atomic_load(&t->want_frames) && p->payload_len > 0)
    to_assembler(pc, t, p);
}

static weft_track *route_rtp(weft_pc *pc, const weft__rtp_packet *p, int64_t now) {
  weft_track *t = g_hash_table_lookup(pc->ssrc_tracks, GUINT_TO_POINTER(p->ssrc));
  if (t) {
    if (pc->ssrc_learnt.n)
      weft__ssrc_table_touch(&pc->ssrc_learnt, p->ssrc, now);
    return t;
  }
  /* RFC 8843 §9.2: the mid header extension, then a payload type unique to
   * one m-section; the SSRC is learnt from then on (within the caps). Only
   * negotiated, live tracks learn. */
  for (guint i = 0; i < pc->tracks->len && !t; i++) {
    weft_track *c = pc->tracks->pdata[i];
    weft__rtp_ext e;
    if (c->negotiated && !atomic_load(&c->stopped) && c->mid_ext_id && c->mid &&
        weft__rtp_ext_find(p, c->mid_ext_id, &e) && e.len == strlen(c->mid) &&
        memcmp(e.data, c->mid, e.len) == 0)
      t = c;
  }
  if (!t) {
    int found = 0;
    for (guint i = 0; i < pc->tracks->len; i++) {
      weft_track *c = pc->tracks->pdata[i];
      uint32_t clock;
      if (c->negotiated && !atomic_load(&c->stopped) && !c->remote_ssrc_known &&
          codec_of_pt(c, p->payload_type, &clock) != WEFT_CODEC_NONE) {
        t = c;
        found++;
      }
    }
    if (found != 1)
      t = NULL;
  }
  if (!t) {
    pc->ssrc_learnt.unrouted++;
    WLOG_T("rtp", "RTP from SSRC %08x (pt %u) matches no track: dropped", p->ssrc, p->payload_type);
    return NULL;
  }
  return ssrc_learn(pc, p->ssrc, t, now) ? t : NULL;
}

static void rtp_in(weft_pc *pc, uint8_t *buf, size_t len) {
  size_t out = 0;
  weft__srtp_fail fail = WEFT__SRTP_FAIL_NONE;
  if (weft__srtp_unprotect_rtp(pc->srtp, buf, len, &out, &fail) < 0) {
    if (len >= 12) {
      uint32_t ssrc = weft__rd32(buf + 8);
      weft_track *t = g_hash_table_lookup(pc->ssrc_tracks, GUINT_TO_POINTER(ssrc));
      if (t && !weft__srtp_fail_is_replay(fail))
        atomic_fetch_add(&t->n.srtp_failures, 1);
    }
    WLOG_T("srtp", "SRTP packet dropped: %s", weft_last_error_message());
    return;
  }
  int64_t now = weft__now_us();
  weft__rtp_packet p;
  weft_track *t = NULL;
  if (weft__rtp_parse(buf, out, &p) == 0)
    t = route_rtp(pc, &p, now);
  if (!t) {
    /* Authenticated, but not admitted: libsrtp made a stream for it. */
    ssrc_refused(pc, weft__rd32(buf + 8), now);
    return;
  }
  if (atomic_load(&t->stopped) || !dir_recvs(atomic_load(&t->current_direction)))
    return;
  track_rtp_in(pc, t, &p, buf, out);
}

/* NACKed packets not answered (rtp.h: duplicates, budget, per-RTCP cap). */
static void rtx_dropped(weft_track *t, uint64_t n, int64_t now) {
  atomic_fetch_add(&t->n.rtx_dropped, n);
  if (log_allowed(&t->rtx.log, now))
    WLOG_W("rtp",
           "mid %s: NACKed packets not resent: %" G_GUINT64_FORMAT
           " asked twice in a window, %" G_GUINT64_FORMAT
           " over the budget (%d + packets sent, per round trip), %" G_GUINT64_FORMAT
           " past %d per RTCP packet (so far)",
           t->mid ? t->mid : "-", t->rtx.duplicates, t->rtx.over_budget, WEFT__RTX_BUDGET_FLOOR,
           t->rtx.over_cap, WEFT__NACK_MAX_SEQS_PER_RTCP);
}

static void retransmit(weft_pc *pc, weft_track *t, const uint16_t *seqs, size_t n, int64_t now) {
  if (!t->hist)
    return;
  int64_t rtt = atomic_load(&t->n.rtt_us);
  uint64_t refused = 0;
  for (size_t i = 0; i < n; i++) {
    weft__hist_slot *s = &t->hist[seqs[i] % WEFT__HIST_SIZE];
    if (!s->used || s->seq != seqs[i])
      continue;
    if (weft__rtx_limiter_admit(&t->rtx, now, rtt, &s->rtx_us) != WEFT__RTX_SEND) {
      refused++;
      continue;
    }
    memcpy(pc->send_buf, s->buf, s->len);
    if (protect_send(pc, pc->send_buf, s->len, MEDIA_BUF_BYTES, false) == 0)
      atomic_fetch_add(&t->n.retransmitted, 1);
  }
  if (refused)
    rtx_dropped(t, refused, now);
}

/* A PLI or FIR for @t; @pass is the throttle's verdict (rtp.h). */
static void keyframe_request(weft_pc *pc, weft_track *t, bool pass, int64_t now) {
  atomic_fetch_add(&t->n.plis_received, 1);
  if (pass) {
    weft__track_emit_keyframe_request(t, pc);
    return;
  }
  atomic_fetch_add(&t->n.keyframe_requests_throttled, 1);
  if (log_allowed(&t->kf.log, now))
    WLOG_D("rtp",
           "mid %s: keyframe requests not passed on: %" G_GUINT64_FORMAT
           " within %d ms of the last, %" G_GUINT64_FORMAT " FIR repeats (so far)",
           t->mid ? t->mid : "-", t->kf.throttled, WEFT__KEYFRAME_MIN_INTERVAL_US / 1000,
           t->kf.fir_repeats);
}

static void rtcp_in(weft_pc *pc, uint8_t *buf, size_t len) {
  size_t out = 0;
  weft__srtp_fail fail;
  if (weft__srtp_unprotect_rtcp(pc->srtp, buf, len, &out, &fail) < 0) {
    WLOG_T("srtp", "SRTCP packet dropped: %s", weft_last_error_message());
    return;
  }
  int64_t now = weft__now_us();
  /* A sender SSRC neither announced nor learnt is learnt as RTCP-only
   * within the caps; past them its libsrtp stream goes (the packet, which
   * authenticated, is still read). */
  uint32_t sender = weft__rd32(buf + 4);
  if (!ssrc_admitted(pc, sender, now) && !ssrc_learn(pc, sender, RTCP_ONLY, now))
    srtp_stream_drop(pc, sender);
  if (weft__rtcp_validate(buf, out, true) < 0) {
    WLOG_D("rtp", "RTCP dropped: %s", weft_last_error_message());
    return;
  }
  /* Sequence numbers of NACKs looked at in this compound packet. */
  size_t nack_left = WEFT__NACK_MAX_SEQS_PER_RTCP;
  uint32_t now_compact = weft__rtcp_ntp_compact(weft__rtcp_ntp_from_unix_us(g_get_real_time()));
  weft__rtcp_iter it;
  weft__rtcp_packet pkt;
  weft__rtcp_iter_init(&it, buf, out);
  while (weft__rtcp_iter_next(&it, &pkt) == 1) {
    weft_track *t = NULL;
    const uint8_t *blocks = NULL;
    size_t nblocks = 0;
    if (pkt.type == WEFT__RTCP_SR) {
      weft__rtcp_sr sr;
      if (weft__rtcp_parse_sr(&pkt, &sr) < 0)
        continue;
      t = g_hash_table_lookup(pc->ssrc_tracks, GUINT_TO_POINTER(sr.ssrc));
      if (t) {
        t->last_sr_compact = weft__rtcp_ntp_compact(sr.ntp);
        t->last_sr_us = now;
      }
      blocks = sr.blocks;
      nblocks = sr.block_count;
    } else if (pkt.type == WEFT__RTCP_RR) {
      weft__rtcp_rr rr;
      if (weft__rtcp_parse_rr(&pkt, &rr) < 0)
        continue;
      t = g_hash_table_lookup(pc->ssrc_tracks, GUINT_TO_POINTER(rr.ssrc));
      blocks = rr.blocks;
      nblocks = rr.block_count;
    } else if (pkt.type == WEFT__RTCP_RTPFB || pkt.type == WEFT__RTCP_PSFB) {
      weft__rtcp_fb fb;
      if (weft__rtcp_parse_fb(&pkt, &fb) < 0)
        continue;
      t = track_by_local_ssrc(pc, fb.media_ssrc);
      if (pkt.type == WEFT__RTCP_RTPFB && fb.fmt == WEFT__RTCP_FMT_NACK && t) {
        uint16_t seqs[WEFT__NACK_MAX_SEQS_PER_RTCP];
        int n = weft__rtcp_nack_seqs(&fb, seqs, nack_left);
        if (n > 0) {
          size_t got = (size_t)n < nack_left ? (size_t)n : nack_left;
          nack_left -= got;
          atomic_fetch_add(&t->n.nacks_received, got);
          if (t->rtcp_feedback && got)
            retransmit(pc, t, seqs, got, now);
          if ((size_t)n > got && t->rtcp_feedback) {
            t->rtx.over_cap += (size_t)n - got;
            rtx_dropped(t, (size_t)n - got, now);
          }
        }
      } else if (pkt.type == WEFT__RTCP_PSFB && fb.fmt == WEFT__RTCP_FMT_PLI && t) {
        keyframe_request(pc, t, weft__keyframe_throttle_pli(&t->kf, now), now);
      } else if (pkt.type == WEFT__RTCP_PSFB && fb.fmt == WEFT__RTCP_FMT_FIR) {
        /* RFC 5104 §4.3.1.1: SSRC (4), seq nr (1), reserved (3) per entry. */
        for (size_t off = 0; off + 8 <= fb.fci_len; off += 8) {
          weft_track *ft = track_by_local_ssrc(pc, weft__rd32(fb.fci + off));
          if (ft) {
            t = ft;
            keyframe_request(pc, ft, weft__keyframe_throttle_fir(&ft->kf, now, fb.fci[off + 4]),
                             now);
          }
        }
      }
    } else if (pkt.type == WEFT__RTCP_SDES || pkt.type == WEFT__RTCP_BYE) {
      if (pkt.body_len >= 4)
        t = g_hash_table_lookup(pc->ssrc_tracks, GUINT_TO_POINTER(weft__rd32(pkt.body)));
    }
    for (size_t i = 0; i < nblocks; i++) {
      weft__rtcp_report_block rb;
      weft__rtcp_report_block_get(blocks, i, &rb);
      weft_track *mine = track_by_local_ssrc(pc, rb.ssrc);
      if (mine) {
        int64_t rtt = weft__rtcp_rtt_us(now_compact, rb.lsr, rb.dlsr);
        if (rtt >= 0)
          atomic_store(&mine->n.rtt_us, rtt);
        if (!t)
          t = mine;
      }
    }
    if (t && !atomic_load(&t->stopped)) {
      if (atomic_load(&t->want_rtcp))
        weft__track_emit_packet(t, pc, true, pkt.data, pkt.len);
    }
  }
}

void weft__pc_media_input(weft_pc *pc, const uint8_t *data, size_t len) {
  if (!pc->srtp) {
    WLOG_T("pc", "RTP/RTCP packet of %zu bytes before SRTP keys: dropped", len);
    return;
  }
  if (len > WEFT__SRTP_MAX_PACKET)
    return;
  memcpy(pc->media_buf, data, len);
  if (weft__demux_is_rtcp(data, len))
    rtcp_in(pc, pc->media_buf, len);
  else
    rtp_in(pc, pc->media_buf, len);
}

/* ---- Timer: NACK retries, give-ups, reports -------------------------------- */

static void track_tick(weft_pc *pc, weft_track *t, int64_t now, bool reports) {
  if (atomic_load(&t->stopped) || !t->negotiated)
    return;
  if (t->missing->len) {
    uint16_t seqs[WEFT__MAX_MISSING];
    size_t ns = 0;
    bool gave_up = false;
    int64_t rtt = atomic_load(&t->n.rtt_us);
    int64_t retry = rtt > 0 ? MAX(rtt + rtt / 2, 20000) : 40000;
    int64_t deadline = t->nack ? NACK_GIVE_UP_US : NO_NACK_WAIT_US;
    for (guint i = 0; i < t->missing->len;) {
      weft__missing *m = &g_array_index(t->missing, weft__missing, i);
      if (now - m->first_us > deadline || m->tries >= NACK_MAX_TRIES) {
        atomic_fetch_add(&t->n.packets_lost, 1);
        g_array_remove_index(t->missing, i);
        gave_up = true;
        continue;
      }
      if (t->nack && now - m->last_nack_us >= retry) {
        m->last_nack_us = now;
        m->tries++;
        seqs[ns++] = (uint16_t)m->seq;
      }
      i++;
    }
    if (ns)
      send_nack(pc, t, seqs, ns);
    /* Stop waiting for what will not come: frames after the gap go out. */
    if (gave_up && t->assembler && t->missing->len == 0)
      weft__media_assembler_flush(t->assembler);
  }
  if (reports && t->rtcp_feedback && (has_sent(t) || t->src_started))
    send_report(pc, t);
}

static gboolean media_timer_cb(gpointer data) {
  weft_pc *pc = data;
  if (atomic_load(&pc->closed) || !pc->srtp)
    return G_SOURCE_CONTINUE;
  int64_t now = weft__now_us();
  bool reports = now >= pc->next_report_us;
  if (reports) {
    /* RFC 3550 §6.3.5: randomize the interval (0.5..1.5 of 1 s). */
    uint32_t r;
    weft__random(&r, sizeof r);
    pc->next_report_us = now + 500000 + (int64_t)(r % 1000000);
  }
  for (guint i = 0; i < pc->tracks->len; i++)
    track_tick(pc, pc->tracks->pdata[i], now, reports);
  return G_SOURCE_CONTINUE;
}

void weft__pc_media_dtls_keys(weft_pc *pc, const weft__srtp_keys *keys) {
  if (!keys || keys->profile == WEFT__SRTP_NONE || pc->srtp)
    return;
  if (weft__srtp_new(keys, &pc->srtp) < 0) {
    WLOG_W("pc", "pc %p: SRTP session: %s", (void *)pc, weft_last_error_message());
    return;
  }
  bool any = false;
  for (guint i = 0; i < pc->tracks->len; i++) {
    weft_track *t = pc->tracks->pdata[i];
    update_can_send(pc, t);
    any = any || t->negotiated;
  }
  if (any)
    ensure_timer(pc);
}

/* ---- App-thread queue ------------------------------------------------------ */

static int run_item(weft_pc *pc, weft__media_item *it) {
  weft_track *t = it->t;
  if (atomic_load(&t->stopped))
    return weft__error(WEFT_ERR_INVALID_STATE, "the track is stopped");
  switch (it->op) {
  case WEFT__MEDIA_FRAME:
    return engine_send_frame(pc, t, it->data, it->len, &it->info);
  case WEFT__MEDIA_RTP:
    return engine_send_rtp(pc, t, it->data, it->len, it->flags);
  case WEFT__MEDIA_RTCP:
    if (!pc->srtp)
      return weft__error(WEFT_ERR_INVALID_STATE, "SRTP is not ready (DTLS not connected)");
    return send_rtcp_raw(pc, it->data, it->len);
  case WEFT__MEDIA_KEYFRAME_REQUEST:
    if (!pc->srtp)
      return weft__error(WEFT_ERR_INVALID_STATE, "SRTP is not ready (DTLS not connected)");
    return send_pli(pc, t);
  }
  return weft__error(WEFT_ERR_INTERNAL, "unknown media operation %d", (int)it->op);
}

static void item_free(weft__media_item *it) {
  weft_track_unref(it->t);
  g_free(it);
}

void weft__pc_engine_drain_mediaq(weft_pc *pc) {
  g_mutex_lock(&pc->mediaq_lock);
  GQueue q = pc->mediaq;
  g_queue_init(&pc->mediaq);
  pc->mediaq_bytes = 0;
  pc->mediaq_scheduled = false;
  g_mutex_unlock(&pc->mediaq_lock);
  weft__media_item *it;
  while ((it = g_queue_pop_head(&q))) {
    if (!atomic_load(&pc->closed) && run_item(pc, it) < 0)
      WLOG_D("media", "queued send on mid %s failed: %s", it->t->mid ? it->t->mid : "-",
             weft_last_error_message());
    item_free(it);
  }
}

static void drain_task(void *p) { weft__pc_engine_drain_mediaq(p); }
static void release_task(void *p) { weft__pc_release(p); }

int weft__pc_media_submit(weft_pc *pc, weft__media_item *it) {
  if (weft__context_on_engine(pc->ctx)) {
    /* On the engine (a callback in THREAD mode): earlier queued items first. */
    weft__pc_engine_drain_mediaq(pc);
    int rc = atomic_load(&pc->closed) ? weft__error(WEFT_ERR_CLOSED, "peer connection is closed")
                                      : run_item(pc, it);
    item_free(it);
    return rc;
  }
  g_mutex_lock(&pc->mediaq_lock);
  if (pc->mediaq_bytes + it->len > MEDIAQ_LIMIT) {
    g_mutex_unlock(&pc->mediaq_lock);
    item_free(it);
    return weft__error(WEFT_ERR_AGAIN, "more than %u bytes of media queued", MEDIAQ_LIMIT);
  }
  pc->mediaq_bytes += it->len;
  g_queue_push_tail(&pc->mediaq, it);
  bool schedule = !pc->mediaq_scheduled;
  pc->mediaq_scheduled = true;
  g_mutex_unlock(&pc->mediaq_lock);
  if (schedule)
    weft__context_post(pc->ctx, drain_task, weft__pc_hold(pc), release_task);
  return WEFT_OK;
}

/* ---- Teardown ---------------------------------------------------------------- */

void weft__pc_media_teardown(weft_pc *pc) {
  if (pc->media_timer) {
    g_source_destroy(pc->media_timer);
    g_source_unref(pc->media_timer);
    pc->media_timer = NULL;
  }
  weft__pc_engine_drain_mediaq(pc); /* closed: discards */
  for (guint i = 0; i < pc->tracks->len; i++) {
    weft_track *t = pc->tracks->pdata[i];
    atomic_store(&t->can_send, false);
    atomic_store(&t->current_direction, WEFT_DIR_STOPPED);
  }
  weft__srtp_free(pc->srtp);
  pc->srtp = NULL;
}

void weft__pc_media_free(weft_pc *pc) {
  for (guint i = 0; i < pc->tracks->len; i++)
    weft__track_detach(pc->tracks->pdata[i]);
  g_ptr_array_free(pc->tracks, TRUE);
  g_hash_table_destroy(pc->ssrc_tracks);
  g_free(pc->media_buf);
  g_free(pc->send_buf);
  g_free(pc->pkt_buf);
  g_free(pc->transport_mid);
  g_mutex_clear(&pc->mediaq_lock);
}

void weft__pc_test_set_rtp_drop(weft_pc *pc, uint32_t permille, uint32_t seed) {
  pc->test_drop_permille = permille;
  pc->test_drop_state = seed ? seed : 0x9e3779b9u;
  pc->test_drop_seen = 0;
}
