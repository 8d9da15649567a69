/*
 * User-visible events of peer connections and data channels. The engine
 * queues them (loop/ delivers them on the callback thread); each one checks
 * at delivery time that its object is still open (rule 3 of weft.h) and,
 * when no handler is set, is remembered for replay (rule 4).
 */
#include <inttypes.h>
#include <string.h>

#include "pc/pc.h"

typedef enum {
  EV_CONN,
  EV_ICE,
  EV_GATHER,
  EV_SIGNALING,
  EV_NEGOTIATION,
  EV_CANDIDATE,
  EV_DATA_CHANNEL,
  EV_PC_ERROR,
  EV_PC_FLUSH,
  EV_DC_OPEN,
  EV_DC_CLOSING,
  EV_DC_CLOSE,
  EV_DC_LOW,
  EV_DC_ERROR,
  EV_DC_MESSAGE,
  EV_DC_FLUSH,
  EV_TRACK,
  EV_TRACK_RTP,
  EV_TRACK_RTCP,
  EV_TRACK_FRAME,
  EV_TRACK_KEYFRAME,
  EV_TRACK_DRAIN, /* runs the media events waiting in a track's own queue */
} ev_kind;

typedef struct pc_event {
  weft__event base;
  ev_kind kind;
  bool kept; /* moved to a held queue by run(): free() must not free it */
  weft_pc *pc;
  weft_dc *dc;
  weft_track *track;
  weft_frame_info finfo;
  int value;
  char *str; /* candidate, error message */
  uint8_t *data;
  size_t len;
  weft_msg_type type;
  weft_error_detail detail;
  int alert, cause;
  uint64_t seq;          /* emission order, for remote_end() in pc.c */
  size_t rx_cost;        /* share of pc->rx_budget, released with the event */
  uint8_t inline_data[]; /* media packets and frames: data lives here, one allocation */
} pc_event;

static void ev_destroy(pc_event *e) {
  if (e->kind == EV_DATA_CHANNEL && e->pc)
    atomic_fetch_sub(&e->pc->channels_announcing, 1);
  if (e->rx_cost)
    weft__rx_budget_release(&e->pc->rx_budget, e->rx_cost);
  if (e->dc)
    weft_dc_unref(e->dc);
  if (e->track)
    weft_track_unref(e->track);
  if (e->pc)
    weft__pc_release(e->pc);
  g_free(e->str);
  if (e->data != e->inline_data)
    g_free(e->data);
  g_free(e);
}

static void ev_free(weft__event *base) {
  pc_event *e = (pc_event *)base;
  if (e->kept) {
    e->kept = false; /* ownership now with the held queue */
    return;
  }
  ev_destroy(e);
}

static void ev_run(weft__event *base);

/* @extra bytes after the event for inline_data. */
static pc_event *ev_alloc(ev_kind kind, weft_pc *pc, weft_dc *dc, size_t extra) {
  pc_event *e = g_malloc0(sizeof(pc_event) + extra);
  e->base.run = ev_run;
  e->base.free = ev_free;
  e->base.owner = pc;
  e->kind = kind;
  e->pc = weft__pc_hold(pc);
  e->dc = dc ? weft_dc_ref(dc) : NULL;
  return e;
}

static pc_event *ev_new(ev_kind kind, weft_pc *pc, weft_dc *dc) {
  return ev_alloc(kind, pc, dc, 0);
}

/* A media event for a track's own queue, carrying a copy of @data (packet or
 * frame) in the same allocation: one malloc per packet on the receive path.
 * It holds no reference (the queue belongs to the track; the drain event
 * holds the track and the pc). */
static pc_event *ev_media(ev_kind kind, const uint8_t *data, size_t len) {
  pc_event *e = g_malloc0(sizeof(pc_event) + len);
  e->kind = kind;
  if (len)
    memcpy(e->inline_data, data, len);
  e->data = e->inline_data;
  e->len = len;
  return e;
}

