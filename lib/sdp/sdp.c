/* SDP (RFC 8866) parser, tree and writer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "sdp/sdp.h"

/* ---- Tree --------------------------------------------------------------- */

static void attr_free(gpointer p) {
  weft__sdp_attr *a = p;
  g_free(a->name);
  g_free(a->value);
  g_free(a);
}

static void line_free(gpointer p) {
  weft__sdp_line *l = p;
  g_free(l->value);
  g_free(l);
}

static weft__sdp_attr *attr_new(const char *name, const char *value, int line) {
  weft__sdp_attr *a = g_new0(weft__sdp_attr, 1);
  a->name = g_strdup(name);
  a->value = g_strdup(value);
  a->line = line;
  return a;
}

static weft__sdp_line *line_new(char type, const char *value, int line) {
  weft__sdp_line *l = g_new0(weft__sdp_line, 1);
  l->type = type;
  l->value = g_strdup(value);
  l->line = line;
  return l;
}

static void media_free_cb(gpointer p) { weft__sdp_media_free(p); }

static weft__sdp *sdp_alloc(void) {
  weft__sdp *s = g_new0(weft__sdp, 1);
  s->lines = g_ptr_array_new_with_free_func(line_free);
  s->attrs = g_ptr_array_new_with_free_func(attr_free);
  s->media = g_ptr_array_new_with_free_func(media_free_cb);
  return s;
}

weft__sdp *weft__sdp_new(void) {
  weft__sdp *s = sdp_alloc();
  s->origin.username = g_strdup("-");
  s->origin.sess_id = g_strdup("0");
  s->origin.sess_version = g_strdup("0");
  s->origin.nettype = g_strdup("IN");
  s->origin.addrtype = g_strdup("IP4");
  s->origin.address = g_strdup("127.0.0.1");
  s->session_name = g_strdup("-");
  /* RFC 8866 §5.9: t= is mandatory; "0 0" is an unbounded session. */
  weft__sdp_lines_add(s->lines, 't', "0 0");
  return s;
}

static void origin_clear(weft__sdp_origin *o) {
  g_free(o->username);
  g_free(o->sess_id);
  g_free(o->sess_version);
  g_free(o->nettype);
  g_free(o->addrtype);
  g_free(o->address);
  memset(o, 0, sizeof *o);
}

void weft__sdp_free(weft__sdp *s) {
  if (!s)
    return;
  origin_clear(&s->origin);
  g_free(s->session_name);
  g_ptr_array_unref(s->lines);
  g_ptr_array_unref(s->attrs);
  g_ptr_array_unref(s->media);
  g_free(s);
}

weft__sdp_media *weft__sdp_media_new(const char *media, uint16_t port, const char *proto) {
  weft__sdp_media *m = g_new0(weft__sdp_media, 1);
  m->media = g_strdup(media);
  m->port = port;
  m->proto = g_strdup(proto);
  m->formats = g_ptr_array_new_with_free_func(g_free);
  m->lines = g_ptr_array_new_with_free_func(line_free);
  m->attrs = g_ptr_array_new_with_free_func(attr_free);
  return m;
}

void weft__sdp_media_free(weft__sdp_media *m) {
  if (!m)
    return;
  g_free(m->media);
  g_free(m->proto);
  g_ptr_array_unref(m->formats);
  g_ptr_array_unref(m->lines);
  g_ptr_array_unref(m->attrs);
  g_free(m);
}

static void copy_lines(GPtrArray *dst, const GPtrArray *src) {
  for (guint i = 0; i < src->len; i++) {
    const weft__sdp_line *l = g_ptr_array_index(src, i);
    g_ptr_array_add(dst, line_new(l->type, l->value, l->line));
  }
}

static void copy_attrs(GPtrArray *dst, const GPtrArray *src) {
  for (guint i = 0; i < src->len; i++) {
    const weft__sdp_attr *a = g_ptr_array_index(src, i);
    g_ptr_array_add(dst, attr_new(a->name, a->value, a->line));
  }
}

