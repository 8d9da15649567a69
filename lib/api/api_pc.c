/*
 * Public peer-connection functions: argument checks, marshalling onto the
 * engine (weft__context_invoke_sync), references and handler slots. No
 * protocol logic lives here.
 */
#include <string.h>

#include "pc/ice_restart.h"
#include "pc/pc.h"

#define CHECK_PC(pc)                                                                               \
  do {                                                                                             \
    if (!(pc))                                                                                     \
      return weft__error(WEFT_ERR_INVALID_ARG, "%s: pc is NULL", __func__);                        \
  } while (0)

/* ---- Lifecycle ------------------------------------------------------------- */

typedef struct {
  weft_pc *pc;
  int rc;
} init_call;

static void init_on_engine(void *p) {
  init_call *c = p;
  c->rc = weft__pc_engine_init(c->pc);
}

static void close_on_engine(void *p) { weft__pc_engine_close(p); }

weft_pc *weft_pc_new(weft_context *ctx, const weft_config *cfg) {
  weft_context *use = ctx ? weft_context_ref(ctx) : weft__context_default_ref();
  if (!use) {
    weft__error(WEFT_ERR_OPERATION, "could not create the default context");
    return NULL;
  }
  weft_pc *pc = weft__pc_new(use, cfg);
  weft_context_unref(use);
  init_call c = {pc, WEFT_OK};
  int rc = weft__context_invoke_sync(pc->ctx, init_on_engine, &c);
  if (rc < 0 || c.rc < 0) {
    int code = weft_last_error();
    char *msg = g_strdup(weft_last_error_message());
    weft__context_invoke_sync(pc->ctx, close_on_engine, pc);
    weft__pc_release(pc);
    weft__error(code ? code : WEFT_ERR_OPERATION, "%s", msg);
    g_free(msg);
    return NULL;
  }
  weft__error_clear();
  return pc;
}

weft_pc *weft_pc_ref(weft_pc *pc) {
  if (pc)
    atomic_fetch_add(&pc->app_refs, 1);
  return pc;
}

int weft_pc_close(weft_pc *pc) {
  CHECK_PC(pc);
  /* After a remote end the pc is closed but its last events may still be
   * queued: the engine drops them (and the references they hold). */
  if (!atomic_load(&pc->closed) || atomic_load(&pc->end_seq) != 0)
    weft__context_invoke_sync(pc->ctx, close_on_engine, pc);
  /* Rule 3: a callback of this pc (or its channels and tracks) that started
   * on the callback thread before the pc was marked closed may still be
   * running there (QUEUED and GLib modes, or a close by another thread that
   * returned early above): wait for it. Not for one this thread runs. */
  weft__context_wait_idle(pc->ctx, pc);
  weft__error_clear();
  return WEFT_OK;
}

void weft_pc_unref(weft_pc *pc) {
  if (!pc || atomic_fetch_sub(&pc->app_refs, 1) != 1)
    return;
  weft_pc_close(pc);
  weft__pc_release(pc);
}

int weft_pc_set_user_data(weft_pc *pc, void *user_data, void (*destroy)(void *)) {
  CHECK_PC(pc);
  weft__user_data_set(&pc->lock, &pc->user_data, &pc->user_destroy, user_data, destroy);
  weft__error_clear();
  return WEFT_OK;
}

void *weft_pc_get_user_data(const weft_pc *pc) {
  if (!pc)
    return NULL;
  return weft__user_data_get((GMutex *)&pc->lock, &pc->user_data);
}

/* ---- Handlers -------------------------------------------------------------- */

/* Replays and flushes emit events, which numbers them in the pc's
 * engine-only event sequence: they run on the engine, never waiting for it
 * (a setter is not a waiting call). */
typedef struct {
  weft_pc *pc;
  unsigned which;
  bool flush;
} replay_job;

static void replay_on_engine(void *p) {
  replay_job *j = p;
  if (j->which)
    weft__pc_replay(j->pc, j->which);
  if (j->flush)
    weft__pc_flush_held(j->pc);
}

static void replay_free(void *p) {
  replay_job *j = p;
  weft__pc_release(j->pc);
  g_free(j);
}

static void post_replay(weft_pc *pc, unsigned which, bool flush) {
  replay_job *j = g_new(replay_job, 1);
  j->pc = weft__pc_hold(pc);
  j->which = which;
  j->flush = flush;
  weft__context_post(pc->ctx, replay_on_engine, j, replay_free);
}