/* Engine thread. After remote_end() sealed the pc nothing more is queued:
 * its connection-state `closed` is the last callback. */
static void emit(pc_event *e) {
  weft_pc *pc = e->pc;
  if (pc->events_sealed) {
    ev_destroy(e);
    return;
  }
  e->seq = ++pc->ev_seq;
  weft__context_emit(pc->ctx, &e->base);
}

/* Whether @e may still run: the pc is open, or the remote ended it and @e
 * was emitted up to and including its final `closed` state. */
static bool ev_live(const pc_event *e) {
  if (!atomic_load(&e->pc->closed))
    return true;
  uint64_t end = atomic_load(&e->pc->end_seq);
  return end != 0 && e->seq <= end;
}

void weft__pc_seal_events(weft_pc *pc) {
  pc->events_sealed = true;
  atomic_store(&pc->end_seq, pc->ev_seq);
}

/* ---- Delivery ------------------------------------------------------------ */

static void run_candidate(pc_event *e, weft_pc_ice_candidate_fn fn) {
  weft_pc *pc = e->pc;
  if (!e->str) {
    fn(pc, NULL, pc->user_data);
    return;
  }
  weft_ice_candidate c = {e->str, pc->transport_mid, 0, NULL};
  fn(pc, &c, pc->user_data);
}

/* Runs a pc event whose handler may be missing: returns true if held. */
static bool hold_if_unhandled(pc_event *e, GQueue *q, bool have) {
  if (have && g_queue_is_empty(q))
    return false;
  e->kept = true;
  g_queue_push_tail(q, e);
  return true;
}

/* Whether on_track is still to be called for @t: not stopped by the app, and
 * not withdrawn by the remote before the event ran. */
static bool track_announced(weft_track *t) {
  return !atomic_load(&t->stopped_by_app) && !atomic_load(&t->withdrawn);
}

void weft__pc_forget_held_track(weft_pc *pc, weft_track *t) {
  GQueue gone = G_QUEUE_INIT;
  g_mutex_lock(&pc->lock);
  for (GList *l = pc->held_tracks.head; l;) {
    GList *next = l->next;
    pc_event *e = l->data;
    if (e->track == t) {
      g_queue_unlink(&pc->held_tracks, l);
      g_queue_push_tail_link(&gone, l);
    }
    l = next;
  }
  g_mutex_unlock(&pc->lock);
  pc_event *e;
  while ((e = g_queue_pop_head(&gone)))
    ev_destroy(e);
}

static void flush_pc_queue(weft_pc *pc, GQueue *q, ev_kind kind) {
  for (;;) {
    g_mutex_lock(&pc->lock);
    bool have = kind == EV_CANDIDATE      ? pc->h.on_ice_candidate != NULL
                : kind == EV_DATA_CHANNEL ? pc->h.on_data_channel != NULL
                : kind == EV_TRACK        ? pc->h.on_track != NULL
                                          : pc->h.on_error != NULL;
    pc_event *e = have ? g_queue_pop_head(q) : NULL;
    weft__pc_handlers h = pc->h;
    g_mutex_unlock(&pc->lock);
    if (!e)
      return;
    if (!atomic_load(&pc->closed)) {
      if (kind == EV_CANDIDATE)
        run_candidate(e, h.on_ice_candidate);
      else if (kind == EV_DATA_CHANNEL && (!e->dc || !atomic_load(&e->dc->closed_by_app)))
        h.on_data_channel(pc, e->dc, pc->user_data);
      else if (kind == EV_TRACK && track_announced(e->track))
        h.on_track(pc, e->track, pc->user_data);
      else if (kind == EV_PC_ERROR) {
        weft_error_info info = {e->value, e->detail, e->str ? e->str : "", e->cause, e->alert};
        h.on_error(pc, &info, pc->user_data);
      }
    }
    ev_destroy(e);
  }
}