weft__sdp *weft__sdp_copy(const weft__sdp *s) {
  if (!s)
    return NULL;
  weft__sdp *c = sdp_alloc();
  c->version = s->version;
  c->origin.username = g_strdup(s->origin.username);
  c->origin.sess_id = g_strdup(s->origin.sess_id);
  c->origin.sess_version = g_strdup(s->origin.sess_version);
  c->origin.nettype = g_strdup(s->origin.nettype);
  c->origin.addrtype = g_strdup(s->origin.addrtype);
  c->origin.address = g_strdup(s->origin.address);
  c->session_name = g_strdup(s->session_name);
  copy_lines(c->lines, s->lines);
  copy_attrs(c->attrs, s->attrs);
  for (guint i = 0; i < s->media->len; i++) {
    const weft__sdp_media *m = g_ptr_array_index(s->media, i);
    weft__sdp_media *mc = weft__sdp_media_new(m->media, m->port, m->proto);
    mc->port_count = m->port_count;
    mc->line = m->line;
    for (guint f = 0; f < m->formats->len; f++)
      g_ptr_array_add(mc->formats, g_strdup(g_ptr_array_index(m->formats, f)));
    copy_lines(mc->lines, m->lines);
    copy_attrs(mc->attrs, m->attrs);
    g_ptr_array_add(c->media, mc);
  }
  return c;
}

void weft__sdp_add_media(weft__sdp *s, weft__sdp_media *m) { g_ptr_array_add(s->media, m); }

void weft__sdp_media_add_format(weft__sdp_media *m, const char *fmt) {
  g_ptr_array_add(m->formats, g_strdup(fmt));
}

bool weft__sdp_media_has_format(const weft__sdp_media *m, const char *fmt) {
  for (guint i = 0; i < m->formats->len; i++)
    if (strcmp(g_ptr_array_index(m->formats, i), fmt) == 0)
      return true;
  return false;
}

const char *weft__sdp_lines_get(const GPtrArray *lines, char type) {
  for (guint i = 0; i < lines->len; i++) {
    const weft__sdp_line *l = g_ptr_array_index(lines, i);
    if (l->type == type)
      return l->value;
  }
  return NULL;
}

/* RFC 8866 §5 order of the non-a lines; t and r share a rank so a time
 * description keeps its repeat lines. Media sections use i c b k, the same
 * relative order. */
static const char line_order[] = "iuepcbtrzk";
enum { LINE_RANKS = sizeof line_order }; /* line_rank() is 0..LINE_RANKS-1 */

static int line_rank(char type) {
  if (type == 'r')
    type = 't';
  const char *p = type ? strchr(line_order, type) : NULL;
  return p ? (int)(p - line_order) : LINE_RANKS - 1;
}

/* Inserts @l after every line of lower or equal rank, so the array is always
 * in canonical order and write(parse(x)) re-parses to the same tree even
 * when x was out of order. */
static void lines_insert(GPtrArray *lines, weft__sdp_line *l) {
  int rank = line_rank(l->type);
  guint at = lines->len;
  while (at > 0 && line_rank(((weft__sdp_line *)g_ptr_array_index(lines, at - 1))->type) > rank)
    at--;
  g_ptr_array_insert(lines, (gint)at, l);
}

void weft__sdp_lines_add(GPtrArray *lines, char type, const char *value) {
  lines_insert(lines, line_new(type, value, 0));
}

/* Puts @lines in canonical order, keeping the relative order of lines of
 * one rank (a stable counting sort): the parser appends every line and sorts
 * once at the end, so a description whose lines come in any order parses in
 * linear time (inserting each line at its place was quadratic: 3.7 s for
 * 256 KiB of alternating k= and i= lines). */
static void lines_sort(GPtrArray *lines) {
  guint start[LINE_RANKS + 1] = {0};
  bool sorted = true;
  int prev = 0;
  for (guint i = 0; i < lines->len; i++) {
    int r = line_rank(((const weft__sdp_line *)g_ptr_array_index(lines, i))->type);
    start[r + 1]++;
    sorted = sorted && r >= prev;
    prev = r;
  }
  if (sorted)
    return;
  for (int r = 0; r < LINE_RANKS; r++)
    start[r + 1] += start[r];
  gpointer *out = g_new(gpointer, lines->len);
  for (guint i = 0; i < lines->len; i++) {
    weft__sdp_line *l = g_ptr_array_index(lines, i);
    out[start[line_rank(l->type)]++] = l;
  }
  memcpy(lines->pdata, out, lines->len * sizeof *out);
  g_free(out);
}

const weft__sdp_attr *weft__sdp_attr_next(const GPtrArray *attrs, const char *name, guint *pos) {
  for (guint i = pos ? *pos : 0; i < attrs->len; i++) {
    const weft__sdp_attr *a = g_ptr_array_index(attrs, i);
    if (strcmp(a->name, name) == 0) {
      if (pos)
        *pos = i + 1;
      return a;
    }
  }
  if (pos)
    *pos = attrs->len;
  return NULL;
}

