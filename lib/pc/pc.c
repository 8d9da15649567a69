/*
 * The peer-connection engine. Everything here runs on the context's engine
 * thread (api/ marshals calls onto it); the layers below call back into it
 * on the same thread.
 *
 *   ice/ --(on_recv)--> demux --DTLS 20..63--> dtls/ --(on_data)--> sctp/ --> data channels
 *
 * Roles (DESIGN §4, RFC 8842 §5): offers carry a=setup:actpass; weft answers
 * a=setup:active (DTLS client) unless the offer said active. The offerer is
 * ICE-controlling (RFC 8445 §6.1.1). DCEP stream ids: DTLS client even,
 * server odd (RFC 8832 §6).
 */
#include <stdlib.h>
#include <string.h>

#include "datachannel/dcep.h"
#include "demux/demux.h"
#include "pc/ice_restart.h"
#include "pc/pc.h"

#define WEFT__SCTP_PORT 5000
#define WEFT__MAX_STREAMS 1024
/* RFC 8841 §6.1: no a=max-message-size means 64 KiB. */
#define WEFT__DEFAULT_REMOTE_MMS 65536

static void update_connection_state(weft_pc *pc);
static void maybe_start_dtls(weft_pc *pc);
static void open_pending_channels(weft_pc *pc);

/* ---- References ---------------------------------------------------------- */

weft_pc *weft__pc_hold(weft_pc *pc) {
  weft__ref_inc(&pc->refs);
  return pc;
}

void weft__pc_release(weft_pc *pc) {
  if (pc && weft__ref_dec(&pc->refs))
    weft__pc_free(pc);
}

void weft__user_data_set(GMutex *lock, void **slot, void (**destroy_slot)(void *), void *ud,
                         void (*destroy)(void *)) {
  g_mutex_lock(lock);
  void *old = *slot;
  void (*old_destroy)(void *) = *destroy_slot;
  *slot = ud;
  *destroy_slot = destroy;
  g_mutex_unlock(lock);
  if (old_destroy && old != ud)
    old_destroy(old);
}

void *weft__user_data_get(GMutex *lock, void *const *slot) {
  g_mutex_lock(lock);
  void *ud = *slot;
  g_mutex_unlock(lock);
  return ud;
}

/* ---- Config -------------------------------------------------------------- */

void weft__config_init_defaults(weft_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->servers = g_array_new(FALSE, TRUE, sizeof(weft__ice_server));
  cfg->max_message_size = 262144;
  cfg->send_buffer_limit = 16u * 1024 * 1024;
  cfg->receive_buffer_limit = WEFT__DEFAULT_RECEIVE_BUFFER_LIMIT;
  cfg->certificate_reuse = true;
}

void weft__config_copy_into(weft_config *dst, const weft_config *src) {
  GArray *servers = dst->servers;
  *dst = *src;
  dst->servers = servers;
  g_array_set_size(dst->servers, 0);
  for (guint i = 0; i < src->servers->len; i++) {
    const weft__ice_server *s = &g_array_index(src->servers, weft__ice_server, i);
    weft__ice_server c = *s;
    c.host = g_strdup(s->host);
    c.username = g_strdup(s->username);
    c.credential = g_strdup(s->credential);
    g_array_append_val(dst->servers, c);
  }
}

void weft__config_clear(weft_config *cfg) {
  if (!cfg->servers)
    return;
  for (guint i = 0; i < cfg->servers->len; i++)
    weft__ice_server_clear(&g_array_index(cfg->servers, weft__ice_server, i));
  g_array_free(cfg->servers, TRUE);
  cfg->servers = NULL;
}

/* ---- State helpers ------------------------------------------------------- */

static void set_signaling(weft_pc *pc, weft_signaling_state s) {
  if (atomic_exchange(&pc->signaling_state, (int)s) != (int)s)
    weft__pc_emit_signaling(pc, s);
}

static void set_gathering(weft_pc *pc, weft_ice_gathering_state s) {
  if (atomic_exchange(&pc->gathering_state, (int)s) != (int)s)
    weft__pc_emit_gathering(pc, s);
}

static void fail_pc(weft_pc *pc, int code, weft_error_detail detail, int alert,
                    const char *message) {
  WLOG_W("pc", "%s", message);
  weft__pc_emit_error(pc, code, detail, alert, -1, message);
  update_connection_state(pc);
}

static void update_connection_state(weft_pc *pc) {
  if (atomic_load(&pc->closed) || pc->events_sealed)
    return;
  weft_ice_connection_state ice = (weft_ice_connection_state)atomic_load(&pc->ice_state);
  weft_pc_state s;
  if (ice == WEFT_ICE_FAILED || pc->dtls_failed)
    s = WEFT_PC_FAILED;
  else if (ice == WEFT_ICE_DISCONNECTED)
    s = WEFT_PC_DISCONNECTED;
  else if ((ice == WEFT_ICE_CONNECTED || ice == WEFT_ICE_COMPLETED) && pc->dtls_connected)
    s = WEFT_PC_CONNECTED;
  else if (ice == WEFT_ICE_CHECKING || ice == WEFT_ICE_CONNECTED || ice == WEFT_ICE_COMPLETED)
    s = WEFT_PC_CONNECTING;
  else
    s = WEFT_PC_NEW;
  if (atomic_exchange(&pc->conn_state, (int)s) != (int)s) {
    WLOG_I("pc", "pc %p: connection state %s (%.1f ms)", (void *)pc, weft_pc_state_to_string(s),
           (double)(weft__now_us() - pc->created_us) / 1000.0);
    weft__pc_emit_connection_state(pc, s);
  }
}

/* ---- Data channels (engine) ---------------------------------------------- */

static weft_dc *channel_by_stream(weft_pc *pc, uint16_t stream) {
  return g_hash_table_lookup(pc->channels_by_stream, GUINT_TO_POINTER((guint)stream));
}

static void register_channel(weft_pc *pc, weft_dc *dc, uint16_t id) {
  atomic_store(&dc->id, (int)id);
  g_hash_table_insert(pc->channels_by_stream, GUINT_TO_POINTER((guint)id), weft_dc_ref(dc));
}

static int allocate_stream_id(weft_pc *pc) {
  /* RFC 8832 §6: the DTLS client uses even ids, the server odd ones. */
  for (int id = pc->dtls_is_client ? 0 : 1; id < WEFT__MAX_STREAMS; id += 2)
    if (!channel_by_stream(pc, (uint16_t)id))
      return id;
  return -1;
}

static void set_dc_state(weft_dc *dc, weft_dc_state s) { atomic_store(&dc->state, (int)s); }

static void dc_mark_open(weft_pc *pc, weft_dc *dc) {
  if (atomic_load(&dc->state) != WEFT_DC_CONNECTING)
    return;
  set_dc_state(dc, WEFT_DC_OPEN);
  WLOG_D("dc", "channel '%s' (id %d) open", dc->label, atomic_load(&dc->id));
  weft__dc_emit_open(dc, pc);
}

/* A remote that opens and resets channels in a loop must not make the pc
 * remember every channel: beyond WEFT__MAX_CLOSED_CHANNELS closed ones, the
 * oldest half is let go (detached: inert, as after weft_pc_close). */
static void prune_closed_channels(weft_pc *pc) {
  if (pc->closed_channels <= WEFT__MAX_CLOSED_CHANNELS)
    return;
  guint keep = WEFT__MAX_CLOSED_CHANNELS / 2;
  for (guint i = 0; i < pc->channels_all->len && pc->closed_channels > keep;) {
    weft_dc *dc = pc->channels_all->pdata[i];
    if (atomic_load(&dc->state) != WEFT_DC_CLOSED) {
      i++;
      continue;
    }
    weft__dc_detach(dc);
    g_ptr_array_remove_index(pc->channels_all, i); /* drops the array's reference */
    pc->closed_channels--;
  }
}

static void dc_finish_close(weft_pc *pc, weft_dc *dc) {
  if (atomic_load(&dc->state) == WEFT_DC_CLOSED)
    return;
  set_dc_state(dc, WEFT_DC_CLOSED);
  int id = atomic_load(&dc->id);
  if (id >= 0 && channel_by_stream(pc, (uint16_t)id) == dc)
    g_hash_table_remove(pc->channels_by_stream, GUINT_TO_POINTER((guint)id));
  g_ptr_array_remove(pc->channels_pending, dc);
  weft__dc_emit_close(dc, pc);
  pc->closed_channels++;
  prune_closed_channels(pc); /* may drop @dc from channels_all */
}

static weft__sctp_send_opts dc_send_opts(const weft_dc *dc) {
  weft__sctp_send_opts o = {!dc->ordered, dc->max_retransmits, dc->max_packet_life_time};
  return o;
}

