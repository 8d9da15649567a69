/*
 * examples/signaling — pluggable signaling transports for the weft examples
 * (DESIGN §5). Not part of the library: the examples link it as a static
 * library `weft_signaling` (GLib, json-glib, libsoup-3.0).
 *
 * One interface for every transport: a sig_session carries JSON messages
 * between this program and ONE remote peer. The messages are the ones a
 * browser's RTCPeerConnection code exchanges:
 *
 *   {"type":"offer","sdp":"v=0..."}            {"type":"answer","sdp":"v=0..."}
 *   {"type":"candidate","candidate":"candidate:1 1 udp ...",
 *    "sdpMid":"0","sdpMLineIndex":0}           (sdpMid and/or sdpMLineIndex)
 *   {"type":"end-of-candidates"}
 *   {"type":"bye"}                             the remote ended the session
 *   {"type":"error","message":"..."}           from the transport itself (an HTTP
 *                                              failure, a timeout); the session is dead
 *
 * Optional members (ignored where they mean nothing):
 *   - candidate: "usernameFragment" (RTCIceCandidateInit's; the HTTP server
 *     fills it from the fragment's a=ice-ufrag).
 *   - error: "status", an HTTP status. The HTTP client sets it to the reply's
 *     status (absent for a transport failure). On the HTTP server side, an
 *     application error with a "status" of 400..599 is replied with that
 *     status instead of 500 (say 400 for an offer it cannot use).
 *
 * Threading: a transport runs on the thread-default GMainContext of the thread
 * that created it (g_main_context_ref_thread_default()); every callback runs
 * there, and every function must be called there.
 *
 * Transports:
 *   - HTTP offer/answer server, the WHIP shape (sig_http_server_*):
 *       POST   /offer          Content-Type: application/sdp, body the offer.
 *                              Reply 201 Created, Content-Type: application/sdp,
 *                              Location: /session/<id>, body the answer.
 *       PATCH  /session/<id>   Content-Type: application/trickle-ice-sdpfrag
 *                              (RFC 8840 fragment: a=mid / a=candidate /
 *                              a=end-of-candidates lines). Reply 204.
 *       DELETE /session/<id>   ends the session (the app gets "bye"). Reply 200.
 *       GET    /health         200, text/plain "ok".
 *       OPTIONS *              CORS preflight (204); every reply carries
 *                              Access-Control-Allow-Origin: * and exposes Location.
 *     Errors: 400 (malformed SDP or fragment, text/plain reason), 404, 405,
 *     413 (body over 256 KiB), 415 (wrong Content-Type), 503 (too many sessions),
 *     504 (the application did not answer within 10 s), 500 (it sent an error).
 *   - HTTP offer/answer client (sig_http_client_new): the other end of the same
 *     protocol, so it talks to any WHIP-shaped endpoint.
 */
#ifndef WEFT_EXAMPLES_SIGNALING_H
#define WEFT_EXAMPLES_SIGNALING_H

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct sig_session sig_session;

/* Called for each message from the remote (msg is borrowed: copy what you
 * keep). Runs on the transport's GMainContext. The handler may call
 * sig_session_send() and sig_session_close() on @s. */
typedef void (*sig_message_fn)(sig_session *s, JsonObject *msg, void *user_data);

sig_session *sig_session_ref(sig_session *s);
void sig_session_unref(sig_session *s);

/* Installs the message handler. Messages that arrive before a handler is set
 * are queued and delivered (from an idle callback on the transport's context)
 * once it is. @destroy, if not NULL, frees @user_data when the handler is
 * replaced or the session is finalized. */
void sig_session_set_handler(sig_session *s, sig_message_fn fn, void *user_data,
                             GDestroyNotify destroy);

/* Sends one message (borrowed). Returns FALSE and sets @error when this
 * transport cannot carry it now: a malformed message (G_IO_ERROR_INVALID_ARGUMENT),
 * a closed session (G_IO_ERROR_CLOSED), or a message the protocol has no place
 * for, e.g. a candidate from the HTTP server side after its answer
 * (G_IO_ERROR_NOT_SUPPORTED). Delivery itself is asynchronous: failures later
 * arrive as an "error" message. */
gboolean sig_session_send(sig_session *s, JsonObject *msg, GError **error);

/* A short human description for logs, e.g. "http 127.0.0.1:41234 session 3".
 * Owned by the session. */
const char *sig_session_describe(sig_session *s);

/* The other end's address, "host:port" (the HTTP client's address for a
 * server session, the endpoint for a client session); "" if unknown. Owned by
 * the session. (Added for the echo-server's "remote" log key.) */
const char *sig_session_get_remote(sig_session *s);

/* Ends the session from this side: no callback runs after this returns. The
 * HTTP client sends DELETE (fire and forget); the HTTP server forgets the
 * session (a later PATCH/DELETE gets 404; an unanswered POST gets 500).
 * Idempotent. The caller still owns its references. */
void sig_session_close(sig_session *s);

/* ---- HTTP offer/answer server (WHIP shape) ------------------------------- */

typedef struct sig_http_server sig_http_server;

/* A POST /offer created @s. The callback borrows @s (sig_session_ref() to keep
 * it); the server also holds a reference until the session is closed, deleted
 * or the server freed. The first message delivered on @s is the offer,
 * delivered after this callback returns. Reply by sending {"type":"answer"}
 * (every candidate inside: the protocol has no way to send the server's
 * candidates later) or {"type":"error","message":...} (becomes 500). */
typedef void (*sig_http_session_fn)(sig_http_server *srv, sig_session *s, void *user_data);

/* Listens on @host:@port (port 0 = an ephemeral port, see get_port).
 * @max_sessions: open sessions at once; more POSTs get 503. Returns NULL and
 * sets @error when the address cannot be bound. */
sig_http_server *sig_http_server_new(const char *host, guint16 port, guint max_sessions,
                                     sig_http_session_fn on_session, void *user_data,
                                     GError **error);
guint16 sig_http_server_get_port(sig_http_server *srv);
/* Open sessions right now. */
guint sig_http_server_get_session_count(sig_http_server *srv);
/* Stops listening, closes every session (no callback runs after this). */
void sig_http_server_free(sig_http_server *srv);

/* ---- HTTP offer/answer client -------------------------------------------- */

/* A session towards the endpoint @url (http://host:port/offer). Nothing is
 * sent until the application sends its offer. Then:
 *   offer              -> POST @url; the 201 reply is delivered as "answer"
 *   candidate / end-of-candidates
 *                      -> PATCH <Location> with an RFC 8840 fragment, one
 *                         request per message, in order; queued until the
 *                         answer (and its Location) arrived
 *   bye                -> DELETE <Location>
 * Any non-2xx reply or transport failure is delivered as "error" with the
 * status and body. Returns NULL and sets @error on a malformed URL. */
sig_session *sig_http_client_new(const char *url, GError **error);

G_END_DECLS

#endif