const weft__sdp_attr *weft__sdp_attr_find(const GPtrArray *attrs, const char *name) {
  return weft__sdp_attr_next(attrs, name, NULL);
}

const char *weft__sdp_attr_get(const GPtrArray *attrs, const char *name) {
  const weft__sdp_attr *a = weft__sdp_attr_find(attrs, name);
  if (!a)
    return NULL;
  return a->value ? a->value : "";
}

weft__sdp_attr *weft__sdp_attr_add(GPtrArray *attrs, const char *name, const char *value) {
  weft__sdp_attr *a = attr_new(name, value, 0);
  g_ptr_array_add(attrs, a);
  return a;
}

weft__sdp_attr *weft__sdp_attr_insert(GPtrArray *attrs, guint index, const char *name,
                                      const char *value) {
  weft__sdp_attr *a = attr_new(name, value, 0);
  g_ptr_array_insert(attrs, index > attrs->len ? -1 : (gint)index, a);
  return a;
}

guint weft__sdp_attr_remove(GPtrArray *attrs, const char *name) {
  guint n = 0;
  for (guint i = 0; i < attrs->len;) {
    const weft__sdp_attr *a = g_ptr_array_index(attrs, i);
    if (strcmp(a->name, name) == 0) {
      g_ptr_array_remove_index(attrs, i);
      n++;
    } else {
      i++;
    }
  }
  return n;
}

const char *weft__sdp_media_mid(const weft__sdp_media *m) {
  const char *v = weft__sdp_attr_get(m->attrs, "mid");
  return v && *v ? v : NULL;
}

weft__sdp_media *weft__sdp_find_mid(const weft__sdp *s, const char *mid, guint *index_out) {
  if (!mid)
    return NULL;
  for (guint i = 0; i < s->media->len; i++) {
    weft__sdp_media *m = g_ptr_array_index(s->media, i);
    const char *v = weft__sdp_media_mid(m);
    if (v && strcmp(v, mid) == 0) {
      if (index_out)
        *index_out = i;
      return m;
    }
  }
  return NULL;
}