static void send_dcep_open(weft_pc *pc, weft_dc *dc) {
  weft__dcep_open o = {0};
  weft__dcep_type_from_init(dc->ordered, dc->max_retransmits, dc->max_packet_life_time,
                            &o.channel_type, &o.reliability);
  o.priority = weft__dcep_priority_value((int)dc->priority);
  o.label = dc->label;
  o.label_len = (uint16_t)strlen(dc->label);
  o.protocol = dc->protocol;
  o.protocol_len = (uint16_t)strlen(dc->protocol);
  uint8_t *buf = NULL;
  size_t len = 0;
  if (weft__dcep_build_open(&o, &buf, &len) < 0) {
    weft__dc_emit_error(dc, pc, WEFT_ERR_INTERNAL, weft_last_error_message());
    return;
  }
  /* RFC 8832 §6: the OPEN goes out reliable and ordered. */
  weft__sctp_send_opts ro = {false, -1, -1};
  int rc = weft__sctp_send_owned(pc->sctp, (uint16_t)atomic_load(&dc->id), WEFT__PPID_DCEP, buf,
                                 len, &ro);
  if (rc < 0) {
    weft__dc_emit_error(dc, pc, rc, weft_last_error_message());
    return;
  }
  dc->open_sent = true;
}

/* Gives a channel its stream id and starts opening it, once SCTP is up. */
static void activate_channel(weft_pc *pc, weft_dc *dc) {
  if (atomic_load(&dc->state) != WEFT_DC_CONNECTING)
    return;
  if (dc->negotiated) {
    dc_mark_open(pc, dc);
    return;
  }
  if (atomic_load(&dc->id) < 0) {
    int id = allocate_stream_id(pc);
    if (id < 0) {
      weft__dc_emit_error(dc, pc, WEFT_ERR_OPERATION, "no free SCTP stream id");
      set_dc_state(dc, WEFT_DC_CLOSED);
      weft__dc_emit_close(dc, pc);
      return;
    }
    register_channel(pc, dc, (uint16_t)id);
  }
  send_dcep_open(pc, dc);
}

static void open_pending_channels(weft_pc *pc) {
  GPtrArray *pending = pc->channels_pending;
  pc->channels_pending = g_ptr_array_new();
  for (guint i = 0; i < pending->len; i++)
    activate_channel(pc, pending->pdata[i]);
  g_ptr_array_free(pending, TRUE);
}

int weft__pc_engine_add_channel(weft_pc *pc, weft_dc *dc) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  int id = atomic_load(&dc->id);
  if (dc->negotiated) {
    if (channel_by_stream(pc, (uint16_t)id))
      return weft__error(WEFT_ERR_OPERATION, "data channel id %d is already in use", id);
    register_channel(pc, dc, (uint16_t)id);
  }
  g_mutex_lock(&dc->lock);
  dc->pc = pc;
  g_mutex_unlock(&dc->lock);
  g_ptr_array_add(pc->channels_all, weft_dc_ref(dc));
  if (pc->sctp_connected)
    activate_channel(pc, dc);
  else
    g_ptr_array_add(pc->channels_pending, dc);
  /* W3C createDataChannel: the first channel needs negotiation. */
  if (pc->data_mline < 0)
    weft__pc_need_negotiation(pc);
  return WEFT_OK;
}

void weft__pc_need_negotiation(weft_pc *pc) {
  if (pc->negotiation_needed)
    return;
  pc->negotiation_needed = true;
  if (atomic_load(&pc->signaling_state) == WEFT_SIGNALING_STABLE)
    weft__pc_emit_negotiation_needed(pc);
}

/* Refreshes dc->buffered after the sctp FIFO amount for its stream changed
 * by @delta_engine, and @handed bytes left weft's app queue. */
static void dc_account(weft_pc *pc, weft_dc *dc, size_t sctp_amount, size_t handed) {
  /* App threads add to dc->buffered concurrently: apply only the delta,
   * atomically, and derive before/after from the value it replaced. */
  size_t add = sctp_amount, sub = handed + dc->engine_buffered;
  dc->engine_buffered = sctp_amount;
  size_t before;
  if (add >= sub)
    before = atomic_fetch_add(&dc->buffered, add - sub);
  else
    before = atomic_fetch_sub(&dc->buffered, sub - add);
  size_t after = before + add - sub;
  size_t thr = atomic_load(&dc->low_threshold);
  bool fire = before > thr && after <= thr;
  if (after < before && atomic_load(&dc->wake_armed) && after <= atomic_load(&dc->wake_at)) {
    atomic_store(&dc->wake_armed, false);
    fire = true;
  }
  if (fire)
    weft__dc_emit_low(dc, pc);
}

int weft__dc_engine_send(weft_pc *pc, weft_dc *dc, uint32_t ppid, uint8_t *data, size_t len) {
  int id = atomic_load(&dc->id);
  if (atomic_load(&dc->state) != WEFT_DC_OPEN || !pc->sctp || id < 0) {
    g_free(data);
    return weft__error(WEFT_ERR_INVALID_STATE, "data channel '%s' is not open", dc->label);
  }
  weft__sctp_send_opts o = dc_send_opts(dc);
  int rc = weft__sctp_send_owned(pc->sctp, (uint16_t)id, ppid, data, len, &o);
  dc_account(pc, dc, weft__sctp_buffered_amount(pc->sctp, (uint16_t)id), len);
  return rc;
}

static void drain_again(void *p) { weft__pc_engine_drain_sendq(p, WEFT__DRAIN_BYTES_PER_TURN); }
static void drain_release(void *p) { weft__pc_release(p); }

void weft__pc_engine_drain_sendq(weft_pc *pc, size_t max_bytes) {
  /* One turn of the engine hands at most @max_bytes of the application's
   * queued sends to SCTP (at least one message): 16 MiB of
   * sends queued at once cost 50-100 ms of copying under a sanitizer, during
   * which every other connection of the context waited. The rest goes on in
   * the next turn. A closed pc discards everything at once. */
  size_t budget = max_bytes;
  for (;;) {
    bool closed = atomic_load(&pc->closed);
    g_mutex_lock(&pc->sendq_lock);
    weft__send_item *it = NULL;
    bool more = !g_queue_is_empty(&pc->sendq);
    if (more && (closed || budget > 0))
      it = g_queue_pop_head(&pc->sendq);
    if (!more)
      pc->sendq_scheduled = false; /* the next send posts a new turn */
    g_mutex_unlock(&pc->sendq_lock);
    if (!it) {
      if (more) /* still scheduled: the next turn is ours to post */
        weft__context_post(pc->ctx, drain_again, weft__pc_hold(pc), drain_release);
      return;
    }
    budget -= MIN(budget, it->len);
    if (closed)
      g_free(it->data);
    else if (weft__dc_engine_send(pc, it->dc, it->ppid, it->data, it->len) < 0)
      WLOG_D("dc", "queued send on '%s' failed: %s", it->dc->label, weft_last_error_message());
    weft_dc_unref(it->dc);
    g_free(it);
  }
}

void weft__dc_engine_close(weft_dc *dc, weft_pc *pc) {
  weft__dc_drop_held(dc);
  weft_dc_state st = (weft_dc_state)atomic_load(&dc->state);
  if (st == WEFT_DC_CLOSED || st == WEFT_DC_CLOSING)
    return;
  int id = atomic_load(&dc->id);
  if (!pc->sctp_connected || id < 0 || channel_by_stream(pc, (uint16_t)id) != dc) {
    dc_finish_close(pc, dc);
    return;
  }
  /* RFC 8831 §6.7: closing is an outgoing stream reset; the remote answers
   * with its own reset, and the channel is closed once both are done. */
  set_dc_state(dc, WEFT_DC_CLOSING);
  dc->reset_out_requested = true;
  if (weft__sctp_reset_stream(pc->sctp, (uint16_t)id) < 0)
    dc_finish_close(pc, dc);
}

/* ---- DCEP (RFC 8832) ------------------------------------------------------ */

/* Something the remote did wrong on a data channel (bad DCEP, a refused
 * OPEN): a warning and an on_error, through the pc's limiter, since a remote
 * can do it in a loop (the events would pile up for a slow application). */
static void remote_fault(weft_pc *pc, int code, const char *fmt, ...) WEFT__PRINTF(3, 4);
static void remote_fault(weft_pc *pc, int code, const char *fmt, ...) {
  uint64_t suppressed = 0;
  if (!weft__ratelimit_allow(&pc->remote_rl, weft__now_us(), &suppressed))
    return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  if (suppressed) {
    char *m = g_strdup_printf("%s (%" G_GUINT64_FORMAT " similar suppressed)", msg, suppressed);
    g_free(msg);
    msg = m;
  }
  WLOG_W("dc", "%s", msg);
  weft__pc_emit_error(pc, code, WEFT_DETAIL_DATA_CHANNEL_FAILURE, -1, -1, msg);
  g_free(msg);
}

