/* ICE restart at the peer-connection level: who restarts when, and what the
 * pc forgets with the old ICE generation. The ICE side is weft__ice_restart. */
#include "pc/ice_restart.h"

/* A new ICE generation gathers from scratch: the old candidates must leave
 * the local description, and gathering_state goes back to gathering when
 * the description that carries the new credentials is applied. */
static int restart_now(weft_pc *pc) {
  int rc = weft__ice_restart(pc->ice);
  if (rc < 0)
    return rc;
  pc->ice_started = false;
  pc->gathering_done = false;
  g_ptr_array_set_size(pc->local_candidates, 0);
  WLOG_I("pc", "pc %p: ICE restart, new ufrag %s", (void *)pc, weft__ice_local_ufrag(pc->ice));
  return WEFT_OK;
}

int weft__pc_engine_restart_ice(weft_pc *pc, bool fire_negotiation) {
  if (atomic_load(&pc->closed) || !pc->ice)
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  /* Before the first negotiation there is nothing to restart: the first
   * offer brings fresh credentials anyway. */
  if (!pc->negotiated_once)
    return WEFT_OK;
  weft__ice_restart_request(pc->ice);
  /* W3C restartIce(): "update the negotiation-needed flag". */
  if (fire_negotiation)
    weft__pc_need_negotiation(pc);
  return WEFT_OK;
}

static void ice_on_error(void *ud, int code, const char *message) {
  weft_pc *pc = ud;
  /* Not fatal (another server or path may still connect): an ICE-detail
   * error; the connection state is left to ICE. */
  weft__pc_emit_error(pc, code, WEFT_DETAIL_ICE_FAILURE, -1, -1, message);
}

void weft__pc_ice_init(weft_pc *pc) { weft__ice_set_on_error(pc->ice, ice_on_error); }

void weft__pc_ice_before_offer(weft_pc *pc) {
  if (pc->ice && weft__ice_restart_requested(pc->ice))
    weft__ice_restart_prepare(pc->ice);
}

int weft__pc_ice_before_local(weft_pc *pc, weft_sdp_type type) {
  if (!pc->ice)
    return weft__error(WEFT_ERR_CLOSED, "peer connection is closed");
  if (type == WEFT_SDP_OFFER && weft__ice_restart_pending(pc->ice))
    return restart_now(pc);
  return WEFT_OK;
}

void weft__pc_ice_remote_offer(weft_pc *pc) {
  if (pc->ice)
    weft__ice_restart_unprepare(pc->ice);
}

int weft__pc_ice_remote_credentials_changed(weft_pc *pc, weft_sdp_type type) {
  if (type == WEFT_SDP_OFFER)
    return restart_now(pc);
  if (weft__ice_restarting(pc->ice))
    return WEFT_OK;
  return weft__error(WEFT_ERR_INVALID_ACCESS,
                     "the answer changes the ICE credentials, but this peer did not restart ICE "
                     "(RFC 8445 §9: only an offer starts a restart)");
}
