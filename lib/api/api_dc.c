/*
 * Public data-channel functions. A weft_dc points at its pc weakly: once the
 * pc is freed the dc is closed and inert (weft.h ownership rules), so every
 * call first takes a memory hold on the pc under the dc's lock.
 *
 * Sends from application threads are copied into the pc's send queue and
 * handed to SCTP on the engine thread, which is woken once per batch
 * (DESIGN §3); on the engine thread itself they go straight to SCTP.
 */
#include <string.h>

#include "datachannel/dcep.h"
#include "pc/pc.h"

#define CHECK_DC(dc)                                                                               \
  do {                                                                                             \
    if (!(dc))                                                                                     \
      return weft__error(WEFT_ERR_INVALID_ARG, "%s: dc is NULL", __func__);                        \
  } while (0)

/* A memory hold on the dc's pc if it still exists (NULL once freed). The
 * count can only rise from a live value: the pc detaches its channels under
 * their locks before its memory goes. */
static weft_pc *dc_pc_hold(weft_dc *dc) {
  g_mutex_lock(&dc->lock);
  weft_pc *pc = dc->pc;
  if (pc)
    weft__pc_hold(pc);
  g_mutex_unlock(&dc->lock);
  return pc;
}

weft_dc *weft__dc_new(const char *label, const weft_dc_init *init) {
  weft_dc *dc = g_new0(weft_dc, 1);
  weft__ref_init(&dc->refs);
  g_mutex_init(&dc->lock);
  g_queue_init(&dc->held_msgs);
  dc->label = g_strdup(label ? label : "");
  dc->protocol = g_strdup(init->protocol ? init->protocol : "");
  dc->ordered = init->ordered != 0;
  dc->negotiated = init->negotiated != 0;
  dc->max_retransmits = init->max_retransmits;
  dc->max_packet_life_time = init->max_packet_life_time;
  dc->priority = init->priority;
  atomic_init(&dc->id, dc->negotiated ? init->id : -1);
  atomic_init(&dc->state, WEFT_DC_CONNECTING);
  weft__live_inc();
  return dc;
}

void weft__dc_detach(weft_dc *dc) {
  g_mutex_lock(&dc->lock);
  dc->pc = NULL;
  g_mutex_unlock(&dc->lock);
  atomic_store(&dc->state, WEFT_DC_CLOSED);
  weft__dc_drop_held(dc);
}

weft_dc *weft_dc_ref(weft_dc *dc) {
  if (dc)
    weft__ref_inc(&dc->refs);
  return dc;
}

void weft_dc_unref(weft_dc *dc) {
  if (!dc || !weft__ref_dec(&dc->refs))
    return;
  weft__dc_drop_held(dc);
  if (dc->user_destroy)
    dc->user_destroy(dc->user_data);
  g_free(dc->label);
  g_free(dc->protocol);
  g_mutex_clear(&dc->lock);
  g_free(dc);
  weft__live_dec();
}

/* ---- Creation --------------------------------------------------------------- */

typedef struct {
  weft_pc *pc;
  weft_dc *dc;
  int rc;
} add_call;

static void add_cb(void *p) {
  add_call *c = p;
  c->rc = weft__pc_engine_add_channel(c->pc, c->dc);
}