static void handle_dcep(weft_pc *pc, uint16_t stream, const uint8_t *data, size_t len) {
  uint8_t type = 0;
  weft__dcep_open o;
  if (weft__dcep_parse(data, len, &type, &o) < 0) {
    remote_fault(pc, WEFT_ERR_SYNTAX, "DCEP message on stream %u rejected: %s", stream,
                 weft_last_error_message());
    /* A refused OPEN on a free stream: reset it, so the remote's channel
     * closes instead of waiting for an ACK that never comes. */
    if (len > 0 && data[0] == WEFT__DCEP_OPEN && !channel_by_stream(pc, stream))
      weft__sctp_reset_stream(pc->sctp, stream);
    return;
  }
  weft_dc *dc = channel_by_stream(pc, stream);
  if (type == WEFT__DCEP_ACK) {
    if (dc && dc->open_sent)
      dc_mark_open(pc, dc);
    else
      weft__log_limited(&pc->remote_rl, WEFT_LOG_WARNING, "dc",
                        "DCEP ACK on stream %u with no channel waiting for it", stream);
    return;
  }
  /* DATA_CHANNEL_OPEN */
  if (dc) {
    weft__log_limited(&pc->remote_rl, WEFT_LOG_WARNING, "dc",
                      "DCEP OPEN on stream %u, which is already in use: ignored", stream);
    return;
  }
  if (o.label_len > WEFT__MAX_LABEL_BYTES || o.protocol_len > WEFT__MAX_LABEL_BYTES) {
    remote_fault(pc, WEFT_ERR_TOO_BIG,
                 "DCEP OPEN on stream %u refused: label of %u or protocol of %u bytes (at most "
                 "%d each)",
                 stream, o.label_len, o.protocol_len, WEFT__MAX_LABEL_BYTES);
    weft__sctp_reset_stream(pc->sctp, stream);
    return;
  }
  /* A remote that opens (and resets) channels faster than the application
   * takes on_data_channel would queue events without end. */
  if (atomic_load(&pc->channels_announcing) >= WEFT__MAX_ANNOUNCING_CHANNELS) {
    remote_fault(pc, WEFT_ERR_OPERATION,
                 "DCEP OPEN on stream %u refused: %d new channels wait for the application", stream,
                 WEFT__MAX_ANNOUNCING_CHANNELS);
    weft__sctp_reset_stream(pc->sctp, stream);
    return;
  }
  if ((stream % 2 == 0) == pc->dtls_is_client)
    weft__log_limited(&pc->remote_rl, WEFT_LOG_WARNING, "dc",
                      "DCEP OPEN on stream %u has our parity (RFC 8832 §6); accepting it", stream);
  weft_dc_init init = WEFT_DC_INIT;
  bool ordered = true;
  weft__dcep_init_from_type(o.channel_type, o.reliability, &ordered, &init.max_retransmits,
                            &init.max_packet_life_time);
  init.ordered = ordered;
  char *label = g_strndup(o.label, o.label_len);
  char *proto = g_strndup(o.protocol, o.protocol_len);
  init.protocol = proto;
  int prio = weft__dcep_priority_from_value(o.priority);
  init.priority = (weft_priority)prio;
  dc = weft__dc_new(label, &init);
  g_free(label);
  g_free(proto);
  dc->remote_created = true;
  g_mutex_lock(&pc->lock);
  dc->user_data = pc->user_data; /* initially the pc's (weft.h) */
  g_mutex_unlock(&pc->lock);
  g_mutex_lock(&dc->lock);
  dc->pc = pc;
  g_mutex_unlock(&dc->lock);
  register_channel(pc, dc, stream);
  g_ptr_array_add(pc->channels_all, dc); /* the array owns the new reference */
  static const uint8_t ack[1] = {WEFT__DCEP_ACK};
  weft__sctp_send_opts ro = {false, -1, -1};
  int rc = weft__sctp_send(pc->sctp, stream, WEFT__PPID_DCEP, ack, sizeof ack, &ro);
  if (rc < 0)
    WLOG_W("dc", "DCEP ACK on stream %u: %s", stream, weft_last_error_message());
  set_dc_state(dc, WEFT_DC_OPEN);
  weft__pc_emit_data_channel(pc, dc);
  weft__dc_emit_open(dc, pc);
}

/* ---- SCTP callbacks -------------------------------------------------------- */

static void sctp_on_connected(void *ud) {
  weft_pc *pc = ud;
  pc->sctp_connected = true;
  WLOG_I("pc", "pc %p: SCTP association up (%.1f ms)", (void *)pc,
         (double)(weft__now_us() - pc->created_us) / 1000.0);
  open_pending_channels(pc);
}

static void sctp_on_message(void *ud, uint16_t stream, uint32_t ppid, const uint8_t *data,
                            size_t len) {
  weft_pc *pc = ud;
  /* sctp/ added weft__rx_cost(len) to the budget: every path below either
   * hands it to an event (released when the application has it) or releases
   * it here. */
  if (ppid == WEFT__PPID_DCEP) {
    weft__rx_budget_release(&pc->rx_budget, weft__rx_cost(len));
    handle_dcep(pc, stream, data, len);
    return;
  }
  weft_dc *dc = channel_by_stream(pc, stream);
  if (!dc) {
    weft__rx_budget_release(&pc->rx_budget, weft__rx_cost(len));
    weft__log_limited(&pc->remote_rl, WEFT_LOG_WARNING, "dc",
                      "message on stream %u without a channel: dropped", stream);
    return;
  }
  weft_msg_type type;
  switch (ppid) {
  case WEFT__PPID_STRING:
  case WEFT__PPID_STRING_PARTIAL: /* deprecated (RFC 8831 §8): delivered as is */
    type = WEFT_MSG_TEXT;
    break;
  case WEFT__PPID_BINARY:
  case WEFT__PPID_BINARY_PARTIAL:
    type = WEFT_MSG_BINARY;
    break;
  case WEFT__PPID_STRING_EMPTY:
    type = WEFT_MSG_TEXT;
    len = 0; /* RFC 8831 §6.6: one dummy byte carried the empty message */
    break;
  case WEFT__PPID_BINARY_EMPTY:
    type = WEFT_MSG_BINARY;
    len = 0;
    break;
  default:
    weft__rx_budget_release(&pc->rx_budget, weft__rx_cost(len));
    char label[WEFT__ESCAPE_BUF];
    weft__log_limited(&pc->remote_rl, WEFT_LOG_WARNING, "dc",
                      "channel '%s': unknown PPID %u, message dropped",
                      weft__escape(label, sizeof label, dc->label, strlen(dc->label)), ppid);
    return;
  }
  size_t cost = weft__rx_cost(len); /* what sctp/ added to the budget */
  if (type == WEFT_MSG_TEXT && !weft__utf8_valid(data, len)) {
    /* weft.h promises valid UTF-8 for TEXT: decode as browsers do (WHATWG
     * UTF-8 decode), each invalid sequence becoming U+FFFD. */
    char label[WEFT__ESCAPE_BUF];
    weft__log_limited(&pc->remote_rl, WEFT_LOG_WARNING, "dc",
                      "channel '%s': a text message that is not UTF-8; invalid bytes replaced "
                      "with U+FFFD",
                      weft__escape(label, sizeof label, dc->label, strlen(dc->label)));
    size_t n = 0;
    uint8_t *fixed = weft__utf8_sanitize(data, len, &n);
    weft__dc_emit_message(dc, pc, type, fixed, n, cost);
    free(fixed);
    return;
  }
  weft__dc_emit_message(dc, pc, type, data, len, cost);
}

/* A message bigger than we advertised (or than weft ever reassembles): its
 * bytes were discarded, so the reliable stream has a hole: the channel fails
 * with TOO_BIG and closes, as browsers do. */
static void sctp_on_oversize(void *ud, uint16_t stream, size_t cap) {
  weft_pc *pc = ud;
  weft_dc *dc = channel_by_stream(pc, stream);
  if (!dc)
    return;
  char *msg = g_strdup_printf("channel '%s': received a message over %zu bytes (the receive "
                              "cap); the channel is closed",
                              dc->label, cap);
  weft__dc_emit_error(dc, pc, WEFT_ERR_TOO_BIG, msg);
  g_free(msg);
  if (atomic_load(&dc->state) == WEFT_DC_OPEN) {
    set_dc_state(dc, WEFT_DC_CLOSING);
    weft__dc_emit_closing(dc, pc);
  }
  if (!dc->reset_out_requested) {
    dc->reset_out_requested = true;
    if (weft__sctp_reset_stream(pc->sctp, stream) < 0)
      dc_finish_close(pc, dc);
  }
}

static void sctp_on_stream_reset(void *ud, uint16_t stream, bool incoming) {
  weft_pc *pc = ud;
  weft_dc *dc = channel_by_stream(pc, stream);
  if (!dc)
    return;
  if (incoming) {
    dc->reset_in_done = true;
    if (atomic_load(&dc->state) == WEFT_DC_OPEN || atomic_load(&dc->state) == WEFT_DC_CONNECTING) {
      set_dc_state(dc, WEFT_DC_CLOSING);
      weft__dc_emit_closing(dc, pc);
    }
    if (!dc->reset_out_requested) {
      dc->reset_out_requested = true;
      if (weft__sctp_reset_stream(pc->sctp, stream) < 0)
        dc->reset_out_done = true;
    }
  } else {
    dc->reset_out_done = true;
  }
  if (dc->reset_in_done && dc->reset_out_done)
    dc_finish_close(pc, dc);
}