static void run_dc_message(pc_event *e) {
  weft_dc *dc = e->dc;
  /* Keep order: anything held goes first, this one joins the queue. */
  g_mutex_lock(&dc->lock);
  if (!dc->on_message || !g_queue_is_empty(&dc->held_msgs)) {
    /* Held messages keep their share of the pc's receive budget: once it is
     * spent, SCTP stops reading and the remote waits (no message is lost). */
    e->kept = true;
    dc->held_bytes += e->len;
    g_queue_push_tail(&dc->held_msgs, e);
    bool have = dc->on_message != NULL;
    g_mutex_unlock(&dc->lock);
    if (have)
      weft__dc_flush_held(dc);
    return;
  }
  weft_dc_message_fn fn = dc->on_message;
  g_mutex_unlock(&dc->lock);
  fn(dc, e->type, e->data, e->len, dc->user_data);
}

/* Engine thread: queues a media event on its track; over the bound the
 * oldest waiting ones are dropped and counted (a stat, and a log line at most
 * once a second). The first event of an empty queue schedules a drain. */
static void track_enqueue(weft_track *t, weft_pc *pc, pc_event *item) {
  unsigned dropped = 0;
  g_mutex_lock(&t->lock);
  while (t->evq.length && (t->evq.length >= WEFT__TRACK_MAX_EVENTS ||
                           t->evq_bytes + item->len > WEFT__TRACK_MAX_EVENT_BYTES)) {
    pc_event *old = g_queue_pop_head(&t->evq);
    t->evq_bytes -= old->len;
    ev_destroy(old);
    dropped++;
  }
  g_queue_push_tail(&t->evq, item);
  t->evq_bytes += item->len;
  bool schedule = !t->evq_scheduled;
  t->evq_scheduled = true;
  g_mutex_unlock(&t->lock);
  if (dropped) {
    uint64_t total = atomic_fetch_add(&t->events_dropped, dropped) + dropped;
    int64_t now = weft__now_us();
    if (now - t->evq_warned_us >= G_USEC_PER_SEC) {
      t->evq_warned_us = now;
      WLOG_W("media",
             "track %s: the application takes media events too slowly; %" PRIu64
             " dropped so far (oldest first)",
             t->mid ? t->mid : "?", total);
    }
  }
  if (schedule) {
    pc_event *d = ev_new(EV_TRACK_DRAIN, pc, NULL);
    d->track = weft_track_ref(t);
    emit(d);
  }
}

/* Callback thread: runs one media event of @t. */
static void run_media(weft_track *t, pc_event *e) {
  if (atomic_load(&t->stopped_by_app))
    return;
  g_mutex_lock(&t->lock);
  weft_track_packet_fn pfn = e->kind == EV_TRACK_RTP    ? t->on_rtp
                             : e->kind == EV_TRACK_RTCP ? t->on_rtcp
                                                        : NULL;
  weft_track_frame_fn ffn = e->kind == EV_TRACK_FRAME ? t->on_frame : NULL;
  weft_track_event_fn kfn = e->kind == EV_TRACK_KEYFRAME ? t->on_keyframe_request : NULL;
  void *tud = t->user_data;
  g_mutex_unlock(&t->lock);
  if (pfn)
    pfn(t, e->data, e->len, tud);
  if (ffn)
    ffn(t, e->data, e->len, &e->finfo, tud);
  if (kfn)
    kfn(t, tud);
}

/* Callback thread: the drain event runs what waits in the track's queue, at
 * most a queue's worth, then goes to the back of the context's queue if more
 * came meanwhile (fair to other tracks and channels). */
