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
 *   - Rooms (sig_room_*): a WebSocket client of examples/signaling-server
 *     (doc/rooms.md); sig_room_session_new() makes one peer of a room a
 *     sig_session.
 *   - In-process loopback (sig_inproc_pair_new) and JSON lines on a pair of
 *     streams, e.g. stdin/stdout (sig_pipe_new).
 */
#ifndef WEFT_EXAMPLES_SIGNALING_H
#define WEFT_EXAMPLES_SIGNALING_H

#include <gio/gio.h>
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

/* @o (borrowed) as compact JSON text (g_free): no newline in it, control
 * characters are escaped. */
char *sig_json_to_string(JsonObject *o);
/* Reads a string member of @msg, NULL if missing or not a string. */
const char *sig_msg_string(JsonObject *msg, const char *member);

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

/* ---- Rooms: WebSocket client of examples/signaling-server (room.c) ------ */

/*
 * The room protocol is doc/rooms.md: one WebSocket to ws://HOST:PORT/ws,
 * text frames of one JSON object each. A sig_room is one such connection,
 * joined to one room under one peer id. It connects, sends the join as soon
 * as the socket is open, and then:
 *
 *   - joined        the server accepted the join; @peers are the others
 *                   already in the room ({"peer":Q,"name":N} objects). By the
 *                   room convention THIS side offers to each of them.
 *   - peer_joined   someone joined after us (they will offer to us).
 *   - peer_left     someone left or disconnected.
 *   - message       a relayed offer/answer/candidate/bye from peer @from
 *                   (msg as the server sent it: "type", "from", "to" and the
 *                   type's members; a candidate's "candidate" may be null =
 *                   end of candidates). Not called for peers that have a
 *                   room session (below): those go to the session.
 *   - error         {"type":"error"} from the server (doc/rooms.md codes:
 *                   "unknown-peer", "peer-taken", ...); the connection stays
 *                   open unless @closed follows.
 *   - closed        the connection is gone: could not connect, the server
 *                   closed it (@code is the WebSocket close code, e.g. 1009,
 *                   1008, 1001 at server shutdown), or the network failed
 *                   (@code 0). Nothing else is called afterwards; the app
 *                   still frees the room with sig_room_free().
 *
 * Every callback may be NULL. @msg, @peers and the strings are borrowed
 * (copy what you keep). Threading as for every transport: callbacks run on
 * the thread-default GMainContext of the thread that called
 * sig_room_connect(), and every function must be called there. Callbacks
 * never run from inside a sig_room_* call (no re-entrancy); a callback may
 * call any sig_room_* function, including sig_room_free().
 *
 * Reconnecting (e.g. a file transfer resuming): sig_room_free() the old room
 * and connect again, with the same peer id if the others should recognise
 * you. The old connection's leave is sent before the new connection even
 * opens, so the id is normally free again; a "peer-taken" error says it is
 * not (retry after a short delay).
 *
 * Example (error handling elided):
 *
 *   static void on_joined(sig_room *r, JsonArray *peers, void *app) {
 *     for (guint i = 0; i < json_array_get_length(peers); i++) {
 *       const char *q = json_object_get_string_member(
 *           json_array_get_object_element(peers, i), "peer");
 *       sig_session *s = sig_room_session_new(r, q);   // we offer to q
 *       ... create a weft_pc for q, set s's handler, send the offer on s
 *     }
 *   }
 *   static void on_message(sig_room *r, const char *from, JsonObject *msg, void *app) {
 *     if (!g_strcmp0(json_object_get_string_member(msg, "type"), "offer")) {
 *       sig_session *s = sig_room_session_new(r, from);  // gets this offer
 *       sig_session_set_handler(s, on_signal, pc_for(from), NULL);
 *     }
 *   }
 *   sig_room_callbacks cb = {.joined = on_joined, .message = on_message, ...};
 *   sig_room *r = sig_room_connect("ws://127.0.0.1:8080/ws", "lobby", NULL,
 *                                  "alice", &cb, app, &error);
 */
typedef struct sig_room sig_room;

/* The identifier rule of doc/rooms.md for room and peer ids: 1-64 of
 * [A-Za-z0-9_.-]. FALSE for NULL. */
gboolean sig_valid_id(const char *s);

typedef struct sig_room_callbacks {
  void (*joined)(sig_room *room, JsonArray *peers, void *user_data);
  void (*peer_joined)(sig_room *room, const char *peer, const char *name, void *user_data);
  void (*peer_left)(sig_room *room, const char *peer, void *user_data);
  void (*message)(sig_room *room, const char *from, JsonObject *msg, void *user_data);
  void (*error)(sig_room *room, const char *code, const char *message, void *user_data);
  void (*closed)(sig_room *room, guint16 code, const char *reason, void *user_data);
} sig_room_callbacks;

