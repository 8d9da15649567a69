/*
 * pc-level ICE restart (RFC 8445 §9, JSEP RFC 9429 §4.1.10 / §5.2.1) and
 * ICE reports that reach the application. Engine thread only; called from
 * pc.c at the few points negotiation touches ICE credentials.
 */
#ifndef WEFT_PC_ICE_RESTART_H
#define WEFT_PC_ICE_RESTART_H

#include "pc/pc.h"

/* W3C restartIce() / the ice_restart offer option: the next offer carries
 * new local credentials and restarts ICE when applied. @fire_negotiation:
 * restartIce() fires negotiation-needed; the offer option does not.
 * WEFT_ERR_CLOSED. */
int weft__pc_engine_restart_ice(weft_pc *pc, bool fire_negotiation);

/* weft__pc_engine_init(), once the agent exists: ICE reports (a TURN server
 * that gave no relay candidate...) reach on_error. */
void weft__pc_ice_init(weft_pc *pc);

/* weft__pc_engine_create_offer(), before it writes the offer: picks the new
 * credentials if a restart was requested (answers keep the current ones). */
void weft__pc_ice_before_offer(weft_pc *pc);

/* apply_local(), once the credentials of the description are checked: for an
 * offer with newly prepared credentials, restarts ICE with them (gathering
 * starts again with the description). */
int weft__pc_ice_before_local(weft_pc *pc, weft_sdp_type type);

/* weft__pc_engine_set_remote(), for every remote offer: an offer of ours
 * written but never applied loses its prepared credentials (our answer
 * keeps the current ones; a requested restart waits for our next offer). */
void weft__pc_ice_remote_offer(weft_pc *pc);

/* weft__pc_engine_set_remote(): the remote description changes the ICE
 * ufrag of the current one. An offer is a remote-initiated restart: ICE
 * restarts here, the answer carries our new credentials. An answer may do
 * it only in reply to our restart offer; otherwise
 * WEFT_ERR_INVALID_ACCESS. */
int weft__pc_ice_remote_credentials_changed(weft_pc *pc, weft_sdp_type type);

#endif