weft_dc *weft_pc_create_data_channel(weft_pc *pc, const char *label, const weft_dc_init *init) {
  weft_dc_init in = WEFT_DC_INIT;
  if (!pc) {
    weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_create_data_channel: pc is NULL");
    return NULL;
  }
  if (init) {
    if (init->struct_size < offsetof(weft_dc_init, max_retransmits)) {
      weft__error(WEFT_ERR_INVALID_ARG, "weft_dc_init.struct_size is %u",
                  (unsigned)init->struct_size);
      return NULL;
    }
    size_t n = init->struct_size < sizeof in ? init->struct_size : sizeof in;
    memcpy(&in, init, n);
  }
  if (!label)
    label = "";
  if (strlen(label) > 65535 || (in.protocol && strlen(in.protocol) > 65535)) {
    weft__error(WEFT_ERR_INVALID_ARG, "data channel label or protocol longer than 65535 bytes");
    return NULL;
  }
  if (in.max_retransmits >= 0 && in.max_packet_life_time >= 0) {
    weft__error(WEFT_ERR_INVALID_ARG,
                "max_retransmits and max_packet_life_time cannot both be set (W3C)");
    return NULL;
  }
  if (in.max_retransmits < -1 || in.max_packet_life_time < -1) {
    weft__error(WEFT_ERR_INVALID_ARG, "negative reliability parameter");
    return NULL;
  }
  if (in.negotiated) {
    if (in.id < 0) {
      weft__error(WEFT_ERR_INVALID_ARG, "a negotiated data channel needs an id");
      return NULL;
    }
    if (in.id > 1023) {
      weft__error(WEFT_ERR_RANGE, "data channel id %d is out of range (0..1023)", (int)in.id);
      return NULL;
    }
  }
  if ((int)in.priority < WEFT_PRIORITY_VERY_LOW || in.priority > WEFT_PRIORITY_HIGH) {
    weft__error(WEFT_ERR_INVALID_ARG, "unknown priority %d", (int)in.priority);
    return NULL;
  }
  if (atomic_load(&pc->closed)) {
    weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
    return NULL;
  }
  weft_dc *dc = weft__dc_new(label, &in);
  add_call c = {pc, dc, WEFT_OK};
  int rc = weft__context_invoke_sync(pc->ctx, add_cb, &c);
  if (rc < 0 || c.rc < 0) {
    weft_dc_unref(dc);
    return NULL;
  }
  weft__error_clear();
  return dc; /* the caller's reference; the pc holds its own */
}

/* ---- Close ------------------------------------------------------------------ */

typedef struct {
  weft_pc *pc;
  weft_dc *dc;
} close_call;

static void close_cb(void *p) {
  close_call *c = p;
  if (atomic_load(&c->pc->closed))
    return;
  /* W3C close(): messages whose send already returned OK go out first. */
  weft__pc_engine_drain_sendq(c->pc, SIZE_MAX);
  weft__dc_engine_close(c->dc, c->pc);
}

int weft_dc_close(weft_dc *dc) {
  CHECK_DC(dc);
  atomic_store(&dc->closed_by_app, true);
  weft_pc *pc = dc_pc_hold(dc);
  if (pc) {
    close_call c = {pc, dc};
    weft__context_invoke_sync(pc->ctx, close_cb, &c);
    /* Rule 3: a callback of this channel may have checked closed_by_app
     * before it was set and still be running on the callback thread. Its
     * events belong to the pc: wait until none runs elsewhere. (Without a
     * pc no event of the channel exists: each holds its pc's memory.) */
    weft__context_wait_idle(pc->ctx, pc);
    weft__pc_release(pc);
  }
  weft__dc_drop_held(dc);
  weft__error_clear();
  return WEFT_OK;
}

/* ---- User data and handlers ---------------------------------------------------- */

int weft_dc_set_user_data(weft_dc *dc, void *user_data, void (*destroy)(void *)) {
  CHECK_DC(dc);
  weft__user_data_set(&dc->lock, &dc->user_data, &dc->user_destroy, user_data, destroy);
  weft__error_clear();
  return WEFT_OK;
}

void *weft_dc_get_user_data(const weft_dc *dc) {
  if (!dc)
    return NULL;
  return weft__user_data_get((GMutex *)&dc->lock, &dc->user_data);
}

/* The replay emits events, numbered in the pc's engine-only event sequence:
 * it runs on the engine (posted: a setter does not wait). */
static void dc_replay_on_engine(void *p) { weft__dc_replay(p); }
static void dc_replay_free(void *p) { weft_dc_unref(p); }

static void post_dc_replay(weft_dc *dc) {
  weft_pc *pc = dc_pc_hold(dc);
  if (!pc)
    return; /* inert: nothing to replay */
  weft__context_post(pc->ctx, dc_replay_on_engine, weft_dc_ref(dc), dc_replay_free);
  weft__pc_release(pc);
}

#define DC_SETTER(name, field, type)                                                               \
  int name(weft_dc *dc, type fn) {                                                                 \
    CHECK_DC(dc);                                                                                  \
    g_mutex_lock(&dc->lock);                                                                       \
    dc->field = fn;                                                                                \
    g_mutex_unlock(&dc->lock);                                                                     \
    if (fn)                                                                                        \
      post_dc_replay(dc);                                                                          \
    weft__error_clear();                                                                           \
    return WEFT_OK;                                                                                \
  }