static void sctp_on_low(void *ud, uint16_t stream, size_t amount) {
  weft_pc *pc = ud;
  weft_dc *dc = channel_by_stream(pc, stream);
  if (dc)
    dc_account(pc, dc, amount, 0);
}

static gpointer dc_copy_ref(gconstpointer dc, gpointer unused) {
  (void)unused;
  return weft_dc_ref((weft_dc *)dc);
}

static void close_all_channels(weft_pc *pc) {
  /* dc_finish_close prunes channels_all: walk a copy. */
  GPtrArray *all = g_ptr_array_copy(pc->channels_all, dc_copy_ref, NULL);
  g_ptr_array_set_free_func(all, (GDestroyNotify)weft_dc_unref);
  for (guint i = 0; i < all->len; i++)
    dc_finish_close(pc, all->pdata[i]);
  g_ptr_array_unref(all);
}

static void sctp_on_closed(void *ud, int cause, const char *message) {
  weft_pc *pc = ud;
  WLOG_I("pc", "pc %p: SCTP association closed: %s", (void *)pc, message ? message : "");
  bool was_up = pc->sctp_connected;
  pc->sctp_connected = false;
  close_all_channels(pc);
  /* An ABORT with cause 12 (User-Initiated Abort, RFC 4960 §3.3.10.12) is
   * how weft, usrsctp-based stacks and aiortc end an association on close:
   * the remote is leaving (its close_notify follows), not an error. */
  if (was_up && cause == 12)
    return;
  if (!was_up || cause >= 0)
    weft__pc_emit_error(pc, WEFT_ERR_OPERATION, WEFT_DETAIL_SCTP_FAILURE, -1, cause,
                        message ? message : "SCTP association closed");
}

/* ---- Datagrams that arrive early --------------------------------------- */

/* A datagram for a layer not there yet (ICE checks of a fast peer succeed,
 * and its first DTLS flight or SRTP arrives, before our side reports
 * connected or has keys): keep it, bounded, instead of costing the peer a
 * retransmission timeout (1 s for DTLS). */
static void hold_early(weft_pc *pc, GQueue *q, const uint8_t *data, size_t len) {
  if (q->length >= WEFT__MAX_EARLY_DATAGRAMS || pc->early_bytes + len > WEFT__MAX_EARLY_BYTES) {
    if (pc->early_dropped++ == 0)
      WLOG_D("pc", "pc %p: early datagrams over %d / %d bytes: dropping", (void *)pc,
             WEFT__MAX_EARLY_DATAGRAMS, WEFT__MAX_EARLY_BYTES);
    return;
  }
  pc->early_bytes += len;
  g_queue_push_tail(q, g_bytes_new(data, len));
}

static void clear_early(weft_pc *pc, GQueue *q) {
  GBytes *b;
  while ((b = g_queue_pop_head(q))) {
    pc->early_bytes -= g_bytes_get_size(b);
    g_bytes_unref(b);
  }
}

/* Feeds what was held to @input, in arrival order. */
static void feed_early(weft_pc *pc, GQueue *q,
                       void (*input)(weft_pc *pc, const uint8_t *data, size_t len)) {
  GBytes *b;
  while ((b = g_queue_pop_head(q))) {
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    pc->early_bytes -= len;
    if (!atomic_load(&pc->closed))
      input(pc, p, len);
    g_bytes_unref(b);
  }
}

static void dtls_input(weft_pc *pc, const uint8_t *data, size_t len) {
  if (pc->dtls)
    weft__dtls_input(pc->dtls, data, len);
}

/* ---- DTLS callbacks -------------------------------------------------------- */

static int dtls_out(void *ctx, const uint8_t *data, size_t len) {
  weft_pc *pc = ctx;
  return pc->ice ? weft__ice_send(pc->ice, data, len) : WEFT_ERR_CLOSED;
}

static int sctp_out(void *ctx, const uint8_t *data, size_t len) {
  weft_pc *pc = ctx;
  return pc->dtls ? weft__dtls_send(pc->dtls, data, len) : WEFT_ERR_CLOSED;
}

/* SCTP over DTLS, once DTLS is up and a data section is negotiated (maybe
 * only by a later renegotiation). */
static void start_sctp(weft_pc *pc) {
  if (pc->sctp || !pc->dtls_connected || !pc->remote_sctp_port || atomic_load(&pc->closed))
    return;
  weft__sctp_callbacks cb = {sctp_on_connected,
                             sctp_on_message,
                             sctp_on_stream_reset,
                             sctp_on_low,
                             sctp_on_closed,
                             sctp_on_oversize,
                             pc};
  weft__dgram_sink out = {sctp_out, pc};
  /* The send buffer follows local policy, never the remote's word alone: a
   * remote advertising 2^31-1 must not size it to 2 GiB. The largest message
   * is the smaller of its max-message-size and our send-buffer limit. */
  size_t mms = MIN(pc->remote_max_message_size, pc->cfg.send_buffer_limit);
  pc->sctp = weft__sctp_new(weft__context_gctx(pc->ctx), out, WEFT__SCTP_PORT, pc->remote_sctp_port,
                            mms, &cb);
  if (pc->sctp) { /* what we advertised in a=max-message-size bounds what we buffer */
    weft__sctp_set_max_receive_size(pc->sctp, pc->cfg.max_message_size);
    weft__sctp_set_receive_budget(pc->sctp, &pc->rx_budget);
  }
  if (!pc->sctp || weft__sctp_connect(pc->sctp) < 0)
    fail_pc(pc, WEFT_ERR_OPERATION, WEFT_DETAIL_SCTP_FAILURE, -1, weft_last_error_message());
}

static void dtls_on_connected(void *ud, const weft__srtp_keys *keys) {
  weft_pc *pc = ud;
  pc->dtls_connected = true;
  weft__pc_media_dtls_keys(pc, keys);
  feed_early(pc, &pc->early_media, weft__pc_media_input);
  WLOG_I("pc", "pc %p: DTLS connected as %s (%.1f ms)", (void *)pc,
         pc->dtls_is_client ? "client" : "server",
         (double)(weft__now_us() - pc->created_us) / 1000.0);
  update_connection_state(pc);
  start_sctp(pc);
}

static void dtls_on_data(void *ud, const uint8_t *data, size_t len) {
  weft_pc *pc = ud;
  if (pc->sctp)
    weft__sctp_input(pc->sctp, data, len);
}

static void dtls_on_failed(void *ud, weft_error_detail detail, int alert, const char *message) {
  weft_pc *pc = ud;
  pc->dtls_failed = true;
  char *msg = g_strdup_printf("DTLS failed: %s", message ? message : "");
  fail_pc(pc, WEFT_ERR_OPERATION, detail, alert, msg);
  g_free(msg);
  close_all_channels(pc);
}

static void remote_end_teardown(void *data) { weft__pc_engine_teardown(data, false); }
static void release_pc(void *data) { weft__pc_release(data); }

/* The remote ended the session on purpose. The W3C API would keep the state
 * at `connected` until ICE consent expires (`disconnected`, then `failed`,
 * 30 s later); a close_notify is unambiguous, so weft closes the peer
 * connection at once (doc/negotiation.md): close callbacks of the channels
 * still open, then ICE state `closed`, then connection state `closed` — the
 * last callback of this pc. The layers are torn down from a posted task: we
 * are inside a DTLS callback here. */
static void remote_end(weft_pc *pc, const char *why) {
  if (pc->events_sealed || atomic_load(&pc->closed))
    return;
  WLOG_I("pc", "pc %p: remote ended the session (%s)", (void *)pc, why);
  close_all_channels(pc);
  atomic_store(&pc->signaling_state, WEFT_SIGNALING_CLOSED);
  atomic_store(&pc->ice_state, WEFT_ICE_CLOSED);
  weft__pc_emit_ice_state(pc, WEFT_ICE_CLOSED);
  atomic_store(&pc->conn_state, WEFT_PC_CLOSED);
  weft__pc_emit_connection_state(pc, WEFT_PC_CLOSED);
  weft__pc_seal_events(pc);
  weft__context_post(pc->ctx, remote_end_teardown, weft__pc_hold(pc), release_pc);
}

static void dtls_on_closed(void *ud) { remote_end(ud, "DTLS close_notify"); }

/* DTLS may answer: ICE has a selected pair (or had one: DTLS is up). */
static bool ice_up(weft_pc *pc) {
  int st = atomic_load(&pc->ice_state);
  return st == WEFT_ICE_CONNECTED || st == WEFT_ICE_COMPLETED || pc->dtls_connected;
}

/* What DTLS answers goes out only once ICE has a selected pair: feeding it
 * earlier loses the answer and costs a retransmission timeout. */
static void feed_early_dtls(weft_pc *pc) {
  if (!pc->dtls || !ice_up(pc))
    return;
  if (pc->early_dtls.length)
    WLOG_D("pc", "pc %p: feeding %u DTLS records that arrived before ICE was connected", (void *)pc,
           pc->early_dtls.length);
  feed_early(pc, &pc->early_dtls, dtls_input);
}