#define SET_HANDLER(name, field, type, replay_bits, flush)                                         \
  int name(weft_pc *pc, type fn) {                                                                 \
    CHECK_PC(pc);                                                                                  \
    if (atomic_load(&pc->closed))                                                                  \
      return weft__error(WEFT_ERR_CLOSED, "%s: peer connection is closed", __func__);              \
    g_mutex_lock(&pc->lock);                                                                       \
    pc->h.field = fn;                                                                              \
    g_mutex_unlock(&pc->lock);                                                                     \
    if (fn && ((replay_bits) || (flush)))                                                          \
      post_replay(pc, (replay_bits), (flush));                                                     \
    weft__error_clear();                                                                           \
    return WEFT_OK;                                                                                \
  }

SET_HANDLER(weft_pc_set_on_ice_candidate, on_ice_candidate, weft_pc_ice_candidate_fn, 0u, true)
SET_HANDLER(weft_pc_set_on_connection_state_change, on_connection_state, weft_pc_state_fn,
            WEFT__MISSED_CONN, false)
SET_HANDLER(weft_pc_set_on_ice_connection_state_change, on_ice_state, weft_pc_ice_state_fn,
            WEFT__MISSED_ICE, false)
SET_HANDLER(weft_pc_set_on_ice_gathering_state_change, on_gathering, weft_pc_gathering_fn,
            WEFT__MISSED_GATHER, false)
SET_HANDLER(weft_pc_set_on_signaling_state_change, on_signaling, weft_pc_signaling_fn,
            WEFT__MISSED_SIGNALING, false)
SET_HANDLER(weft_pc_set_on_negotiation_needed, on_negotiation_needed, weft_pc_negotiation_needed_fn,
            WEFT__MISSED_NEGOTIATION, false)
SET_HANDLER(weft_pc_set_on_data_channel, on_data_channel, weft_pc_data_channel_fn, 0u, true)
SET_HANDLER(weft_pc_set_on_error, on_error, weft_pc_error_fn, 0u, true)
SET_HANDLER(weft_pc_set_on_track, on_track, weft_pc_track_fn, 0u, true)

/* ---- Negotiation ----------------------------------------------------------- */

typedef struct {
  weft_pc *pc;
  int rc;
  weft_sdp_type type;
  const char *sdp;
  char *out;
  weft_sdp_type out_type;
  weft_desc_which which;
  const weft_ice_candidate *cand;
  char *out2;
} neg_call;

static int run_engine(weft_pc *pc, void (*fn)(void *), neg_call *c) {
  if (atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  c->pc = pc;
  c->rc = WEFT_OK;
  int rc = weft__context_invoke_sync(pc->ctx, fn, c);
  if (rc < 0)
    return rc;
  if (c->rc == WEFT_OK)
    weft__error_clear();
  return c->rc;
}

static void offer_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_create_offer(c->pc, &c->out);
}
/* RTCOfferOptions.iceRestart: new credentials in this offer, applied with it. */
static void offer_restart_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_restart_ice(c->pc, false);
  if (c->rc == WEFT_OK)
    c->rc = weft__pc_engine_create_offer(c->pc, &c->out);
}
static void restart_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_restart_ice(c->pc, true);
}
static void answer_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_create_answer(c->pc, &c->out);
}
static void set_local_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_set_local(c->pc, c->type, c->sdp);
}
static void set_remote_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_set_remote(c->pc, c->type, c->sdp);
}
static void add_cand_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_add_candidate(c->pc, c->cand);
}
static void get_desc_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_get_description(c->pc, c->which, &c->out_type, &c->out);
}
static void pair_cb(void *p) {
  neg_call *c = p;
  c->rc = weft__pc_engine_selected_pair(c->pc, &c->out, &c->out2);
}