static void run_track_drain(pc_event *d) {
  weft_track *t = d->track;
  for (int i = 0;; i++) {
    g_mutex_lock(&t->lock);
    pc_event *e = NULL;
    if (i < WEFT__TRACK_MAX_EVENTS)
      e = g_queue_pop_head(&t->evq);
    if (e)
      t->evq_bytes -= e->len;
    else if (!t->evq.length)
      t->evq_scheduled = false;
    bool again = !e && t->evq.length;
    g_mutex_unlock(&t->lock);
    if (again) {
      pc_event *n = ev_new(EV_TRACK_DRAIN, d->pc, NULL);
      n->track = weft_track_ref(t);
      n->seq = d->seq; /* the same place in the pc's event order */
      weft__context_emit(d->pc->ctx, &n->base);
    }
    if (!e)
      return;
    if (ev_live(d))
      run_media(t, e);
    ev_destroy(e);
  }
}

void weft__track_drop_events(weft_track *t) {
  g_mutex_lock(&t->lock);
  GQueue q = t->evq;
  g_queue_init(&t->evq);
  t->evq_bytes = 0;
  g_mutex_unlock(&t->lock);
  pc_event *e;
  while ((e = g_queue_pop_head(&q)))
    ev_destroy(e);
}

static bool dc_alive(const pc_event *e) {
  return ev_live(e) && !atomic_load(&e->dc->closed_by_app);
}