DC_SETTER(weft_dc_set_on_open, on_open, weft_dc_event_fn)
DC_SETTER(weft_dc_set_on_message, on_message, weft_dc_message_fn)
DC_SETTER(weft_dc_set_on_closing, on_closing, weft_dc_event_fn)
DC_SETTER(weft_dc_set_on_close, on_close, weft_dc_event_fn)
DC_SETTER(weft_dc_set_on_error, on_error, weft_dc_error_fn)
DC_SETTER(weft_dc_set_on_buffered_amount_low, on_low, weft_dc_event_fn)

/* ---- Sending ---------------------------------------------------------------- */

static void release_pc(void *p) { weft__pc_release(p); }
static void drain_cb(void *p) { weft__pc_engine_drain_sendq(p, WEFT__DRAIN_BYTES_PER_TURN); }

static uint32_t ppid_for(weft_msg_type type, size_t len) {
  if (type == WEFT_MSG_TEXT)
    return len ? WEFT__PPID_STRING : WEFT__PPID_STRING_EMPTY;
  return len ? WEFT__PPID_BINARY : WEFT__PPID_BINARY_EMPTY;
}

/* Checks everything a send can be refused for, on any thread. */
static int check_send(weft_dc *dc, weft_pc *pc, size_t size) {
  if (!pc || atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "the peer connection of '%s' is closed", dc->label);
  weft_dc_state st = (weft_dc_state)atomic_load(&dc->state);
  if (st != WEFT_DC_OPEN || atomic_load(&dc->closed_by_app))
    return weft__error(WEFT_ERR_INVALID_STATE, "data channel '%s' is %s, not open", dc->label,
                       weft_dc_state_to_string(st));
  /* remote_max_message_size is written once, before any channel opens. */
  size_t mms = pc->remote_max_message_size;
  if (mms && size > mms)
    return weft__error(WEFT_ERR_TOO_BIG,
                       "message of %zu bytes is larger than the remote's max-message-size %zu",
                       size, mms);
  size_t limit = pc->cfg.send_buffer_limit;
  /* It could never fit: waiting for buffered-amount-low would be forever. */
  if (size > limit)
    return weft__error(WEFT_ERR_TOO_BIG,
                       "message of %zu bytes is larger than the send-buffer limit %zu", size,
                       limit);
  size_t buffered = atomic_load(&dc->buffered);
  if (buffered + size > limit && buffered > 0) {
    /* Promise a buffered-amount-low once this message fits, whatever the
     * threshold (weft.h). Armed before re-reading bufferedAmount: either we
     * see the engine's drain here, or the engine sees the flag (both are
     * sequentially consistent atomics), so the wake-up cannot be lost. */
    atomic_store(&dc->wake_at, size <= limit ? limit - size : 0);
    atomic_store(&dc->wake_armed, true);
    buffered = atomic_load(&dc->buffered);
    if (buffered + size <= limit || buffered == 0)
      return WEFT_OK; /* drained meanwhile; a spurious low event is harmless */
    return weft__error(WEFT_ERR_AGAIN,
                       "bufferedAmount %zu + %zu would exceed the send-buffer limit %zu; wait "
                       "for buffered-amount-low",
                       buffered, size, limit);
  }
  return WEFT_OK;
}

/* Takes ownership of @data (g_malloc'd). */
static int queue_send(weft_dc *dc, weft_pc *pc, uint32_t ppid, uint8_t *data, size_t len) {
  atomic_fetch_add(&dc->buffered, len);
  if (weft__context_on_engine(pc->ctx)) {
    g_mutex_lock(&pc->sendq_lock);
    bool empty = g_queue_is_empty(&pc->sendq);
    g_mutex_unlock(&pc->sendq_lock);
    if (empty) /* nothing queued ahead of it: keep order, skip the hop */
      return weft__dc_engine_send(pc, dc, ppid, data, len);
  }
  weft__send_item *it = g_new(weft__send_item, 1);
  it->dc = weft_dc_ref(dc);
  it->ppid = ppid;
  it->data = data;
  it->len = len;
  g_mutex_lock(&pc->sendq_lock);
  g_queue_push_tail(&pc->sendq, it);
  bool schedule = !pc->sendq_scheduled;
  pc->sendq_scheduled = true;
  g_mutex_unlock(&pc->sendq_lock);
  if (schedule)
    weft__context_post(pc->ctx, drain_cb, weft__pc_hold(pc), release_pc);
  return WEFT_OK;
}