static void maybe_start_dtls(weft_pc *pc) {
  if (pc->dtls || !pc->dtls_role_known || !pc->remote_current || atomic_load(&pc->closed))
    return;
  const weft__jsep_section *sec = weft__jsep_transport_section(pc->remote_current);
  if (!sec)
    return;
  weft__dtls_callbacks cb = {dtls_on_connected, dtls_on_data, dtls_on_failed, dtls_on_closed, pc};
  weft__dgram_sink out = {dtls_out, pc};
  pc->dtls = weft__dtls_new(weft__context_gctx(pc->ctx), pc->cert,
                            pc->dtls_is_client ? WEFT__DTLS_CLIENT : WEFT__DTLS_SERVER, out, &cb);
  if (!pc->dtls) {
    fail_pc(pc, WEFT_ERR_OPERATION, WEFT_DETAIL_DTLS_FAILURE, -1, weft_last_error_message());
    return;
  }
  if (weft__dtls_set_remote_fingerprint(pc->dtls, sec->fingerprint_alg, sec->fingerprint) < 0 ||
      weft__dtls_start(pc->dtls) < 0) {
    fail_pc(pc, WEFT_ERR_OPERATION, WEFT_DETAIL_DTLS_FAILURE, -1, weft_last_error_message());
    return;
  }
  feed_early_dtls(pc);
}

/* ---- ICE callbacks --------------------------------------------------------- */

static void ice_on_candidate(void *ud, const char *candidate) {
  weft_pc *pc = ud;
  g_ptr_array_add(pc->local_candidates, g_strdup(candidate));
  weft__pc_emit_candidate(pc, candidate);
}

static void ice_on_gathering_done(void *ud) {
  weft_pc *pc = ud;
  pc->gathering_done = true;
  WLOG_D("pc", "pc %p: gathering complete, %u candidates (%.1f ms)", (void *)pc,
         pc->local_candidates->len, (double)(weft__now_us() - pc->created_us) / 1000.0);
  set_gathering(pc, WEFT_GATHERING_COMPLETE);
  weft__pc_emit_candidate(pc, NULL);
}

static void ice_on_state(void *ud, weft_ice_connection_state st) {
  weft_pc *pc = ud;
  if (atomic_exchange(&pc->ice_state, (int)st) != (int)st) {
    WLOG_I("pc", "pc %p: ICE %s (%.1f ms)", (void *)pc, weft_ice_connection_state_to_string(st),
           (double)(weft__now_us() - pc->created_us) / 1000.0);
    weft__pc_emit_ice_state(pc, st);
  }
  update_connection_state(pc);
  if (st == WEFT_ICE_CONNECTED || st == WEFT_ICE_COMPLETED) {
    maybe_start_dtls(pc);
    feed_early_dtls(pc);
  }
}

static void ice_on_recv(void *ud, const uint8_t *data, size_t len) {
  weft_pc *pc = ud;
  switch (weft__demux_classify(data, len)) {
  case WEFT__DEMUX_DTLS:
    if (pc->dtls && ice_up(pc) && !pc->early_dtls.length)
      weft__dtls_input(pc->dtls, data, len);
    else
      hold_early(pc, &pc->early_dtls, data, len);
    break;
  case WEFT__DEMUX_RTP:
    if (!pc->dtls_connected && !pc->dtls_failed)
      hold_early(pc, &pc->early_media, data, len);
    else
      weft__pc_media_input(pc, data, len);
    break;
  default:
    WLOG_T("pc", "datagram of %zu bytes dropped (RFC 7983: not DTLS/RTP)", len);
    break;
  }
}

/* ---- Creation and teardown ------------------------------------------------- */

static void *cert_create_ecdsa(void) { return weft__dtls_cert_new_kind(WEFT__CERT_ECDSA_P256); }
static void *cert_create_rsa(void) { return weft__dtls_cert_new_kind(WEFT__CERT_RSA_2048); }

static void rx_resume(void *data) {
  weft_pc *pc = data;
  if (!atomic_load(&pc->closed) && pc->sctp)
    weft__sctp_resume_receive(pc->sctp);
}
static void rx_release_pc(void *data) { weft__pc_release(data); }

/* The receive budget's wake (any thread, often the application's): reading
 * goes on on the engine. */
static void rx_wake(void *ud) {
  weft_pc *pc = ud;
  weft__context_post(pc->ctx, rx_resume, weft__pc_hold(pc), rx_release_pc);
}
static void cert_destroy(void *c) { weft__dtls_cert_unref(c); }

weft_pc *weft__pc_new(weft_context *ctx, const weft_config *cfg) {
  weft_pc *pc = g_new0(weft_pc, 1);
  atomic_init(&pc->app_refs, 1);
  weft__ref_init(&pc->refs);
  pc->ctx = weft_context_ref(ctx);
  pc->created_us = weft__now_us();
  g_mutex_init(&pc->lock);
  g_mutex_init(&pc->sendq_lock);
  g_queue_init(&pc->held_candidates);
  g_queue_init(&pc->held_channels);
  g_queue_init(&pc->held_errors);
  g_queue_init(&pc->early_dtls);
  g_queue_init(&pc->early_media);
  g_queue_init(&pc->sendq);
  weft__config_init_defaults(&pc->cfg);
  if (cfg)
    weft__config_copy_into(&pc->cfg, cfg);
  weft__rx_budget_init(&pc->rx_budget, pc->cfg.receive_buffer_limit, rx_wake, pc);
  pc->local_candidates = g_ptr_array_new_with_free_func(g_free);
  pc->channels_by_stream =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)weft_dc_unref);
  pc->channels_pending = g_ptr_array_new();
  pc->channels_all = g_ptr_array_new_with_free_func((GDestroyNotify)weft_dc_unref);
  pc->tracks = g_ptr_array_new_with_free_func((GDestroyNotify)weft_track_unref);
  pc->ssrc_tracks = g_hash_table_new(g_direct_hash, g_direct_equal);
  pc->media_buf = g_malloc(WEFT__SRTP_MAX_PACKET + WEFT__SRTP_RTCP_HEADROOM);
  pc->send_buf = g_malloc(WEFT__SRTP_MAX_PACKET + WEFT__SRTP_RTCP_HEADROOM);
  pc->pkt_buf = g_malloc(WEFT__PKT_BUF_BYTES);
  pc->data_mline = -1;
  g_mutex_init(&pc->mediaq_lock);
  g_queue_init(&pc->mediaq);
  g_queue_init(&pc->held_tracks);
  weft__random(&pc->session_id, sizeof pc->session_id);
  pc->session_id &= INT64_MAX; /* RFC 8866 §5.2: fits a signed 64-bit integer */
  pc->session_version = 1;
  pc->remote_max_message_size = 0;
  /* Context threads wait (bounded) for libnice's asynchronous closes. */
  weft__loop_set_pending_hook(weft__ice_pending_closes);
  weft__live_inc();
  return pc;
}

int weft__pc_engine_init(weft_pc *pc) {
  bool rsa = pc->cfg.certificate_type == WEFT_CERTIFICATE_RSA_2048;
  if (pc->cfg.certificate_reuse) {
    /* One certificate per type and context: slot 0 ECDSA, slot 1 RSA. */
    weft__dtls_cert *c = weft__context_get_cert(
        pc->ctx, rsa ? 1 : 0, rsa ? cert_create_rsa : cert_create_ecdsa, cert_destroy);
    pc->cert = c ? weft__dtls_cert_ref(c) : NULL;
  } else {
    pc->cert = weft__dtls_cert_new_kind(rsa ? WEFT__CERT_RSA_2048 : WEFT__CERT_ECDSA_P256);
  }
  if (!pc->cert)
    return weft__error(WEFT_ERR_OPERATION, "could not create the DTLS certificate: %s",
                       weft_last_error_message());
  weft__ice_config ic = {0};
  ic.servers = (const weft__ice_server *)pc->cfg.servers->data;
  ic.n_servers = pc->cfg.servers->len;
  ic.relay_only = pc->cfg.policy == WEFT_ICE_POLICY_RELAY;
  ic.port_min = pc->cfg.port_min;
  ic.port_max = pc->cfg.port_max;
  ic.enable_loopback = pc->cfg.enable_loopback;
  ic.ice_tcp = pc->cfg.ice_tcp;
  weft__ice_callbacks cb = {ice_on_candidate, ice_on_gathering_done, ice_on_state, ice_on_recv, pc};
  pc->ice = weft__ice_new(weft__context_gctx(pc->ctx), &ic, true, &cb);
  if (!pc->ice)
    return weft__error(WEFT_ERR_OPERATION, "could not create the ICE agent: %s",
                       weft_last_error_message());
  weft__pc_ice_init(pc);
  return WEFT_OK;
}

void weft__pc_engine_close(weft_pc *pc) {
  if (atomic_load(&pc->closed) && pc->events_sealed) {
    /* Closed by the remote and now by the app: what is still queued of the
     * remote end must not run after weft_pc_close (rule 3). */
    atomic_store(&pc->end_seq, 0);
    weft__context_purge(pc->ctx, pc);
    return;
  }
  weft__pc_engine_teardown(pc, true);
}