static void ev_run(weft__event *base) {
  pc_event *e = (pc_event *)base;
  weft_pc *pc = e->pc;
  if (!ev_live(e))
    return;
  g_mutex_lock(&pc->lock);
  weft__pc_handlers h = pc->h;
  void *ud = pc->user_data;
  bool held = false;
  switch (e->kind) {
  case EV_CONN:
    if (!h.on_connection_state)
      pc->missed |= WEFT__MISSED_CONN;
    break;
  case EV_ICE:
    if (!h.on_ice_state)
      pc->missed |= WEFT__MISSED_ICE;
    break;
  case EV_GATHER:
    if (!h.on_gathering)
      pc->missed |= WEFT__MISSED_GATHER;
    break;
  case EV_SIGNALING:
    if (!h.on_signaling)
      pc->missed |= WEFT__MISSED_SIGNALING;
    break;
  case EV_NEGOTIATION:
    if (!h.on_negotiation_needed)
      pc->missed |= WEFT__MISSED_NEGOTIATION;
    break;
  case EV_CANDIDATE:
    held = hold_if_unhandled(e, &pc->held_candidates, h.on_ice_candidate != NULL);
    break;
  case EV_DATA_CHANNEL:
    held = hold_if_unhandled(e, &pc->held_channels, h.on_data_channel != NULL);
    break;
  case EV_PC_ERROR:
    /* A remote can cause errors without end: only the first few wait for a
     * handler; the rest are counted and dropped. */
    if (!h.on_error && pc->held_errors.length >= WEFT__MAX_HELD_ERRORS) {
      if (pc->dropped_errors++ == 0)
        WLOG_W("pc", "pc %p: %d errors wait for an on_error handler; dropping later ones",
               (void *)pc, WEFT__MAX_HELD_ERRORS);
      held = true; /* not run, freed by the queue */
      break;
    }
    held = hold_if_unhandled(e, &pc->held_errors, h.on_error != NULL);
    break;
  case EV_TRACK:
    if (atomic_load(&e->track->withdrawn)) {
      held = true; /* never announced: freed when this returns */
      break;
    }
    held = hold_if_unhandled(e, &pc->held_tracks, h.on_track != NULL);
    break;
  default:
    break;
  }
  g_mutex_unlock(&pc->lock);
  if (held)
    return;

  switch (e->kind) {
  case EV_CONN:
    if (h.on_connection_state)
      h.on_connection_state(pc, (weft_pc_state)e->value, ud);
    break;
  case EV_ICE:
    if (h.on_ice_state)
      h.on_ice_state(pc, (weft_ice_connection_state)e->value, ud);
    break;
  case EV_GATHER:
    if (h.on_gathering)
      h.on_gathering(pc, (weft_ice_gathering_state)e->value, ud);
    break;
  case EV_SIGNALING:
    if (h.on_signaling)
      h.on_signaling(pc, (weft_signaling_state)e->value, ud);
    break;
  case EV_NEGOTIATION:
    if (h.on_negotiation_needed)
      h.on_negotiation_needed(pc, ud);
    break;
  case EV_CANDIDATE:
    run_candidate(e, h.on_ice_candidate);
    break;
  case EV_DATA_CHANNEL:
    if (!atomic_load(&e->dc->closed_by_app))
      h.on_data_channel(pc, e->dc, ud);
    break;
  case EV_PC_ERROR: {
    weft_error_info info = {e->value, e->detail, e->str ? e->str : "", e->cause, e->alert};
    h.on_error(pc, &info, ud);
    break;
  }
  case EV_PC_FLUSH:
    flush_pc_queue(pc, &pc->held_candidates, EV_CANDIDATE);
    flush_pc_queue(pc, &pc->held_channels, EV_DATA_CHANNEL);
    flush_pc_queue(pc, &pc->held_errors, EV_PC_ERROR);
    flush_pc_queue(pc, &pc->held_tracks, EV_TRACK);
    break;
  case EV_TRACK:
    if (track_announced(e->track))
      h.on_track(pc, e->track, ud);
    break;
  case EV_TRACK_RTP:
  case EV_TRACK_RTCP:
  case EV_TRACK_FRAME:
  case EV_TRACK_KEYFRAME:
    break; /* only ever in a track's queue */
  case EV_TRACK_DRAIN:
    run_track_drain(e);
    break;
  case EV_DC_OPEN:
  case EV_DC_CLOSING:
  case EV_DC_CLOSE:
  case EV_DC_LOW:
  case EV_DC_ERROR: {
    weft_dc *dc = e->dc;
    if (!dc_alive(e))
      break;
    g_mutex_lock(&dc->lock);
    weft_dc_event_fn fn = NULL;
    weft_dc_error_fn efn = NULL;
    if (e->kind == EV_DC_OPEN) {
      fn = dc->on_open;
      dc->open_missed = !fn;
    } else if (e->kind == EV_DC_CLOSING) {
      fn = dc->on_closing;
      dc->closing_missed = !fn;
    } else if (e->kind == EV_DC_CLOSE) {
      fn = dc->on_close;
      dc->close_missed = !fn;
    } else if (e->kind == EV_DC_LOW) {
      fn = dc->on_low;
    } else {
      efn = dc->on_error;
    }
    void *dud = dc->user_data;
    g_mutex_unlock(&dc->lock);
    if (fn)
      fn(dc, dud);
    if (efn) {
      weft_error_info info = {e->value, WEFT_DETAIL_DATA_CHANNEL_FAILURE, e->str ? e->str : "", -1,
                              -1};
      efn(dc, &info, dud);
    }
    break;
  }
  case EV_DC_MESSAGE:
    if (dc_alive(e))
      run_dc_message(e);
    break;
  case EV_DC_FLUSH:
    if (dc_alive(e))
      weft__dc_flush_held(e->dc);
    break;
  }
}

/* ---- Emitters (engine thread) -------------------------------------------- */

#define EMIT_STATE(fn_name, KIND, type)                                                            \
  void fn_name(weft_pc *pc, type s) {                                                              \
    pc_event *e = ev_new(KIND, pc, NULL);                                                          \
    e->value = (int)s;                                                                             \
    emit(e);                                                                                       \
  }
EMIT_STATE(weft__pc_emit_connection_state, EV_CONN, weft_pc_state)
EMIT_STATE(weft__pc_emit_ice_state, EV_ICE, weft_ice_connection_state)
EMIT_STATE(weft__pc_emit_gathering, EV_GATHER, weft_ice_gathering_state)
EMIT_STATE(weft__pc_emit_signaling, EV_SIGNALING, weft_signaling_state)

void weft__pc_emit_negotiation_needed(weft_pc *pc) { emit(ev_new(EV_NEGOTIATION, pc, NULL)); }