static int send_common(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                       uint8_t *owned, void (*free_fn)(void *)) {
  weft_pc *pc = dc_pc_hold(dc);
  int rc = check_send(dc, pc, size);
  if (rc == WEFT_OK) {
    uint8_t *buf;
    if (owned && free_fn == g_free) { /* already ours to keep: no copy */
      buf = owned;
      owned = NULL;
    } else {
      buf = g_malloc(size ? size : 1);
      if (size)
        memcpy(buf, data, size);
    }
    rc = queue_send(dc, pc, ppid_for(type, size), buf, size);
    if (rc == WEFT_OK)
      weft__error_clear();
  }
  if (owned && free_fn)
    free_fn(owned);
  if (pc)
    weft__pc_release(pc);
  return rc;
}

int weft_dc_send(weft_dc *dc, const void *data, size_t size) {
  CHECK_DC(dc);
  if (!data && size)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_dc_send: data is NULL");
  return send_common(dc, WEFT_MSG_BINARY, data, size, NULL, NULL);
}

int weft_dc_send_text(weft_dc *dc, const char *utf8, size_t size) {
  CHECK_DC(dc);
  if (!utf8 && size)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_dc_send_text: utf8 is NULL");
  if (!weft__utf8_valid(utf8, size))
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_dc_send_text: the text is not valid UTF-8");
  return send_common(dc, WEFT_MSG_TEXT, utf8, size, NULL, NULL);
}

int weft_dc_send_owned(weft_dc *dc, weft_msg_type type, void *data, size_t size,
                       void (*free_fn)(void *)) {
  int rc;
  if (!dc)
    rc = weft__error(WEFT_ERR_INVALID_ARG, "weft_dc_send_owned: dc is NULL");
  else if (!data && size)
    rc = weft__error(WEFT_ERR_INVALID_ARG, "weft_dc_send_owned: data is NULL");
  else if (type != WEFT_MSG_BINARY && type != WEFT_MSG_TEXT)
    rc = weft__error(WEFT_ERR_INVALID_ARG, "unknown message type %d", (int)type);
  else if (type == WEFT_MSG_TEXT && !weft__utf8_valid(data, size))
    rc = weft__error(WEFT_ERR_INVALID_ARG, "weft_dc_send_owned: the text is not valid UTF-8");
  else
    return send_common(dc, type, data, size, data, free_fn);
  if (data && free_fn)
    free_fn(data);
  return rc;
}

/* ---- Getters ---------------------------------------------------------------- */

const char *weft_dc_get_label(const weft_dc *dc) { return dc ? dc->label : ""; }
const char *weft_dc_get_protocol(const weft_dc *dc) { return dc ? dc->protocol : ""; }
int32_t weft_dc_get_id(const weft_dc *dc) { return dc ? atomic_load(&dc->id) : -1; }
int weft_dc_get_ordered(const weft_dc *dc) { return dc ? dc->ordered : 1; }
int weft_dc_get_negotiated(const weft_dc *dc) { return dc ? dc->negotiated : 0; }
int32_t weft_dc_get_max_retransmits(const weft_dc *dc) { return dc ? dc->max_retransmits : -1; }
int32_t weft_dc_get_max_packet_life_time(const weft_dc *dc) {
  return dc ? dc->max_packet_life_time : -1;
}
weft_dc_state weft_dc_get_ready_state(const weft_dc *dc) {
  return dc ? (weft_dc_state)atomic_load(&dc->state) : WEFT_DC_CLOSED;
}
size_t weft_dc_get_buffered_amount(const weft_dc *dc) {
  return dc ? atomic_load(&dc->buffered) : 0;
}
size_t weft_dc_get_buffered_amount_low_threshold(const weft_dc *dc) {
  return dc ? atomic_load(&dc->low_threshold) : 0;
}
int weft_dc_set_buffered_amount_low_threshold(weft_dc *dc, size_t bytes) {
  CHECK_DC(dc);
  atomic_store(&dc->low_threshold, bytes);
  weft__error_clear();
  return WEFT_OK;
}