/* Starts connecting to @url (ws://host:port/ws) and joins @room as @peer
 * (NULL: a random id "p-xxxxxxxx", see sig_room_get_peer) with display name
 * @name (NULL: the peer id). @callbacks is copied. Returns NULL and sets
 * @error only for a malformed URL, room or peer id (1-64 of
 * [A-Za-z0-9_.-]) or name (over 64 bytes / not UTF-8); connection failures
 * arrive later through @closed. */
sig_room *sig_room_connect(const char *url, const char *room, const char *peer, const char *name,
                           const sig_room_callbacks *callbacks, void *user_data, GError **error);

/* Sends @msg (borrowed; an offer, answer, candidate or bye object with its
 * "type") to peer @to, adding "to". Messages sent before the join was
 * accepted are queued and sent right after "joined". FALSE + @error for a
 * message without a string "type" or a bad @to (G_IO_ERROR_INVALID_ARGUMENT)
 * or a closed room (G_IO_ERROR_CLOSED). A target that is not in the room is
 * reported by the server as an "unknown-peer" error. */
gboolean sig_room_send(sig_room *room, const char *to, JsonObject *msg, GError **error);

/* Our peer id (the generated one when NULL was passed), the room id. */
const char *sig_room_get_peer(sig_room *room);
const char *sig_room_get_room(sig_room *room);
/* TRUE between "joined" and leave/close. */
gboolean sig_room_is_joined(sig_room *room);
/* TRUE if @peer is in the room right now (from joined/peer-joined/peer-left). */
gboolean sig_room_has_peer(sig_room *room, const char *peer);
/* The display name of @peer in the room, NULL if it is not there. Owned by
 * the room; valid until the next callback. */
const char *sig_room_get_peer_name(sig_room *room, const char *peer);

/* Ends the connection: sends {"type":"leave"} and closes the WebSocket
 * (code 1000) without waiting; open room sessions are closed. No callback
 * runs after this returns (not even @closed). NULL is a no-op. */
void sig_room_free(sig_room *room);

/* One remote peer of the room as a sig_session, so code written for
 * sig_session (the HTTP transport's users) works unchanged in a room:
 *   send: offer / answer / candidate / bye go to @peer; "end-of-candidates"
 *         is sent as {"type":"candidate","candidate":null}; "error" is
 *         G_IO_ERROR_NOT_SUPPORTED.
 *   receive: relayed messages from @peer, with "candidate":null delivered as
 *         {"type":"end-of-candidates"}; {"type":"bye"} also when @peer leaves
 *         the room; {"type":"error","message":...} when the room connection
 *         closes.
 *   close: sends {"type":"bye"} to @peer (if the room is still up and the
 *         remote did not end first) and detaches from the room.
 * At most one session per peer: creating another replaces the old one
 * (closed, without sending a bye). A session created inside the room's @message callback receives
 * the message being dispatched (typically the offer) as its first message.
 * The room holds a reference until the session is closed or detached; the
 * caller gets its own (sig_session_unref it when done). sig_room_free()
 * closes the room's sessions (saying bye); afterwards their send() fails with
 * G_IO_ERROR_CLOSED, and they stay valid until unreferenced. */
sig_session *sig_room_session_new(sig_room *room, const char *peer);

/* ---- In-process loopback (inproc.c) --------------------------------------- */

/* Two connected sessions in one process (tests, the loopback example): what
 * one sends, the other's handler receives (a deep copy, delivered from an idle
 * callback). Closing one delivers {"type":"bye"} to the other. Both run on
 * the thread-default context of the caller. Unref both when done. */
void sig_inproc_pair_new(sig_session **a, sig_session **b);

/* ---- Lines on streams, e.g. stdin/stdout (pipe.c) ------------------------- */

/* A session over a pair of byte streams: each message is one line of compact
 * JSON ("\n"-terminated). Reads @in asynchronously; a line that is not a JSON
 * object with a string "type", or longer than 1 MiB, is delivered as
 * {"type":"error","message":...} and skipped (a long line is still read
 * whole first: meant for trusted streams). EOF on @in delivers
 * {"type":"bye"} (once; nothing after). Writes to @out are asynchronous, in
 * order. close: stops reading and writing (the streams are not closed; the
 * caller owns them). For stdin/stdout use g_unix_input_stream_new(0, FALSE) /
 * g_unix_output_stream_new(1, FALSE). The session keeps references to both
 * streams. */
sig_session *sig_pipe_new(GInputStream *in, GOutputStream *out);

G_END_DECLS

#endif
