/*
 * examples/common/room_peer — a mesh of weft peer connections driven by the
 * WebSocket room protocol of doc/rooms.md. The chat, file-transfer and
 * video-call examples share it.
 *
 * One rp_room is one room connection (sig_room of examples/signaling: a
 * WebSocket to the room server) and one seat in one room. For every other peer in the room there is
 * one rp_peer holding one weft_pc. The peer that joins offers to every peer listed in its "joined"
 * message; the others wait for its offer. The offerer opens the "chat"
 * channel (ordered, reliable); candidates trickle through "candidate"
 * messages.
 *
 * Threading: the room connection (libsoup) and the weft context both run on the
 * default GMainContext, iterated by the application's GMainLoop, so every
 * callback below runs on that thread and nothing needs a lock.
 *
 * Robustness: whatever arrives from the room (a browser, a broken client, a
 * hostile one) is validated before it is used; malformed messages are
 * reported on stderr and ignored, never trusted.
 */
#ifndef EXAMPLES_ROOM_PEER_H
#define EXAMPLES_ROOM_PEER_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <weft/weft.h>

G_BEGIN_DECLS

typedef struct rp_room rp_room;
typedef struct rp_peer rp_peer;

typedef struct rp_options {
  const char *url;  /* ws://HOST:PORT/ws */
  const char *room; /* room id */
  const char *peer; /* our id; NULL = random */
  const char *name; /* display name; NULL = the peer id */
  int loopback;     /* 1: gather on 127.0.0.1 only; 0: other interfaces; -1: 1 when the
                       URL's host is a loopback address */
  const char *prog; /* prefix of stderr messages */
} rp_options;

/* Every member may be NULL. */
typedef struct rp_callbacks {
  /* Our join was accepted (once per join; again after rp_room_rejoin). */
  void (*joined)(rp_room *r, void *ud);
  /* A peer is in the room: the ones already there when we joined, then the
   * ones that join later. */
  void (*peer_joined)(rp_room *r, const char *peer, const char *name, void *ud);
  void (*peer_left)(rp_room *r, const char *peer, void *ud);
  /* A peer connection was created, before the offer or answer is written:
   * the place to add tracks (offerer side). */
  void (*pc_new)(rp_room *r, rp_peer *p, void *ud);
  void (*pc_state)(rp_room *r, rp_peer *p, weft_pc_state state, void *ud);
  void (*chat_open)(rp_room *r, rp_peer *p, void *ud);
  /* A text message on the chat channel (valid UTF-8, NUL-terminated). */
  void (*chat_message)(rp_room *r, rp_peer *p, const char *text, size_t size, void *ud);
  /* The remote opened a channel other than "chat" (borrowed: weft_dc_ref to
   * keep it, and set its handlers and user data). */
  void (*data_channel)(rp_room *r, rp_peer *p, weft_dc *dc, void *ud);
  /* The remote's offer or answer brought a track (borrowed). */
  void (*track)(rp_room *r, rp_peer *p, weft_track *t, void *ud);
  /* The peer connection with @p is being closed (bye, peer-left, failure,
   * leave): release what the application holds for it. @p is freed after. */
  void (*peer_closed)(rp_room *r, rp_peer *p, void *ud);
  /* The room connection is lost or the join was refused: fatal. */
  void (*error)(rp_room *r, const char *message, void *ud);
} rp_callbacks;

/* Starts connecting and joins. NULL with @error on bad options. */
rp_room *rp_room_new(const rp_options *o, const rp_callbacks *cb, void *ud, GError **error);
/* Closes every peer connection (peer_closed for each), sends "leave" and
 * closes the room connection. No callback runs after it returns. NULL is a
 * no-op. */
void rp_room_free(rp_room *r);
/* Leaves the room (every peer connection closed, the room connection too)
 * and joins it again under the same peer id on a new room connection: new
 * peer connections, and we offer to everyone. */
void rp_room_rejoin(rp_room *r);

const char *rp_room_self(rp_room *r);
const char *rp_room_name(rp_room *r);
/* A snapshot of the current peers (g_ptr_array_unref when done; the peers
 * are borrowed). */
GPtrArray *rp_room_peers(rp_room *r);
rp_peer *rp_room_find_peer(rp_room *r, const char *peer);
/* Sends @text on every open chat channel; returns how many got it. */
int rp_room_send_chat(rp_room *r, const char *text);
/* Sends {"type":"bye","to":peer} and closes our connection with it. */
void rp_room_bye(rp_room *r, rp_peer *p);

const char *rp_peer_id(rp_peer *p);
const char *rp_peer_name(rp_peer *p);
weft_pc *rp_peer_pc(rp_peer *p);
weft_dc *rp_peer_chat(rp_peer *p); /* NULL until there is one */
gboolean rp_peer_is_offerer(rp_peer *p);
void rp_peer_set_user_data(rp_peer *p, void *ud);
void *rp_peer_get_user_data(rp_peer *p);

/* A string member of @o, or NULL when absent or not a string. */
const char *rp_json_str(JsonObject *o, const char *key);
/* An integer member in [@min, @max] into *@out; FALSE otherwise. */
gboolean rp_json_int(JsonObject *o, const char *key, gint64 min, gint64 max, gint64 *out);
/* Parses @text as a JSON object (g_object_unref *@parser when done with the
 * object); NULL when it is not one. */
JsonObject *rp_json_parse(const char *text, size_t size, JsonParser **parser);
/* Prints one JSON object as a line on stdout and flushes. Consumes @o. */
void rp_print(JsonObject *o);
/* As rp_print, with @tail (members already in JSON, e.g. "\"seconds\":1.5")
 * appended: json-glib writes doubles with 17 digits. */
void rp_print_tail(JsonObject *o, const char *tail);
/* Prints {"ev":@ev,"peer":@peer} (+ @key:@value when @key and @value are
 * not NULL) as a line on stdout. */
void rp_print_ev(const char *ev, const char *peer, const char *key, const char *value);
/* Ready-made callbacks printing {"ev":"joined","peer":SELF},
 * {"ev":"peer-joined","peer":P} and {"ev":"peer-left","peer":P}. */
void rp_print_joined(rp_room *r, void *ud);
void rp_print_peer_joined(rp_room *r, const char *peer, const char *name, void *ud);
void rp_print_peer_left(rp_room *r, const char *peer, void *ud);

/* The command-line options every room example takes: --url, --room, --peer,
 * --name, --loopback, --no-loopback. */
typedef struct rp_cmdline {
  char *url, *room, *peer, *name;
  gboolean loopback, no_loopback;
} rp_cmdline;
/* Adds them to the main group of @oc (@c must outlive the parse). */
void rp_cmdline_add(rp_cmdline *c, GOptionContext *oc);
/* The rp_options they give (the strings borrowed from @c). */
rp_options rp_cmdline_options(const rp_cmdline *c, const char *prog);
/* Frees the strings. */
void rp_cmdline_clear(rp_cmdline *c);

/* Installs SIGINT/SIGTERM handlers that quit @loop (from the main loop). */
void rp_quit_on_signals(GMainLoop *loop);
/* Iterates the default GMainContext for up to @us microseconds, or until
 * nothing is pending for a moment: after rp_room_free() the peers and the
 * weft context are released from idle callbacks. */
void rp_drain(gint64 us);

G_END_DECLS

#endif