void weft__pc_emit_candidate(weft_pc *pc, const char *candidate) {
  pc_event *e = ev_new(EV_CANDIDATE, pc, NULL);
  e->str = g_strdup(candidate);
  emit(e);
}

void weft__pc_emit_data_channel(weft_pc *pc, weft_dc *dc) {
  atomic_fetch_add(&pc->channels_announcing, 1); /* ev_destroy takes it back */
  emit(ev_new(EV_DATA_CHANNEL, pc, dc));
}

void weft__pc_emit_error(weft_pc *pc, int code, weft_error_detail detail, int alert, int cause,
                         const char *message) {
  pc_event *e = ev_new(EV_PC_ERROR, pc, NULL);
  e->value = code;
  e->detail = detail;
  e->alert = alert;
  e->cause = cause;
  e->str = g_strdup(message);
  emit(e);
}

void weft__pc_emit_track(weft_pc *pc, weft_track *t) {
  pc_event *e = ev_new(EV_TRACK, pc, NULL);
  e->track = weft_track_ref(t);
  emit(e);
}

void weft__track_emit_packet(weft_track *t, weft_pc *pc, bool rtcp, const uint8_t *data,
                             size_t len) {
  if (pc->events_sealed)
    return;
  track_enqueue(t, pc, ev_media(rtcp ? EV_TRACK_RTCP : EV_TRACK_RTP, data, len));
}

void weft__track_emit_frame(weft_track *t, weft_pc *pc, const uint8_t *data, size_t len,
                            const weft_frame_info *info) {
  if (pc->events_sealed)
    return;
  pc_event *e = ev_media(EV_TRACK_FRAME, data, len);
  e->finfo = *info;
  track_enqueue(t, pc, e);
}

void weft__track_emit_keyframe_request(weft_track *t, weft_pc *pc) {
  if (pc->events_sealed)
    return;
  track_enqueue(t, pc, ev_media(EV_TRACK_KEYFRAME, NULL, 0));
}

void weft__dc_emit_open(weft_dc *dc, weft_pc *pc) { emit(ev_new(EV_DC_OPEN, pc, dc)); }
void weft__dc_emit_closing(weft_dc *dc, weft_pc *pc) { emit(ev_new(EV_DC_CLOSING, pc, dc)); }
void weft__dc_emit_close(weft_dc *dc, weft_pc *pc) { emit(ev_new(EV_DC_CLOSE, pc, dc)); }
void weft__dc_emit_low(weft_dc *dc, weft_pc *pc) { emit(ev_new(EV_DC_LOW, pc, dc)); }

void weft__dc_emit_error(weft_dc *dc, weft_pc *pc, int code, const char *message) {
  pc_event *e = ev_new(EV_DC_ERROR, pc, dc);
  e->value = code;
  e->str = g_strdup(message);
  emit(e);
}

void weft__dc_emit_message(weft_dc *dc, weft_pc *pc, weft_msg_type type, const uint8_t *data,
                           size_t len, size_t rx_cost) {
  /* One allocation: the event, then the message and a NUL (weft.h: TEXT
   * messages arrive NUL-terminated). */
  pc_event *e = ev_alloc(EV_DC_MESSAGE, pc, dc, len + 1);
  if (len)
    memcpy(e->inline_data, data, len);
  e->inline_data[len] = '\0';
  e->data = e->inline_data;
  e->type = type;
  e->len = len;
  e->rx_cost = rx_cost;
  emit(e);
}

/* ---- Replay (any thread: called by handler setters) ----------------------- */

/* A state handler set after the state left its initial value is told the
 * current one (weft.h rule 4); negotiation-needed is replayed if it fired
 * with no handler. */