void weft__pc_engine_teardown(weft_pc *pc, bool by_app) {
  if (atomic_exchange(&pc->closed, true))
    return;
  WLOG_D("pc", "pc %p: closing (%s)", (void *)pc, by_app ? "local" : "remote");
  /* Layers first, top down: no layer callback can reach us after this. */
  weft__sctp_free(pc->sctp);
  pc->sctp = NULL;
  if (pc->dtls) {
    weft__dtls_close(pc->dtls);
    weft__dtls_free(pc->dtls);
    pc->dtls = NULL;
  }
  weft__ice_free(pc->ice);
  pc->ice = NULL;
  clear_early(pc, &pc->early_dtls);
  clear_early(pc, &pc->early_media);
  weft__pc_media_teardown(pc);
  weft__pc_engine_drain_sendq(pc, SIZE_MAX); /* closed: discards what apps queued */
  for (guint i = 0; i < pc->tracks->len; i++)
    atomic_store(&((weft_track *)pc->tracks->pdata[i])->stopped, true);
  for (guint i = 0; i < pc->channels_all->len; i++) {
    weft_dc *dc = pc->channels_all->pdata[i];
    set_dc_state(dc, WEFT_DC_CLOSED);
    weft__dc_drop_held(dc);
  }
  g_hash_table_remove_all(pc->channels_by_stream);
  g_ptr_array_set_size(pc->channels_pending, 0);
  /* W3C close(): every state is closed, without events. */
  atomic_store(&pc->conn_state, WEFT_PC_CLOSED);
  atomic_store(&pc->ice_state, WEFT_ICE_CLOSED);
  atomic_store(&pc->signaling_state, WEFT_SIGNALING_CLOSED);
  if (by_app)
    weft__context_purge(pc->ctx, pc);
  weft__pc_drop_held(pc);
}

void weft__pc_free(weft_pc *pc) {
  /* Channels outlive the pc as inert objects (weft.h ownership rules). */
  for (guint i = 0; i < pc->channels_all->len; i++)
    weft__dc_detach(pc->channels_all->pdata[i]);
  g_ptr_array_free(pc->channels_all, TRUE);
  weft__pc_media_free(pc);
  g_hash_table_destroy(pc->channels_by_stream);
  g_ptr_array_free(pc->channels_pending, TRUE);
  g_ptr_array_free(pc->local_candidates, TRUE);
  weft__jsep_desc_free(pc->remote_current);
  weft__jsep_desc_free(pc->remote_pending);
  g_free(pc->remote_sdp_current);
  g_free(pc->remote_sdp_pending);
  g_free(pc->local_sdp_current);
  g_free(pc->local_sdp_pending);
  g_free(pc->data_mid);
  weft__dtls_cert_unref(pc->cert);
  weft__config_clear(&pc->cfg);
  if (pc->user_destroy)
    pc->user_destroy(pc->user_data);
  g_mutex_clear(&pc->lock);
  g_mutex_clear(&pc->sendq_lock);
  weft_context *ctx = pc->ctx;
  g_free(pc);
  weft__live_dec();
  weft_context_unref(ctx);
}

/* ---- Negotiation ------------------------------------------------------------ */

static weft__jsep_local local_params(weft_pc *pc, weft__setup setup) {
  weft__jsep_local l = {0};
  l.session_id = pc->session_id;
  l.session_version = pc->session_version;
  l.ice_ufrag = weft__ice_local_ufrag(pc->ice);
  l.ice_pwd = weft__ice_local_pwd(pc->ice);
  l.fingerprint = weft__dtls_cert_fingerprint(pc->cert);
  l.setup = setup;
  l.sctp_port = WEFT__SCTP_PORT;
  l.max_message_size = pc->cfg.max_message_size;
  l.include_data = true;
  l.data_mid = pc->data_mid ? pc->data_mid : "0";
  return l;
}

int weft__pc_engine_create_offer(weft_pc *pc, char **sdp_out) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  weft_signaling_state s = (weft_signaling_state)atomic_load(&pc->signaling_state);
  if (s != WEFT_SIGNALING_STABLE && s != WEFT_SIGNALING_HAVE_LOCAL_OFFER)
    return weft__error(WEFT_ERR_INVALID_STATE, "create_offer in signaling state %s",
                       weft_signaling_state_to_string(s));
  /* The data section is offered once a channel exists, or when there is
   * nothing else (a stack with nothing to negotiate has nothing to connect,
   * doc/negotiation.md); audio/video sections for every track. */
  weft__pc_ice_before_offer(pc); /* new ICE credentials if a restart is due */
  weft__jsep_local l = local_params(pc, WEFT__SETUP_ACTPASS);
  GPtrArray *models = NULL;
  weft__jsep_msection *secs = NULL;
  size_t n = 0;
  int mrc = weft__pc_media_offer_sections(pc, &secs, &n, &models);
  if (mrc < 0)
    return mrc;
  l.sections = secs;
  l.n_sections = n;
  l.data_mid = pc->data_mid ? pc->data_mid : "0";
  char *sdp = weft__jsep_create_offer(&l);
  g_free(secs);
  g_ptr_array_unref(models);
  if (!sdp)
    return weft__error(WEFT_ERR_INTERNAL, "could not write the offer");
  *sdp_out = sdp;
  return WEFT_OK;
}

int weft__pc_engine_create_answer(weft_pc *pc, char **sdp_out) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  weft_signaling_state s = (weft_signaling_state)atomic_load(&pc->signaling_state);
  if (s != WEFT_SIGNALING_HAVE_REMOTE_OFFER && s != WEFT_SIGNALING_HAVE_LOCAL_PRANSWER)
    return weft__error(WEFT_ERR_INVALID_STATE, "create_answer in signaling state %s",
                       weft_signaling_state_to_string(s));
  const weft__jsep_section *sec = weft__jsep_transport_section(pc->remote_pending);
  /* RFC 8842 §5.3 / DESIGN §4: be the DTLS client (active) unless the offerer
   * insists on being active itself. */
  weft__setup setup = sec && (sec->setup == WEFT__SETUP_ACTIVE || sec->setup == WEFT__SETUP_NONE)
                          ? WEFT__SETUP_PASSIVE /* RFC 4145 §4: absent means active */
                          : WEFT__SETUP_ACTIVE;
  /* A re-offer on a running association: answer with the role we have
   * (RFC 8842 §5.5), whatever role the first negotiation gave us. */
  if (pc->dtls)
    setup = pc->dtls_is_client ? WEFT__SETUP_ACTIVE : WEFT__SETUP_PASSIVE;
  weft__jsep_local l = local_params(pc, setup);
  GPtrArray *models = NULL;
  weft__jsep_msection *secs = NULL;
  size_t n = 0;
  int mrc = weft__pc_media_answer_sections(pc, pc->remote_pending, &secs, &n, &models);
  if (mrc < 0)
    return mrc;
  l.sections = secs;
  l.n_sections = n;
  char *sdp = weft__jsep_create_answer(pc->remote_pending, &l);
  g_free(secs);
  g_ptr_array_unref(models);
  if (!sdp)
    return weft__error(WEFT_ERR_INTERNAL, "could not write the answer: %s",
                       weft_last_error_message());
  *sdp_out = sdp;
  return WEFT_OK;
}

static int start_gathering(weft_pc *pc) {
  if (pc->ice_started)
    return WEFT_OK;
  pc->ice_started = true;
  set_gathering(pc, WEFT_GATHERING_GATHERING);
  int rc = weft__ice_gather(pc->ice);
  if (rc < 0)
    return rc;
  return WEFT_OK;
}

/* Applies the remote data section to ICE: credentials, candidates, end. */
static int apply_remote_transport(weft_pc *pc, const weft__jsep_desc *d) {
  const weft__jsep_section *sec = weft__jsep_transport_section(d);
  if (!sec)
    return WEFT_OK;
  int rc = weft__ice_set_remote_credentials(pc->ice, sec->ice_ufrag, sec->ice_pwd);
  if (rc < 0)
    return rc;
  for (guint i = 0; sec->candidates && i < sec->candidates->len; i++) {
    if (weft__ice_add_remote_candidate(pc->ice, sec->candidates->pdata[i]) < 0)
      weft__log_limited(weft__ice_ratelimit(pc->ice), WEFT_LOG_WARNING, "pc",
                        "remote description candidate skipped: %s", weft_last_error_message());
  }
  if (sec->end_of_candidates)
    weft__ice_remote_gathering_done(pc->ice);
  sec = weft__jsep_data_section(d);
  if (!sec)
    return WEFT_OK; /* media only (so far) */
  pc->remote_sctp_port = sec->sctp_port ? sec->sctp_port : WEFT__SCTP_PORT;
  if (!sec->has_max_message_size)
    pc->remote_max_message_size = WEFT__DEFAULT_REMOTE_MMS;
  else if (sec->max_message_size == 0)
    pc->remote_max_message_size = SIZE_MAX; /* RFC 8841 §6: 0 = any size */
  else
    pc->remote_max_message_size = (size_t)sec->max_message_size;
  return WEFT_OK;
}

