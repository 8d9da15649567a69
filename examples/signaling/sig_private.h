/*
 * examples/signaling — internals shared by the transports (not installed).
 *
 * A transport "subclasses" sig_session by embedding it as its first member
 * and filling a sig_session_class. The base object owns everything the
 * public API promises for every transport: reference counting, the handler,
 * the queue of undelivered messages and the "no callback after close" rule.
 */
#ifndef WEFT_EXAMPLES_SIG_PRIVATE_H
#define WEFT_EXAMPLES_SIG_PRIVATE_H

#include "signaling.h"

typedef struct sig_session_class {
  /* Called with a well-formed message (it has a string "type") on an open
   * session. */
  gboolean (*send)(sig_session *s, JsonObject *msg, GError **error);
  /* Called once, from sig_session_close(), after the base marked the session
   * closed and dropped its queue. */
  void (*close)(sig_session *s);
  /* Frees the transport's fields (not the struct itself). */
  void (*finalize)(sig_session *s);
} sig_session_class;

struct sig_session {
  const sig_session_class *klass;
  gint ref_count;
  GMainContext *context;
  char *description;
  char *remote; /* "host:port" of the other end, for logs */
  gboolean closed;

  sig_message_fn fn;
  void *fn_data;
  GDestroyNotify fn_destroy;

  GQueue pending; /* JsonObject * (owned), waiting for delivery */
  GSource *idle;  /* delivers @pending; NULL when none is scheduled */
};

/* Initializes the base part of a freshly allocated (zeroed) transport. */
void sig_session_init(sig_session *s, const sig_session_class *klass);
/* Replaces the description shown by sig_session_describe(). */
void sig_session_set_description(sig_session *s, const char *description);
void sig_session_set_remote(sig_session *s, const char *remote);
/* Queues @msg (takes ownership) for the handler; it is delivered from an
 * idle callback so that transports never call the application re-entrantly.
 * Dropped if the session is closed. */
void sig_session_deliver(sig_session *s, JsonObject *msg);
/* Convenience: delivers {"type":"error","message":...[,"status":N]}
 * (status 0 = none). */
void sig_session_deliver_error(sig_session *s, guint status, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* A deep copy of @o (json_node_copy() would share the object). */
JsonObject *sig_json_copy(JsonObject *o);

/* Reads msg.type, NULL if missing or not a string. */
const char *sig_msg_type(JsonObject *msg);
/* Reads an integer member into *out; FALSE if missing, null or not an
 * integer. */
gboolean sig_msg_int(JsonObject *msg, const char *member, gint64 *out);

/* ---- RFC 8840 fragments and offer checks (sdpfrag.c) --------------------- */

/* What an SDP offer says about its media sections, enough to build trickle
 * fragments that name the right section and ICE credentials. */
typedef struct sig_sdp_section {
  char *mline; /* the m= line's value, e.g. "application 9 UDP/DTLS/SCTP webrtc-datachannel" */
  char *mid;   /* NULL if the section has no a=mid */
  char *ufrag; /* media-level credentials, else the session-level ones */
  char *pwd;
} sig_sdp_section;

typedef struct sig_sdp_info {
  GPtrArray *sections; /* sig_sdp_section * */
} sig_sdp_info;

sig_sdp_info *sig_sdp_info_parse(const char *sdp);
void sig_sdp_info_free(sig_sdp_info *info);

/* Builds the fragment for one trickle message: a candidate line
 * ("candidate:..." or "a=candidate:...") or, with @candidate NULL,
 * a=end-of-candidates. @mid NULL and @mline_index < 0 mean "unknown" (the
 * first section is used). @info may be NULL. Returns a new string. */
char *sig_sdpfrag_format(const sig_sdp_info *info, const char *candidate, const char *mid,
                         int mline_index);

/* Parses an application/trickle-ice-sdpfrag body into the messages it
 * carries, in order ("candidate" objects and at most one trailing
 * "end-of-candidates"); appends them to @out (JsonObject *, owned). Returns
 * FALSE with a human reason (g_free) when the fragment is malformed; @out is
 * then left unchanged. */
gboolean sig_sdpfrag_parse(const char *body, gsize len, GPtrArray *out, char **reason);

/* A cheap structural check of an SDP offer (UTF-8, "v=0" first, x=value
 * lines, o=/s=/t= and at least one m= line). The real parse is the
 * application's; this only turns obvious garbage into a clear 400. */
gboolean sig_sdp_check(const char *body, gsize len, char **reason);

#endif