void weft__pc_replay(weft_pc *pc, unsigned which) {
  g_mutex_lock(&pc->lock);
  bool negotiation = (pc->missed & which & WEFT__MISSED_NEGOTIATION) != 0;
  pc->missed &= ~which;
  g_mutex_unlock(&pc->lock);
  int conn = atomic_load(&pc->conn_state), ice = atomic_load(&pc->ice_state);
  int gather = atomic_load(&pc->gathering_state), sig = atomic_load(&pc->signaling_state);
  if ((which & WEFT__MISSED_CONN) && conn != WEFT_PC_NEW)
    weft__pc_emit_connection_state(pc, (weft_pc_state)conn);
  if ((which & WEFT__MISSED_ICE) && ice != WEFT_ICE_NEW)
    weft__pc_emit_ice_state(pc, (weft_ice_connection_state)ice);
  if ((which & WEFT__MISSED_GATHER) && gather != WEFT_GATHERING_NEW)
    weft__pc_emit_gathering(pc, (weft_ice_gathering_state)gather);
  if ((which & WEFT__MISSED_SIGNALING) && sig != WEFT_SIGNALING_STABLE)
    weft__pc_emit_signaling(pc, (weft_signaling_state)sig);
  if (negotiation)
    weft__pc_emit_negotiation_needed(pc);
}

void weft__pc_flush_held(weft_pc *pc) { emit(ev_new(EV_PC_FLUSH, pc, NULL)); }

void weft__dc_replay(weft_dc *dc) {
  g_mutex_lock(&dc->lock);
  weft_pc *pc = dc->pc ? weft__pc_hold(dc->pc) : NULL;
  bool open = dc->open_missed && dc->on_open;
  bool closing = dc->closing_missed && dc->on_closing;
  bool close = dc->close_missed && dc->on_close;
  if (open)
    dc->open_missed = false;
  if (closing)
    dc->closing_missed = false;
  if (close)
    dc->close_missed = false;
  bool flush = dc->on_message && !g_queue_is_empty(&dc->held_msgs);
  g_mutex_unlock(&dc->lock);
  if (!pc)
    return;
  if (open)
    weft__dc_emit_open(dc, pc);
  if (flush)
    emit(ev_new(EV_DC_FLUSH, pc, dc));
  if (closing)
    weft__dc_emit_closing(dc, pc);
  if (close)
    weft__dc_emit_close(dc, pc);
  weft__pc_release(pc);
}

/* Delivers held messages in order (callback thread). */
void weft__dc_flush_held(weft_dc *dc) {
  for (;;) {
    g_mutex_lock(&dc->lock);
    weft_dc_message_fn fn = dc->on_message;
    pc_event *e = fn ? g_queue_pop_head(&dc->held_msgs) : NULL;
    if (e)
      dc->held_bytes -= e->len;
    void *ud = dc->user_data;
    g_mutex_unlock(&dc->lock);
    if (!e)
      return;
    if (dc_alive(e))
      fn(dc, e->type, e->data, e->len, ud);
    ev_destroy(e);
  }
}

/* Frees held events of a pc or dc being destroyed. */
void weft__pc_drop_held(weft_pc *pc) {
  GQueue *qs[] = {&pc->held_candidates, &pc->held_channels, &pc->held_errors, &pc->held_tracks};
  for (size_t i = 0; i < G_N_ELEMENTS(qs); i++) {
    pc_event *e;
    g_mutex_lock(&pc->lock);
    GQueue tmp = *qs[i];
    g_queue_init(qs[i]);
    g_mutex_unlock(&pc->lock);
    while ((e = g_queue_pop_head(&tmp)))
      ev_destroy(e);
  }
}

void weft__dc_drop_held(weft_dc *dc) {
  g_mutex_lock(&dc->lock);
  GQueue tmp = dc->held_msgs;
  g_queue_init(&dc->held_msgs);
  dc->held_bytes = 0;
  g_mutex_unlock(&dc->lock);
  pc_event *e;
  while ((e = g_queue_pop_head(&tmp)))
    ev_destroy(e);
}