static void set_dtls_role_from_remote_setup(weft_pc *pc, weft__setup remote,
                                            bool remote_is_answer) {
  if (remote == WEFT__SETUP_NONE)
    remote = WEFT__SETUP_ACTIVE; /* RFC 4145 §4: an absent a=setup means active */
  if (pc->dtls) {
    /* RFC 8842 §5.5 / RFC 9429 §5.3.1: a renegotiation keeps the roles of
     * the DTLS association that exists (only a new one may change them). */
    bool they_client = remote == WEFT__SETUP_ACTIVE;
    bool they_server = remote == WEFT__SETUP_PASSIVE;
    if ((they_client && pc->dtls_is_client) || (they_server && !pc->dtls_is_client))
      WLOG_W("pc", "pc %p: remote a=setup:%s conflicts with the DTLS role in use; kept", (void *)pc,
             weft__setup_to_string(remote));
    return;
  }
  if (remote_is_answer)
    pc->dtls_is_client = remote == WEFT__SETUP_PASSIVE; /* they are server */
  else
    pc->dtls_is_client = remote != WEFT__SETUP_ACTIVE; /* we answer active */
  pc->dtls_role_known = true;
}

static void negotiation_complete(weft_pc *pc, const char *local_sdp,
                                 const weft__jsep_desc *remote) {
  pc->negotiated_once = true;
  pc->negotiation_needed = false;
  weft__pc_media_negotiated(pc, local_sdp, remote);
  start_sctp(pc); /* a data section added by renegotiation */
  weft_ice_connection_state ice = (weft_ice_connection_state)atomic_load(&pc->ice_state);
  if (ice == WEFT_ICE_CONNECTED || ice == WEFT_ICE_COMPLETED || !pc->dtls_is_client)
    maybe_start_dtls(pc);
}

static int apply_local(weft_pc *pc, weft_sdp_type type, const char *sdp) {
  weft__jsep_desc *d = NULL;
  int rc = weft__jsep_parse(sdp, type, &d);
  if (rc < 0)
    return rc;
  const weft__jsep_section *sec = weft__jsep_transport_section(d);
  if (sec && (g_strcmp0(sec->ice_ufrag, weft__ice_local_ufrag(pc->ice)) != 0 ||
              g_strcmp0(sec->ice_pwd, weft__ice_local_pwd(pc->ice)) != 0)) {
    weft__jsep_desc_free(d);
    return weft__error(WEFT_ERR_INVALID_MODIFICATION,
                       "local description: ICE credentials differ from the ones weft created");
  }
  /* A description with newly prepared credentials restarts ICE (ice_restart.c). */
  rc = weft__pc_ice_before_local(pc, type);
  if (rc < 0) {
    weft__jsep_desc_free(d);
    return rc;
  }
  if (sec) {
    g_free(pc->transport_mid);
    pc->transport_mid = g_strdup(sec->mid ? sec->mid : "0");
  }
  const weft__jsep_section *data = weft__jsep_data_section(d);
  if (data) {
    g_free(pc->data_mid);
    pc->data_mid = g_strdup(data->mid ? data->mid : "0");
  }
  weft__jsep_desc_free(d);
  if (type == WEFT_SDP_OFFER) {
    g_free(pc->local_sdp_pending);
    pc->local_sdp_pending = g_strdup(sdp);
    pc->local_type_pending = WEFT_SDP_OFFER;
    pc->controlling = true;
    weft__ice_set_controlling(pc->ice, true);
    set_signaling(pc, WEFT_SIGNALING_HAVE_LOCAL_OFFER);
  } else {
    /* answer / pranswer to the pending remote offer */
    g_free(pc->local_sdp_current);
    pc->local_sdp_current = g_strdup(sdp);
    pc->local_type_current = type;
    if (type == WEFT_SDP_ANSWER) {
      weft__jsep_desc_free(pc->remote_current);
      pc->remote_current = pc->remote_pending;
      pc->remote_pending = NULL;
      g_free(pc->remote_sdp_current);
      pc->remote_sdp_current = pc->remote_sdp_pending;
      pc->remote_sdp_pending = NULL;
      g_free(pc->local_sdp_pending);
      pc->local_sdp_pending = NULL;
      set_signaling(pc, WEFT_SIGNALING_STABLE);
      negotiation_complete(pc, sdp, pc->remote_current);
    } else {
      set_signaling(pc, WEFT_SIGNALING_HAVE_LOCAL_PRANSWER);
    }
  }
  return start_gathering(pc);
}

/* W3C "rollback" (either setter): drop the pending offer, back to stable.
 * Allowed in have-local-offer and have-remote-offer only (RFC 9429 §4.1.10). */
static int rollback(weft_pc *pc) {
  weft_signaling_state s = (weft_signaling_state)atomic_load(&pc->signaling_state);
  if (s == WEFT_SIGNALING_HAVE_LOCAL_OFFER) {
    g_free(pc->local_sdp_pending);
    pc->local_sdp_pending = NULL;
  } else if (s == WEFT_SIGNALING_HAVE_REMOTE_OFFER) {
    weft__pc_media_remote_rollback(pc); /* before remote_pending goes */
    weft__jsep_desc_free(pc->remote_pending);
    pc->remote_pending = NULL;
    g_free(pc->remote_sdp_pending);
    pc->remote_sdp_pending = NULL;
  } else {
    return weft__error(WEFT_ERR_INVALID_STATE, "rollback in signaling state %s",
                       weft_signaling_state_to_string(s));
  }
  set_signaling(pc, WEFT_SIGNALING_STABLE);
  if (pc->negotiation_needed)
    weft__pc_emit_negotiation_needed(pc);
  return WEFT_OK;
}

int weft__pc_engine_set_local(weft_pc *pc, weft_sdp_type type, const char *sdp) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  weft_signaling_state s = (weft_signaling_state)atomic_load(&pc->signaling_state);
  char *made = NULL;
  if (type == WEFT_SDP_ROLLBACK)
    return rollback(pc);
  if (type == WEFT_SDP_UNSPEC) {
    /* The implicit form (W3C setLocalDescription()). */
    if (sdp)
      return weft__error(WEFT_ERR_INVALID_ARG, "an SDP needs a type");
    int rc;
    if (s == WEFT_SIGNALING_STABLE || s == WEFT_SIGNALING_HAVE_LOCAL_OFFER) {
      type = WEFT_SDP_OFFER;
      rc = weft__pc_engine_create_offer(pc, &made);
    } else {
      type = WEFT_SDP_ANSWER;
      rc = weft__pc_engine_create_answer(pc, &made);
    }
    if (rc < 0)
      return rc;
    sdp = made;
  } else if (!sdp) {
    return weft__error(WEFT_ERR_INVALID_ARG, "sdp is NULL");
  }
  int rc;
  if (type == WEFT_SDP_OFFER && s != WEFT_SIGNALING_STABLE && s != WEFT_SIGNALING_HAVE_LOCAL_OFFER)
    rc = weft__error(WEFT_ERR_INVALID_STATE, "set_local_description(offer) in state %s",
                     weft_signaling_state_to_string(s));
  else if ((type == WEFT_SDP_ANSWER || type == WEFT_SDP_PRANSWER) &&
           s != WEFT_SIGNALING_HAVE_REMOTE_OFFER && s != WEFT_SIGNALING_HAVE_LOCAL_PRANSWER)
    rc = weft__error(WEFT_ERR_INVALID_STATE, "set_local_description(%s) in state %s",
                     weft_sdp_type_to_string(type), weft_signaling_state_to_string(s));
  else
    rc = apply_local(pc, type, sdp);
  g_free(made);
  return rc;
}