int weft_pc_create_offer(weft_pc *pc, const weft_offer_options *opts, char **sdp_out) {
  CHECK_PC(pc);
  if (!sdp_out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_create_offer: sdp_out is NULL");
  *sdp_out = NULL;
  bool restart = opts &&
                 opts->struct_size >= offsetof(weft_offer_options, ice_restart) + sizeof(int) &&
                 opts->ice_restart;
  neg_call c = {0};
  int rc = run_engine(pc, restart ? offer_restart_cb : offer_cb, &c);
  if (rc == WEFT_OK)
    *sdp_out = c.out;
  return rc;
}

int weft_pc_create_answer(weft_pc *pc, char **sdp_out) {
  CHECK_PC(pc);
  if (!sdp_out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_create_answer: sdp_out is NULL");
  *sdp_out = NULL;
  neg_call c = {0};
  int rc = run_engine(pc, answer_cb, &c);
  if (rc == WEFT_OK)
    *sdp_out = c.out;
  return rc;
}

int weft_pc_set_local_description(weft_pc *pc, weft_sdp_type type, const char *sdp) {
  CHECK_PC(pc);
  if ((int)type < WEFT_SDP_UNSPEC || type > WEFT_SDP_ROLLBACK)
    return weft__error(WEFT_ERR_INVALID_ARG, "unknown SDP type %d", (int)type);
  neg_call c = {0};
  c.type = type;
  c.sdp = sdp;
  return run_engine(pc, set_local_cb, &c);
}

int weft_pc_set_remote_description(weft_pc *pc, weft_sdp_type type, const char *sdp) {
  CHECK_PC(pc);
  if (type == WEFT_SDP_UNSPEC || (int)type < 0 || type > WEFT_SDP_ROLLBACK)
    return weft__error(WEFT_ERR_INVALID_ARG, "set_remote_description needs a type (offer, "
                                             "answer, pranswer or rollback)");
  neg_call c = {0};
  c.type = type;
  c.sdp = sdp;
  return run_engine(pc, set_remote_cb, &c);
}

int weft_pc_add_ice_candidate(weft_pc *pc, const weft_ice_candidate *cand) {
  CHECK_PC(pc);
  neg_call c = {0};
  c.cand = cand;
  return run_engine(pc, add_cand_cb, &c);
}

int weft_pc_get_description(weft_pc *pc, weft_desc_which which, weft_sdp_type *type_out,
                            char **sdp_out) {
  CHECK_PC(pc);
  if (!sdp_out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_get_description: sdp_out is NULL");
  *sdp_out = NULL;
  if (type_out)
    *type_out = WEFT_SDP_UNSPEC;
  neg_call c = {0};
  c.which = which;
  int rc = run_engine(pc, get_desc_cb, &c);
  if (rc == WEFT_OK) {
    *sdp_out = c.out;
    if (type_out)
      *type_out = c.out_type;
  }
  return rc;
}

int weft_pc_get_selected_candidate_pair(weft_pc *pc, char **local, char **remote) {
  CHECK_PC(pc);
  if (!local || !remote)
    return weft__error(WEFT_ERR_INVALID_ARG, "local and remote must not be NULL");
  *local = *remote = NULL;
  neg_call c = {0};
  int rc = run_engine(pc, pair_cb, &c);
  if (rc == WEFT_OK) {
    *local = c.out;
    *remote = c.out2;
  }
  return rc;
}

int weft_pc_restart_ice(weft_pc *pc) {
  CHECK_PC(pc);
  neg_call c = {0};
  return run_engine(pc, restart_cb, &c);
}

int weft_pc_get_local_fingerprint(weft_pc *pc, char **fingerprint_out) {
  CHECK_PC(pc);
  if (!fingerprint_out)
    return weft__error(WEFT_ERR_INVALID_ARG, "fingerprint_out is NULL");
  *fingerprint_out = NULL;
  if (!pc->cert)
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  /* The certificate is immutable once created (before weft_pc_new returned). */
  *fingerprint_out = g_strdup(weft__dtls_cert_fingerprint(pc->cert));
  weft__error_clear();
  return WEFT_OK;
}

typedef struct {
  weft_pc *pc;
  size_t v;
} mms_call;

static void mms_cb(void *p) {
  mms_call *c = p;
  c->v = c->pc->remote_max_message_size;
}

int weft_pc_get_max_message_size(weft_pc *pc, size_t *bytes_out) {
  CHECK_PC(pc);
  if (!bytes_out)
    return weft__error(WEFT_ERR_INVALID_ARG, "bytes_out is NULL");
  mms_call c = {pc, 0};
  int rc = weft__context_invoke_sync(pc->ctx, mms_cb, &c);
  if (rc < 0)
    return rc;
  *bytes_out = c.v;
  weft__error_clear();
  return WEFT_OK;
}

/* ---- States ---------------------------------------------------------------- */

weft_pc_state weft_pc_get_connection_state(const weft_pc *pc) {
  return pc ? (weft_pc_state)atomic_load(&pc->conn_state) : WEFT_PC_CLOSED;
}
weft_ice_connection_state weft_pc_get_ice_connection_state(const weft_pc *pc) {
  return pc ? (weft_ice_connection_state)atomic_load(&pc->ice_state) : WEFT_ICE_CLOSED;
}
weft_ice_gathering_state weft_pc_get_ice_gathering_state(const weft_pc *pc) {
  return pc ? (weft_ice_gathering_state)atomic_load(&pc->gathering_state) : WEFT_GATHERING_NEW;
}
weft_signaling_state weft_pc_get_signaling_state(const weft_pc *pc) {
  return pc ? (weft_signaling_state)atomic_load(&pc->signaling_state) : WEFT_SIGNALING_CLOSED;
}
