/*
 * sdp/ — generic SDP (RFC 8866): parse a session description into a tree,
 * edit it, write it back. Knows nothing of WebRTC; jsep/ builds on it.
 *
 * Every line is kept: a=, and the "other" lines (i= u= e= p= c= b= t= r= z=
 * k=) in their order of appearance, so write(parse(x)) loses nothing.
 * Writing uses the canonical RFC 8866 §5 order (v o s i u e p c b t r z k a,
 * then per media m i c b k a) and CRLF.
 *
 * Ownership: a weft__sdp owns everything below it; strings are g_malloc'd.
 * Pure code, no I/O, no global state: any thread, one object at a time.
 */
#ifndef WEFT_SDP_H
#define WEFT_SDP_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Input limits: bigger inputs are rejected with WEFT_ERR_SYNTAX, so a hostile
 * peer cannot make us allocate or loop without bound. Real offers (Chromium,
 * audio+video+data with all codecs) are ~6 KiB with ~170 lines (34 bytes a
 * line); 64 such video sections stay under 8000 lines. Parsing is linear in
 * the input whatever the order of its lines (doc/negotiation.md). */
enum {
  WEFT__SDP_MAX_LEN = 256 * 1024,
  WEFT__SDP_MAX_LINE = 8 * 1024,
  WEFT__SDP_MAX_LINES = 16384, /* counted with blank ones */
  WEFT__SDP_MAX_MEDIA = 64,
  WEFT__SDP_MAX_FORMATS = 256
};

/* One a= line: "a=name" (value NULL, a flag) or "a=name:value" (value may be
 * ""). line is the 1-based line number in the parsed text, 0 if added. */
typedef struct weft__sdp_attr {
  char *name;
  char *value;
  int line;
} weft__sdp_attr;

/* Any other line: type is the letter ('c', 'b', 'i', 't', ...), value what
 * follows '='. */
typedef struct weft__sdp_line {
  char type;
  char *value;
  int line;
} weft__sdp_line;

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
 * (RFC 8866 §5.2). sess-id/version are kept as decimal strings: stacks use up
 * to 20 digits (weft__sdp_parse_u64 converts). */
typedef struct weft__sdp_origin {
  char *username, *sess_id, *sess_version, *nettype, *addrtype, *address;
} weft__sdp_origin;

typedef struct weft__sdp_media {
  char *media;         /* "audio", "video", "application", ... */
  uint16_t port;       /* 0 = rejected (or bundle-only) */
  uint32_t port_count; /* the "/<n>" after the port, 0 if absent */
  char *proto;         /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", "DTLS/SCTP" */
  GPtrArray *formats;  /* char*, at least one */
  GPtrArray *lines;    /* weft__sdp_line*: i= c= b= k=, in canonical order */
  GPtrArray *attrs;    /* weft__sdp_attr*, in order */
  int line;            /* line of the m= line, 0 if built */
} weft__sdp_media;

typedef struct weft__sdp {
  int version; /* always 0 */
  weft__sdp_origin origin;
  char *session_name; /* s= */
  GPtrArray *lines;   /* weft__sdp_line*: i u e p c b t r z k, canonical order */
  GPtrArray *attrs;   /* session-level weft__sdp_attr* */
  GPtrArray *media;   /* weft__sdp_media*, in m-line order */
} weft__sdp;

/* Parses @text (CRLF or LF line ends, final newline optional, empty lines
 * skipped). On success *out is a new tree (weft__sdp_free). Errors:
 * WEFT_ERR_SYNTAX with "SDP line N: <what>: '<line>'" (v=0 not first, a line
 * without "x=", an unknown or misplaced type letter, a bad o= m= c= line,
 * control characters or invalid UTF-8, limits above exceeded),
 * WEFT_ERR_INVALID_ARG for NULL arguments. */
int weft__sdp_parse(const char *text, weft__sdp **out);
/* Same for a buffer of @len bytes that may contain NULs (rejected). */
int weft__sdp_parse_len(const char *text, size_t len, weft__sdp **out);
/* Serializes @s in canonical order with CRLF; g_free the result. */
char *weft__sdp_write(const weft__sdp *s);

/* An empty session: v=0, o=- 0 0 IN IP4 127.0.0.1, s=-, no t= line. */
weft__sdp *weft__sdp_new(void);
weft__sdp *weft__sdp_copy(const weft__sdp *s);
void weft__sdp_free(weft__sdp *s);

/* Other lines (session: lines of @s; media: lines of @m). */
/* Value of the first line of @type, or NULL. */
const char *weft__sdp_lines_get(const GPtrArray *lines, char type);
/* Adds a line (value copied) at its canonical place (RFC 8866 §5 order). */
void weft__sdp_lines_add(GPtrArray *lines, char type, const char *value);

/* Attributes: work on the attrs array of a session or of a media. */
/* Next attribute named @name at index >= *pos; *pos is moved past it, so a
 * loop `guint i = 0; while ((a = weft__sdp_attr_next(attrs, "candidate", &i)))`
 * visits every one. @pos may be NULL (first match). Names compare exactly. */
const weft__sdp_attr *weft__sdp_attr_next(const GPtrArray *attrs, const char *name, guint *pos);
/* The first attribute named @name, or NULL. */
const weft__sdp_attr *weft__sdp_attr_find(const GPtrArray *attrs, const char *name);
/* Value of the first @name ("" for a flag), or NULL if absent. */
const char *weft__sdp_attr_get(const GPtrArray *attrs, const char *name);
/* Appends a=name[:value] (copied; @value NULL = flag); returns the new one. */
weft__sdp_attr *weft__sdp_attr_add(GPtrArray *attrs, const char *name, const char *value);
/* Inserts at @index (clamped to the end). */
weft__sdp_attr *weft__sdp_attr_insert(GPtrArray *attrs, guint index, const char *name,
                                      const char *value);
/* Removes every attribute named @name; returns how many. */
guint weft__sdp_attr_remove(GPtrArray *attrs, const char *name);

/* Media. */
weft__sdp_media *weft__sdp_media_new(const char *media, uint16_t port, const char *proto);
void weft__sdp_media_free(weft__sdp_media *m);
void weft__sdp_media_add_format(weft__sdp_media *m, const char *fmt);
bool weft__sdp_media_has_format(const weft__sdp_media *m, const char *fmt);
/* Appends @m to @s, which takes ownership. */
void weft__sdp_add_media(weft__sdp *s, weft__sdp_media *m);
/* a=mid value (RFC 5888 §4), NULL if absent or empty. */
const char *weft__sdp_media_mid(const weft__sdp_media *m);
/* The media whose a=mid is @mid, or NULL; *index_out gets its position. */
weft__sdp_media *weft__sdp_find_mid(const weft__sdp *s, const char *mid, guint *index_out);

/* Parses a decimal uint64 occupying all of @str (no sign, no spaces,
 * overflow rejected). Returns false on any defect. */
bool weft__sdp_parse_u64(const char *str, uint64_t *out);

#endif