bool weft__sdp_parse_u64(const char *str, uint64_t *out) {
  if (!str || !*str)
    return false;
  uint64_t v = 0;
  for (const char *p = str; *p; p++) {
    if (*p < '0' || *p > '9')
      return false;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/* ---- Parser ------------------------------------------------------------- */

typedef struct parser {
  weft__sdp *s;
  weft__sdp_media *cur; /* the m-section being filled, NULL at session level */
  int lineno;
  const char *line; /* the current line, for error messages */
  size_t line_len;
  enum { ST_V, ST_O, ST_S, ST_SESSION } state;
  bool seen_t;
} parser;

/* Formats "SDP line N: <what>: '<line>'" with the line shortened and its
 * control and non-ASCII bytes escaped (weft__escape), so the message is safe
 * to log. */
static int fail(const parser *p, const char *fmt, ...) WEFT__PRINTF(2, 3);
static int fail(const parser *p, const char *fmt, ...) {
  char excerpt[WEFT__ESCAPE_BUF];
  weft__escape(excerpt, sizeof excerpt, p->line, p->line_len);
  va_list ap;
  va_start(ap, fmt);
  char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  int rc = weft__error(WEFT_ERR_SYNTAX, "SDP line %d: %s: '%s'", p->lineno, what, excerpt);
  WLOG_D("sdp", "%s", weft__error_message());
  g_free(what);
  return rc;
}

/* RFC 8866 §9 token-char. */
static bool is_token_char(unsigned char c) {
  if (c >= '0' && c <= '9')
    return true;
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
    return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`{|}~", c) != NULL;
}

static bool is_token(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!is_token_char((unsigned char)*s))
      return false;
  return true;
}

static bool is_digits(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return false;
  return true;
}

/* Splits on spaces, collapsing runs (tolerating doubled spaces some stacks
 * emit). Returns a NULL-terminated vector, *n set. */
static char **split_spaces(const char *v, guint *n) {
  GPtrArray *a = g_ptr_array_new();
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == '\t')
      p++;
    if (!*p)
      break;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\t')
      p++;
    g_ptr_array_add(a, g_strndup(start, (gsize)(p - start)));
  }
  *n = a->len;
  g_ptr_array_add(a, NULL);
  return (char **)g_ptr_array_free(a, FALSE);
}

static int parse_origin(parser *p, const char *v) {
  guint n;
  char **t = split_spaces(v, &n);
  int rc = 0;
  /* RFC 8866 §5.2: six fields; sess-id and sess-version are numeric. */
  if (n != 6)
    rc = fail(p, "o= needs 6 fields, found %u", n);
  else if (!is_digits(t[1]) || !is_digits(t[2]))
    rc = fail(p, "o= session id and version must be decimal numbers");
  if (rc == 0) {
    weft__sdp_origin *o = &p->s->origin;
    o->username = g_strdup(t[0]);
    o->sess_id = g_strdup(t[1]);
    o->sess_version = g_strdup(t[2]);
    o->nettype = g_strdup(t[3]);
    o->addrtype = g_strdup(t[4]);
    o->address = g_strdup(t[5]);
  }
  g_strfreev(t);
  return rc;
}

static int parse_port(const char *s, uint16_t *port, uint32_t *count) {
  const char *slash = strchr(s, '/');
  char *num = slash ? g_strndup(s, (gsize)(slash - s)) : g_strdup(s);
  uint64_t v = 0, c = 0;
  bool ok = weft__sdp_parse_u64(num, &v) && v <= 65535;
  g_free(num);
  if (ok && slash) /* RFC 8866 §5.14: "<port>/<number of ports>" */
    ok = weft__sdp_parse_u64(slash + 1, &c) && c >= 1 && c <= 65535;
  if (!ok)
    return -1;
  *port = (uint16_t)v;
  *count = (uint32_t)c;
  return 0;
}

static int parse_media(parser *p, const char *v) {
  if (p->s->media->len >= WEFT__SDP_MAX_MEDIA)
    return fail(p, "more than %d m-sections", WEFT__SDP_MAX_MEDIA);
  guint n;
  char **t = split_spaces(v, &n);
  int rc = 0;
  uint16_t port = 0;
  uint32_t count = 0;
  /* RFC 8866 §5.14: m=<media> <port>[/<n>] <proto> 1*(SP <fmt>) */
  if (n < 1 || !is_token(t[0]))
    rc = fail(p, "m= has no media type");
  else if (n < 2 || parse_port(t[1], &port, &count) < 0)
    rc = fail(p, "m= has a bad port '%s'", n < 2 ? "" : t[1]);
  else if (n < 3)
    rc = fail(p, "m= has no transport protocol");
  else if (n < 4)
    rc = fail(p, "m= has no media format");
  else if (n - 3 > WEFT__SDP_MAX_FORMATS)
    rc = fail(p, "m= has more than %d formats", WEFT__SDP_MAX_FORMATS);
  if (rc == 0) {
    for (const char *c = t[2]; *c; c++)
      if (!is_token_char((unsigned char)*c) && *c != '/') {
        rc = fail(p, "m= has a bad transport protocol '%s'", t[2]);
        break;
      }
  }
  for (guint i = 3; rc == 0 && i < n; i++)
    if (!is_token(t[i]))
      rc = fail(p, "m= has a bad format '%s'", t[i]);
  if (rc == 0) {
    weft__sdp_media *m = weft__sdp_media_new(t[0], port, t[2]);
    m->port_count = count;
    m->line = p->lineno;
    for (guint i = 3; i < n; i++)
      weft__sdp_media_add_format(m, t[i]);
    g_ptr_array_add(p->s->media, m);
    p->cur = m;
  }
  g_strfreev(t);
  return rc;
}

static int parse_attr(parser *p, const char *v) {
  const char *colon = strchr(v, ':');
  char *name = colon ? g_strndup(v, (gsize)(colon - v)) : g_strdup(v);
  if (!is_token(name)) {
    g_free(name);
    return fail(p, "a= has a bad attribute name");
  }
  GPtrArray *attrs = p->cur ? p->cur->attrs : p->s->attrs;
  weft__sdp_attr *a = attr_new(name, colon ? colon + 1 : NULL, p->lineno);
  g_ptr_array_add(attrs, a);
  g_free(name);
  return 0;
}

/* Checks the fields of the "other" lines whose shape we rely on. */
static int check_line(parser *p, char type, const char *v) {
  guint n;
  int rc = 0;
  if (type == 'c') {
    /* RFC 8866 §5.7: c=<nettype> <addrtype> <connection-address> */
    char **t = split_spaces(v, &n);
    if (n != 3)
      rc = fail(p, "c= needs 3 fields, found %u", n);
    g_strfreev(t);
  } else if (type == 't') {
    /* RFC 8866 §5.9: t=<start-time> <stop-time> */
    char **t = split_spaces(v, &n);
    if (n != 2 || !is_digits(t[0]) || !is_digits(t[1]))
      rc = fail(p, "t= needs two decimal times");
    g_strfreev(t);
  } else if (type == 'b') {
    /* RFC 8866 §5.8: b=<bwtype>:<bandwidth> */
    const char *colon = strchr(v, ':');
    if (!colon || colon == v || !is_digits(colon + 1))
      rc = fail(p, "b= must be <type>:<number>");
  }
  return rc;
}

static int parse_line(parser *p, char type, const char *v) {
  switch (p->state) {
  case ST_V:
    /* RFC 8866 §5.1: the description starts with v=0. */
    if (type != 'v')
      return fail(p, "expected v=0 as the first line");
    if (strcmp(v, "0") != 0)
      return fail(p, "unsupported SDP version");
    p->state = ST_O;
    return 0;
  case ST_O:
    if (type != 'o')
      return fail(p, "expected o= after v=");
    p->state = ST_S;
    return parse_origin(p, v);
  case ST_S:
    if (type != 's')
      return fail(p, "expected s= after o=");
    p->s->session_name = g_strdup(v);
    p->state = ST_SESSION;
    return 0;
  case ST_SESSION:
    break;
  }
  switch (type) {
  case 'a':
    return parse_attr(p, v);
  case 'm':
    if (!p->seen_t)
      return fail(p, "m= before any t= line");
    return parse_media(p, v);
  case 'i':
  case 'c':
  case 'b':
  case 'k':
    break;
  case 'u':
  case 'e':
  case 'p':
  case 't':
  case 'r':
  case 'z':
    /* RFC 8866 §5: these exist only at session level. */
    if (p->cur)
      return fail(p, "'%c=' is not allowed in a media section", type);
    if (type == 'r' && !p->seen_t)
      return fail(p, "r= without a preceding t=");
    if (type == 't')
      p->seen_t = true;
    break;
  case 'v':
  case 'o':
  case 's':
    return fail(p, "'%c=' may appear only once, at the start", type);
  default:
    return fail(p, "unknown line type '%c'", type);
  }
  int rc = check_line(p, type, v);
  if (rc < 0)
    return rc;
  /* Appended in order of appearance; lines_sort() orders them at the end. */
  g_ptr_array_add(p->cur ? p->cur->lines : p->s->lines, line_new(type, v, p->lineno));
  return 0;
}

int weft__sdp_parse_len(const char *text, size_t len, weft__sdp **out) {
  if (!out)
    return weft__error(WEFT_ERR_INVALID_ARG, "SDP: NULL output");
  *out = NULL;
  if (!text)
    return weft__error(WEFT_ERR_INVALID_ARG, "SDP: NULL text");
  if (len > WEFT__SDP_MAX_LEN)
    return weft__error(WEFT_ERR_SYNTAX, "SDP line 1: description is %zu bytes, limit %d", len,
                       WEFT__SDP_MAX_LEN);
  parser p = {.s = sdp_alloc(), .state = ST_V};
  size_t pos = 0;
  int rc = 0;
  while (rc == 0 && pos < len) {
    const char *l = text + pos;
    const char *nl = memchr(l, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - l) : len - pos;
    pos += n + (nl ? 1 : 0);
    p.lineno++;
    p.line = l;
    p.line_len = n;
    /* RFC 8866 §5 mandates CRLF; LF alone is accepted as §5 suggests. */
    if (n && l[n - 1] == '\r')
      n--;
    /* Trailing blanks are invisible in signaling UIs and would poison
     * tokens such as ice-pwd. */
    while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
      n--;
    p.line_len = n;
    if (p.lineno > WEFT__SDP_MAX_LINES) {
      rc = fail(&p, "more than %d lines", WEFT__SDP_MAX_LINES);
      break;
    }
    if (n == 0)
      continue; /* tolerate blank lines (copy-paste, trailing CRLF CRLF) */
    if (n > WEFT__SDP_MAX_LINE) {
      rc = fail(&p, "line longer than %d bytes", WEFT__SDP_MAX_LINE);
      break;
    }
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)l[i];
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        rc = fail(&p, "control character 0x%02x at column %zu", c, i + 1);
        break;
      }
    }
    if (rc < 0)
      break;
    if (!weft__utf8_valid(l, n)) {
      rc = fail(&p, "invalid UTF-8");
      break;
    }
    if (n < 2 || l[1] != '=') {
      rc = fail(&p, "expected '<letter>=<value>'");
      break;
    }
    if (l[0] < 'a' || l[0] > 'z') {
      rc = fail(&p, "bad line type '%c'", l[0]);
      break;
    }
    char *value = g_strndup(l + 2, n - 2);
    rc = parse_line(&p, l[0], value);
    g_free(value);
  }
  if (rc == 0) {
    p.lineno = p.lineno ? p.lineno : 1;
    p.line = "";
    p.line_len = 0;
    if (p.state == ST_V)
      rc = fail(&p, "empty description, expected v=0");
    else if (p.state == ST_O)
      rc = fail(&p, "description ends before o=");
    else if (p.state == ST_S)
      rc = fail(&p, "description ends before s=");
    else if (!p.seen_t)
      rc = fail(&p, "no t= line"); /* RFC 8866 §5.9: mandatory */
  }
  if (rc < 0) {
    weft__sdp_free(p.s);
    return rc;
  }
  lines_sort(p.s->lines);
  for (guint i = 0; i < p.s->media->len; i++)
    lines_sort(((weft__sdp_media *)g_ptr_array_index(p.s->media, i))->lines);
  *out = p.s;
  return 0;
}

int weft__sdp_parse(const char *text, weft__sdp **out) {
  return weft__sdp_parse_len(text, text ? strlen(text) : 0, out);
}

/* ---- Writer ------------------------------------------------------------- */

static void write_lines_of(GString *g, const GPtrArray *lines, const char *types) {
  for (const char *t = types; *t; t++)
    for (guint i = 0; i < lines->len; i++) {
      const weft__sdp_line *l = g_ptr_array_index(lines, i);
      if (l->type == *t)
        g_string_append_printf(g, "%c=%s\r\n", l->type, l->value);
    }
}

static void write_attrs(GString *g, const GPtrArray *attrs) {
  for (guint i = 0; i < attrs->len; i++) {
    const weft__sdp_attr *a = g_ptr_array_index(attrs, i);
    if (a->value)
      g_string_append_printf(g, "a=%s:%s\r\n", a->name, a->value);
    else
      g_string_append_printf(g, "a=%s\r\n", a->name);
  }
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

char *weft__sdp_write(const weft__sdp *s) {
  if (!s)
    return NULL;
  GString *g = g_string_sized_new(1024);
  const weft__sdp_origin *o = &s->origin;
  g_string_append_printf(g, "v=%d\r\no=%s %s %s %s %s %s\r\ns=%s\r\n", s->version,
                         or_dash(o->username), o->sess_id ? o->sess_id : "0",
                         o->sess_version ? o->sess_version : "0", o->nettype ? o->nettype : "IN",
                         o->addrtype ? o->addrtype : "IP4", o->address ? o->address : "127.0.0.1",
                         s->session_name ? s->session_name : "-");
  /* RFC 8866 §5: i u e p c b, then time descriptions (t with its r lines,
   * kept in their original interleaving), then z k a. */
  write_lines_of(g, s->lines, "iuepcb");
  for (guint i = 0; i < s->lines->len; i++) {
    const weft__sdp_line *l = g_ptr_array_index(s->lines, i);
    if (l->type == 't' || l->type == 'r')
      g_string_append_printf(g, "%c=%s\r\n", l->type, l->value);
  }
  write_lines_of(g, s->lines, "zk");
  write_attrs(g, s->attrs);
  for (guint i = 0; i < s->media->len; i++) {
    const weft__sdp_media *m = g_ptr_array_index(s->media, i);
    g_string_append_printf(g, "m=%s %u", m->media, m->port);
    if (m->port_count)
      g_string_append_printf(g, "/%u", m->port_count);
    g_string_append_printf(g, " %s", m->proto);
    for (guint f = 0; f < m->formats->len; f++)
      g_string_append_printf(g, " %s", (const char *)g_ptr_array_index(m->formats, f));
    g_string_append(g, "\r\n");
    write_lines_of(g, m->lines, "icbk");
    write_attrs(g, m->attrs);
  }
  return g_string_free(g, FALSE);
}