int weft__pc_engine_set_remote(weft_pc *pc, weft_sdp_type type, const char *sdp) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  weft_signaling_state s = (weft_signaling_state)atomic_load(&pc->signaling_state);
  if (type == WEFT_SDP_ROLLBACK)
    return rollback(pc);
  if (!sdp)
    return weft__error(WEFT_ERR_INVALID_ARG, "sdp is NULL");
  if (type == WEFT_SDP_OFFER) {
    if (s != WEFT_SIGNALING_STABLE && s != WEFT_SIGNALING_HAVE_REMOTE_OFFER)
      return weft__error(WEFT_ERR_INVALID_STATE, "set_remote_description(offer) in state %s",
                         weft_signaling_state_to_string(s));
  } else if (type == WEFT_SDP_ANSWER || type == WEFT_SDP_PRANSWER) {
    if (s != WEFT_SIGNALING_HAVE_LOCAL_OFFER && s != WEFT_SIGNALING_HAVE_REMOTE_PRANSWER)
      return weft__error(WEFT_ERR_INVALID_STATE, "set_remote_description(%s) in state %s",
                         weft_sdp_type_to_string(type), weft_signaling_state_to_string(s));
  } else {
    return weft__error(WEFT_ERR_INVALID_ARG, "unknown description type %d", (int)type);
  }
  weft__jsep_desc *d = NULL;
  int rc = weft__jsep_parse(sdp, type, &d);
  if (rc < 0)
    return rc;
  const weft__jsep_section *sec = weft__jsep_transport_section(d);
  if (type != WEFT_SDP_OFFER && !sec && d->sections->len > 0) {
    weft__jsep_desc_free(d);
    return weft__error(WEFT_ERR_INVALID_ACCESS,
                       "the answer rejects every m-section: nothing to connect");
  }
  if (type == WEFT_SDP_OFFER && (rc = weft__pc_media_check_remote_offer(pc, d)) < 0) {
    weft__jsep_desc_free(d);
    return rc;
  }
  if (type == WEFT_SDP_OFFER)
    weft__pc_ice_remote_offer(pc); /* our answer keeps the current credentials */
  if (sec && pc->remote_current) {
    const weft__jsep_section *old = weft__jsep_transport_section(pc->remote_current);
    if (old && pc->dtls && g_strcmp0(old->fingerprint, sec->fingerprint)) {
      weft__jsep_desc_free(d);
      return weft__error(WEFT_ERR_NOT_SUPPORTED,
                         "renegotiation that changes the certificate is not supported");
    }
    /* New remote credentials: an ICE restart (ice_restart.c). */
    if (old && g_strcmp0(old->ice_ufrag, sec->ice_ufrag) &&
        (rc = weft__pc_ice_remote_credentials_changed(pc, type)) < 0) {
      weft__jsep_desc_free(d);
      return rc;
    }
  }
  if (d->ice_lite && type == WEFT_SDP_OFFER) {
    /* RFC 8445 §6.1.1: a full agent facing a lite agent is controlling. */
    pc->controlling = true;
    weft__ice_set_controlling(pc->ice, true);
  } else if (type == WEFT_SDP_OFFER) {
    pc->controlling = false;
    weft__ice_set_controlling(pc->ice, false);
  }
  rc = apply_remote_transport(pc, d);
  if (rc < 0) {
    weft__jsep_desc_free(d);
    return rc;
  }
  if (type == WEFT_SDP_OFFER) {
    if (sec)
      set_dtls_role_from_remote_setup(pc, sec->setup, false);
    const weft__jsep_section *data = weft__jsep_data_section(d);
    if (data && data->mid) {
      g_free(pc->data_mid);
      pc->data_mid = g_strdup(data->mid);
    }
    weft__pc_media_remote_offer(pc, d);
    weft__jsep_desc_free(pc->remote_pending);
    pc->remote_pending = d;
    g_free(pc->remote_sdp_pending);
    pc->remote_sdp_pending = g_strdup(sdp);
    set_signaling(pc, WEFT_SIGNALING_HAVE_REMOTE_OFFER);
    return WEFT_OK;
  }
  if (sec)
    set_dtls_role_from_remote_setup(pc, sec->setup, true);
  weft__jsep_desc_free(pc->remote_current);
  pc->remote_current = d;
  g_free(pc->remote_sdp_current);
  pc->remote_sdp_current = g_strdup(sdp);
  if (type == WEFT_SDP_ANSWER) {
    g_free(pc->local_sdp_current);
    pc->local_sdp_current = pc->local_sdp_pending;
    pc->local_type_current = WEFT_SDP_OFFER;
    pc->local_sdp_pending = NULL;
    set_signaling(pc, WEFT_SIGNALING_STABLE);
    negotiation_complete(pc, pc->local_sdp_current, d);
  } else {
    set_signaling(pc, WEFT_SIGNALING_HAVE_REMOTE_PRANSWER);
  }
  return WEFT_OK;
}

int weft__pc_engine_add_candidate(weft_pc *pc, const weft_ice_candidate *c) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  const weft__jsep_desc *remote = pc->remote_pending ? pc->remote_pending : pc->remote_current;
  if (!remote)
    return weft__error(WEFT_ERR_INVALID_STATE,
                       "add_ice_candidate before a remote description was set");
  if (!c || !c->candidate || !c->candidate[0])
    return weft__ice_remote_gathering_done(pc->ice);
  const weft__jsep_section *sec = weft__jsep_transport_section(remote);
  if (c->sdp_mid && !weft__jsep_find_mid(remote, c->sdp_mid))
    return weft__error(WEFT_ERR_OPERATION,
                       "candidate for mid '%s', which the remote description "
                       "does not have",
                       c->sdp_mid);
  if (!c->sdp_mid && c->sdp_mline_index >= 0 && (guint)c->sdp_mline_index >= remote->sections->len)
    return weft__error(WEFT_ERR_OPERATION, "candidate for m-line %d, the remote description has %u",
                       c->sdp_mline_index, remote->sections->len);
  if (!sec) {
    WLOG_D("pc", "candidate ignored: no live m-section");
    return WEFT_OK;
  }
  /* The section the candidate belongs to. A peer that gathers per section
   * before BUNDLE is agreed (aiortc) trickles candidates of transports the
   * group discards (RFC 8843 §10): valid, but not for weft's one transport. */
  const weft__jsep_section *own = c->sdp_mid ? weft__jsep_find_mid(remote, c->sdp_mid)
                                  : c->sdp_mline_index >= 0
                                      ? g_ptr_array_index(remote->sections, c->sdp_mline_index)
                                      : sec;
  const char *ufrag = c->username_fragment ? c->username_fragment : own->ice_ufrag;
  if (c->username_fragment) {
    bool known = false;
    for (guint i = 0; i < remote->sections->len && !known; i++) {
      const weft__jsep_section *x = g_ptr_array_index(remote->sections, i);
      known = g_strcmp0(x->ice_ufrag, c->username_fragment) == 0;
    }
    if (!known)
      return weft__error(WEFT_ERR_OPERATION,
                         "candidate for ufrag '%s', which no section of the remote description has",
                         c->username_fragment);
  }
  if (own != sec && g_strcmp0(ufrag, sec->ice_ufrag) != 0) {
    WLOG_D("pc", "candidate of mid %s ignored: its transport (ufrag %s) is bundled away",
           own->mid ? own->mid : "-", ufrag ? ufrag : "-");
    return WEFT_OK;
  }
  if (c->username_fragment && g_strcmp0(c->username_fragment, sec->ice_ufrag) != 0) {
    WLOG_D("pc", "candidate for ufrag %s ignored: not the transport's", c->username_fragment);
    return WEFT_OK;
  }
  return weft__ice_add_remote_candidate(pc->ice, c->candidate);
}

int weft__pc_engine_get_description(weft_pc *pc, weft_desc_which which, weft_sdp_type *type,
                                    char **sdp_out) {
  const char *sdp = NULL;
  weft_sdp_type t = WEFT_SDP_UNSPEC;
  bool local = false;
  switch (which) {
  case WEFT_DESC_LOCAL:
    local = true;
    if (pc->local_sdp_pending) {
      sdp = pc->local_sdp_pending;
      t = pc->local_type_pending;
    } else {
      sdp = pc->local_sdp_current;
      t = pc->local_type_current;
    }
    break;
  case WEFT_DESC_CURRENT_LOCAL:
    local = true;
    sdp = pc->local_sdp_current;
    t = pc->local_type_current;
    break;
  case WEFT_DESC_PENDING_LOCAL:
    local = true;
    sdp = pc->local_sdp_pending;
    t = pc->local_type_pending;
    break;
  case WEFT_DESC_REMOTE:
    sdp = pc->remote_sdp_pending ? pc->remote_sdp_pending : pc->remote_sdp_current;
    t = pc->remote_sdp_pending ? pc->remote_pending->type
        : pc->remote_current   ? pc->remote_current->type
                               : WEFT_SDP_UNSPEC;
    break;
  case WEFT_DESC_CURRENT_REMOTE:
    sdp = pc->remote_sdp_current;
    t = pc->remote_current ? pc->remote_current->type : WEFT_SDP_UNSPEC;
    break;
  case WEFT_DESC_PENDING_REMOTE:
    sdp = pc->remote_sdp_pending;
    t = pc->remote_pending ? pc->remote_pending->type : WEFT_SDP_UNSPEC;
    break;
  default:
    return weft__error(WEFT_ERR_INVALID_ARG, "unknown description selector %d", (int)which);
  }
  if (type)
    *type = sdp ? t : WEFT_SDP_UNSPEC;
  if (!sdp) {
    *sdp_out = NULL;
    return WEFT_OK;
  }
  if (local && pc->transport_mid) {
    char *full = weft__jsep_add_candidates(sdp, pc->transport_mid,
                                           (const char *const *)pc->local_candidates->pdata,
                                           pc->local_candidates->len, pc->gathering_done);
    if (!full)
      return weft__error(WEFT_ERR_INTERNAL, "adding candidates: %s", weft_last_error_message());
    *sdp_out = full;
  } else {
    *sdp_out = g_strdup(sdp);
  }
  return WEFT_OK;
}

int weft__pc_engine_selected_pair(weft_pc *pc, char **local, char **remote) {
  if (!pc->ice)
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  return weft__ice_get_selected_pair(pc->ice, local, remote);
}
