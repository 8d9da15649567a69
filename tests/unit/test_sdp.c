/* sdp/: parse the corpus, round trips, line-numbered errors, limits and a
 * mutation fuzz. */
#include <glib.h>
#include <string.h>

#include "core/core.h"
#include "sdp/sdp.h"

#define SDP_DIR WEFT_TEST_DATA_DIR "/sdp"

/* ---- helpers ------------------------------------------------------------ */

static gint cmp_paths(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static GPtrArray *corpus_files(bool malformed) {
  GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
  GDir *dir = g_dir_open(SDP_DIR, 0, NULL);
  g_assert_nonnull(dir);
  const char *name;
  while ((name = g_dir_read_name(dir))) {
    if (!g_str_has_suffix(name, ".sdp"))
      continue;
    if (g_str_has_prefix(name, "malformed-") != malformed)
      continue;
    g_ptr_array_add(files, g_build_filename(SDP_DIR, name, NULL));
  }
  g_dir_close(dir);
  g_ptr_array_sort(files, cmp_paths);
  return files;
}

static char *load(const char *path, gsize *len) {
  char *text = NULL;
  GError *err = NULL;
  g_assert_true(g_file_get_contents(path, &text, len, &err));
  g_assert_no_error(err);
  return text;
}

static char *load_corpus(const char *name) {
  char *path = g_build_filename(SDP_DIR, name, NULL);
  char *t = load(path, NULL);
  g_free(path);
  return t;
}

static void assert_lines_equal(const GPtrArray *a, const GPtrArray *b) {
  g_assert_cmpuint(a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++) {
    const weft__sdp_line *x = g_ptr_array_index(a, i), *y = g_ptr_array_index(b, i);
    g_assert_cmpint(x->type, ==, y->type);
    g_assert_cmpstr(x->value, ==, y->value);
  }
}

static void assert_attrs_equal(const GPtrArray *a, const GPtrArray *b) {
  g_assert_cmpuint(a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++) {
    const weft__sdp_attr *x = g_ptr_array_index(a, i), *y = g_ptr_array_index(b, i);
    g_assert_cmpstr(x->name, ==, y->name);
    g_assert_cmpstr(x->value, ==, y->value);
  }
}

static void assert_sdp_equal(const weft__sdp *a, const weft__sdp *b) {
  g_assert_cmpint(a->version, ==, b->version);
  g_assert_cmpstr(a->origin.username, ==, b->origin.username);
  g_assert_cmpstr(a->origin.sess_id, ==, b->origin.sess_id);
  g_assert_cmpstr(a->origin.sess_version, ==, b->origin.sess_version);
  g_assert_cmpstr(a->origin.nettype, ==, b->origin.nettype);
  g_assert_cmpstr(a->origin.addrtype, ==, b->origin.addrtype);
  g_assert_cmpstr(a->origin.address, ==, b->origin.address);
  g_assert_cmpstr(a->session_name, ==, b->session_name);
  assert_lines_equal(a->lines, b->lines);
  assert_attrs_equal(a->attrs, b->attrs);
  g_assert_cmpuint(a->media->len, ==, b->media->len);
  for (guint i = 0; i < a->media->len; i++) {
    const weft__sdp_media *x = g_ptr_array_index(a->media, i), *y = g_ptr_array_index(b->media, i);
    g_assert_cmpstr(x->media, ==, y->media);
    g_assert_cmpuint(x->port, ==, y->port);
    g_assert_cmpuint(x->port_count, ==, y->port_count);
    g_assert_cmpstr(x->proto, ==, y->proto);
    g_assert_cmpuint(x->formats->len, ==, y->formats->len);
    for (guint f = 0; f < x->formats->len; f++)
      g_assert_cmpstr(g_ptr_array_index(x->formats, f), ==, g_ptr_array_index(y->formats, f));
    assert_lines_equal(x->lines, y->lines);
    assert_attrs_equal(x->attrs, y->attrs);
  }
}

static char *crlf_to_lf(const char *s) {
  GString *g = g_string_new(NULL);
  for (; *s; s++)
    if (*s != '\r')
      g_string_append_c(g, *s);
  return g_string_free(g, FALSE);
}

/* The corpus files are CRLF, but a checkout may have turned them to LF:
 * what the writer must produce is the CRLF form either way. */
static char *as_crlf(const char *s) {
  char *lf = crlf_to_lf(s);
  char **lines = g_strsplit(lf, "\n", -1);
  char *out = g_strjoinv("\r\n", lines);
  g_strfreev(lines);
  g_free(lf);
  return out;
}

/* ---- corpus ------------------------------------------------------------- */

static void test_corpus_parses(void) {
  GPtrArray *files = corpus_files(false);
  g_assert_cmpuint(files->len, >=, 7);
  for (guint i = 0; i < files->len; i++) {
    char *text = load(g_ptr_array_index(files, i), NULL);
    weft__sdp *s = NULL;
    int rc = weft__sdp_parse(text, &s);
    if (rc != 0)
      g_error("%s: %s", (char *)g_ptr_array_index(files, i), weft__error_message());
    g_assert_nonnull(s);
    g_assert_cmpuint(s->media->len, >=, 1);
    weft__sdp_free(s);
    g_free(text);
  }
  g_ptr_array_unref(files);
}

static void test_corpus_structure(void) {
  char *text = load_corpus("chromium-av-data-offer.sdp");
  weft__sdp *s;
  g_assert_cmpint(weft__sdp_parse(text, &s), ==, 0);
  g_assert_cmpstr(s->origin.username, ==, "-");
  g_assert_cmpstr(s->origin.sess_id, ==, "1290437818253781492");
  g_assert_cmpstr(s->origin.sess_version, ==, "2");
  g_assert_cmpstr(s->origin.address, ==, "127.0.0.1");
  g_assert_cmpstr(s->session_name, ==, "-");
  g_assert_cmpstr(weft__sdp_lines_get(s->lines, 't'), ==, "0 0");
  g_assert_cmpstr(weft__sdp_attr_get(s->attrs, "group"), ==, "BUNDLE 0 1 2");
  g_assert_cmpstr(weft__sdp_attr_get(s->attrs, "extmap-allow-mixed"), ==, "");
  g_assert_null(weft__sdp_attr_find(s->attrs, "extmap-allow-mixed")->value);
  g_assert_cmpuint(s->media->len, ==, 3);
  const weft__sdp_media *audio = g_ptr_array_index(s->media, 0);
  const weft__sdp_media *video = g_ptr_array_index(s->media, 1);
  const weft__sdp_media *app = g_ptr_array_index(s->media, 2);
  g_assert_cmpstr(audio->media, ==, "audio");
  g_assert_cmpuint(audio->port, ==, 51730);
  g_assert_cmpstr(audio->proto, ==, "UDP/TLS/RTP/SAVPF");
  g_assert_cmpuint(audio->formats->len, ==, 8);
  g_assert_cmpstr(g_ptr_array_index(audio->formats, 0), ==, "111");
  g_assert_true(weft__sdp_media_has_format(audio, "126"));
  g_assert_cmpint(audio->line, ==, 8);
  g_assert_cmpstr(weft__sdp_lines_get(audio->lines, 'c'), ==, "IN IP4 127.0.0.1");
  g_assert_cmpuint(video->formats->len, ==, 23);
  g_assert_true(weft__sdp_media_has_format(video, "45"));
  g_assert_false(weft__sdp_media_has_format(video, "111"));
  g_assert_cmpstr(weft__sdp_media_mid(video), ==, "1");
  g_assert_cmpstr(app->proto, ==, "UDP/DTLS/SCTP");
  g_assert_cmpstr(weft__sdp_attr_get(app->attrs, "sctp-port"), ==, "5000");
  guint idx = 99;
  g_assert_true(weft__sdp_find_mid(s, "2", &idx) == app);
  g_assert_cmpuint(idx, ==, 2);
  g_assert_null(weft__sdp_find_mid(s, "7", NULL));
  /* Every rtpmap of the video section, in order, with its line number. */
  guint pos = 0, n = 0;
  const weft__sdp_attr *a, *first = NULL;
  while ((a = weft__sdp_attr_next(video->attrs, "rtpmap", &pos))) {
    if (!first)
      first = a;
    n++;
  }
  g_assert_cmpuint(n, ==, 23);
  g_assert_cmpstr(first->value, ==, "96 VP8/90000");
  g_assert_cmpint(first->line, >, video->line);
  weft__sdp_free(s);
  g_free(text);
}

static void test_roundtrip(void) {
  GPtrArray *files = corpus_files(false);
  for (guint i = 0; i < files->len; i++) {
    char *text = load(g_ptr_array_index(files, i), NULL);
    weft__sdp *s1, *s2, *s3;
    g_assert_cmpint(weft__sdp_parse(text, &s1), ==, 0);
    char *w1 = weft__sdp_write(s1);
    /* The corpus is written in canonical order with CRLF: byte-exact. */
    char *crlf = as_crlf(text);
    g_assert_cmpstr(w1, ==, crlf);
    g_free(crlf);
    g_assert_cmpint(weft__sdp_parse(w1, &s2), ==, 0);
    assert_sdp_equal(s1, s2);
    char *w2 = weft__sdp_write(s2);
    g_assert_cmpstr(w1, ==, w2);
    /* copy() is deep and equal */
    s3 = weft__sdp_copy(s2);
    assert_sdp_equal(s2, s3);
    weft__sdp_free(s2);
    char *w3 = weft__sdp_write(s3);
    g_assert_cmpstr(w3, ==, w1);
    weft__sdp_free(s1);
    weft__sdp_free(s3);
    g_free(w1);
    g_free(w2);
    g_free(w3);
    g_free(text);
  }
  g_ptr_array_unref(files);
}

static void test_canonical_order(void) {
  /* Lines out of canonical order (a= before c=, b= before i=, k= between
   * a= lines) come out in RFC 8866 order; t/r stay interleaved. */
  const char *in = "v=0\n"
                   "o=x 1 2 IN IP4 10.0.0.1\n"
                   "s=session\n"
                   "t=1 2\n"
                   "r=604800 3600 0 90000\n"
                   "t=3 4\n"
                   "a=tool:x\n"
                   "b=AS:100\n"
                   "i=info\n"
                   "z=2882844526 -1h\n"
                   "u=http://example.com/\n"
                   "m=audio 5000/2 RTP/AVP 0\n"
                   "a=rtpmap:0 PCMU/8000\n"
                   "c=IN IP4 224.2.1.1/127/2\n"
                   "k=prompt\n"
                   "b=AS:64\n"
                   "i=media info";
  const char *want = "v=0\r\n"
                     "o=x 1 2 IN IP4 10.0.0.1\r\n"
                     "s=session\r\n"
                     "i=info\r\n"
                     "u=http://example.com/\r\n"
                     "b=AS:100\r\n"
                     "t=1 2\r\n"
                     "r=604800 3600 0 90000\r\n"
                     "t=3 4\r\n"
                     "z=2882844526 -1h\r\n"
                     "a=tool:x\r\n"
                     "m=audio 5000/2 RTP/AVP 0\r\n"
                     "i=media info\r\n"
                     "c=IN IP4 224.2.1.1/127/2\r\n"
                     "b=AS:64\r\n"
                     "k=prompt\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n";
  weft__sdp *s;
  g_assert_cmpint(weft__sdp_parse(in, &s), ==, 0);
  const weft__sdp_media *m = g_ptr_array_index(s->media, 0);
  g_assert_cmpuint(m->port, ==, 5000);
  g_assert_cmpuint(m->port_count, ==, 2);
  char *w = weft__sdp_write(s);
  g_assert_cmpstr(w, ==, want);
  weft__sdp_free(s);
  g_free(w);
}

static void test_lf_only(void) {
  GPtrArray *files = corpus_files(false);
  for (guint i = 0; i < files->len; i++) {
    char *text = load(g_ptr_array_index(files, i), NULL);
    char *lf = crlf_to_lf(text);
    g_assert_null(strchr(lf, '\r'));
    weft__sdp *a, *b, *c;
    g_assert_cmpint(weft__sdp_parse(text, &a), ==, 0);
    g_assert_cmpint(weft__sdp_parse(lf, &b), ==, 0);
    assert_sdp_equal(a, b);
    /* No final newline, plus trailing blank lines elsewhere. */
    lf[strlen(lf) - 1] = '\0';
    g_assert_cmpint(weft__sdp_parse(lf, &c), ==, 0);
    assert_sdp_equal(a, c);
    char *w = weft__sdp_write(c);
    char *crlf = as_crlf(text);
    g_assert_cmpstr(w, ==, crlf);
    g_free(crlf);
    g_free(w);
    weft__sdp_free(a);
    weft__sdp_free(b);
    weft__sdp_free(c);
    g_free(lf);
    g_free(text);
  }
  g_ptr_array_unref(files);
  /* CRLF CRLF at the end and trailing blanks on a line are tolerated. */
  weft__sdp *s;
  g_assert_cmpint(weft__sdp_parse("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=- \r\nt=0 0\t\r\n\r\n", &s),
                  ==, 0);
  g_assert_cmpstr(s->session_name, ==, "-");
  g_assert_cmpstr(weft__sdp_lines_get(s->lines, 't'), ==, "0 0");
  weft__sdp_free(s);
}

/* ---- errors ------------------------------------------------------------- */

typedef struct bad_case {
  const char *sdp;
  int line;
  const char *what; /* substring of the message */
} bad_case;

#define HEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define HEAD_LINES 4

static const bad_case bad_cases[] = {
    {"", 1, "empty"},
    {"\r\n\r\n", 2, "empty"},
    {"o=- 1 2 IN IP4 127.0.0.1\r\nv=0\r\n", 1, "v=0"},
    {"v=1\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 1, "version"},
    {"v=0\r\ns=-\r\n", 2, "o="},
    {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", 2, "before s="},
    {"v=0\r\no=- 1 2 IN IP4\r\ns=-\r\nt=0 0\r\n", 2, "6 fields"},
    {"v=0\r\no=- abc 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 2, "decimal"},
    {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nt=0 0\r\n", 3, "s="},
    {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", 3, "no t="},
    {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\n", 4, "before any t="},
    {HEAD "a=foo\r\nthis is not sdp\r\n", HEAD_LINES + 2, "<letter>=<value>"},
    {HEAD "x\r\n", HEAD_LINES + 1, "<letter>="},
    {HEAD "a:foo\r\n", HEAD_LINES + 1, "<letter>="},
    {HEAD "A=foo\r\n", HEAD_LINES + 1, "bad line type"},
    {HEAD "y=foo\r\n", HEAD_LINES + 1, "unknown line type 'y'"},
    {HEAD "v=0\r\n", HEAD_LINES + 1, "only once"},
    {HEAD "s=again\r\n", HEAD_LINES + 1, "only once"},
    {HEAD "r=1 2 3\r\nm=audio 9 RTP/AVP 0\r\nt=0 0\r\n", HEAD_LINES + 3, "not allowed in a media"},
    {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nr=1 2 3\r\nt=0 0\r\n", 4, "r= without"},
    {HEAD "t=now\r\n", HEAD_LINES + 1, "t= needs"},
    {HEAD "c=IN IP4\r\n", HEAD_LINES + 1, "c= needs 3"},
    {HEAD "b=AS\r\n", HEAD_LINES + 1, "b= must be"},
    {HEAD "a=\r\n", HEAD_LINES + 1, "attribute name"},
    {HEAD "a=:x\r\n", HEAD_LINES + 1, "attribute name"},
    {HEAD "a=bad name:x\r\n", HEAD_LINES + 1, "attribute name"},
    {HEAD "m=audio\r\n", HEAD_LINES + 1, "bad port"},
    {HEAD "m=audio x RTP/AVP 0\r\n", HEAD_LINES + 1, "bad port 'x'"},
    {HEAD "m=audio -1 RTP/AVP 0\r\n", HEAD_LINES + 1, "bad port"},
    {HEAD "m=audio 65536 RTP/AVP 0\r\n", HEAD_LINES + 1, "bad port"},
    {HEAD "m=audio 9/0 RTP/AVP 0\r\n", HEAD_LINES + 1, "bad port"},
    {HEAD "m=audio 9\r\n", HEAD_LINES + 1, "no transport protocol"},
    {HEAD "m=audio 9 RTP/AVP\r\n", HEAD_LINES + 1, "no media format"},
    {HEAD "m=audio 9 RTP/AV\"P 0\r\n", HEAD_LINES + 1, "transport protocol"},
    {HEAD "m=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\nz=0 0\r\n", HEAD_LINES + 3, "media section"},
    {HEAD "a=tool:x\x01y\r\n", HEAD_LINES + 1, "control character 0x01"},
    {HEAD "a=tool:x\ry\r\n", HEAD_LINES + 1, "control character 0x0d"},
    {HEAD "a=tool:x\x7f\r\n", HEAD_LINES + 1, "control character 0x7f"},
    {HEAD "a=tool:\xc3\x28\r\n", HEAD_LINES + 1, "UTF-8"},
    {HEAD "a=tool:\xff\r\n", HEAD_LINES + 1, "UTF-8"},
};

static void assert_error_line(int rc, int want_line, const char *what, const char *input) {
  if (rc != WEFT_ERR_SYNTAX)
    g_error("input '%s': rc %d, want SYNTAX", input, rc);
  const char *msg = weft__error_message();
  char *needle = g_strdup_printf("SDP line %d:", want_line);
  if (!strstr(msg, needle) || (what && !strstr(msg, what)))
    g_error("input '%s': message '%s' lacks '%s' / '%s'", input, msg, needle, what ? what : "");
  g_free(needle);
  g_assert_null(strchr(msg, '\r'));
  g_assert_null(strchr(msg, '\n'));
}

static void test_errors(void) {
  for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
    weft__sdp *s = (weft__sdp *)0x1;
    int rc = weft__sdp_parse(bad_cases[i].sdp, &s);
    g_assert_null(s);
    assert_error_line(rc, bad_cases[i].line, bad_cases[i].what, bad_cases[i].sdp);
    /* The same error with LF line ends. */
    char *lf = crlf_to_lf(bad_cases[i].sdp);
    if (!strstr(bad_cases[i].what, "0x0d")) {
      rc = weft__sdp_parse(lf, &s);
      assert_error_line(rc, bad_cases[i].line, bad_cases[i].what, lf);
    }
    g_free(lf);
  }
  /* The message quotes the offending line. */
  weft__sdp *s;
  g_assert_cmpint(weft__sdp_parse(HEAD "m=video 99999 RTP/AVP 96\r\n", &s), ==, WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft__error_message(), "'m=video 99999 RTP/AVP 96'"));
  g_assert_cmpint(weft__sdp_parse(NULL, &s), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__sdp_parse(HEAD, NULL), ==, WEFT_ERR_INVALID_ARG);
}

static void test_malformed_corpus(void) {
  static const struct {
    const char *file;
    int line;
  } want[] = {{"malformed-bad-port.sdp", 6},
              {"malformed-media-attr-before-origin.sdp", 2},
              {"malformed-no-version.sdp", 1},
              {"malformed-session-line-in-media.sdp", 7}};
  GPtrArray *files = corpus_files(true);
  g_assert_cmpuint(files->len, ==, G_N_ELEMENTS(want));
  for (guint i = 0; i < files->len; i++) {
    const char *path = g_ptr_array_index(files, i);
    g_assert_true(g_str_has_suffix(path, want[i].file));
    char *text = load(path, NULL);
    weft__sdp *s;
    assert_error_line(weft__sdp_parse(text, &s), want[i].line, NULL, path);
    g_free(text);
  }
  g_ptr_array_unref(files);
}

static void test_nul(void) {
  static const char text[] = HEAD "a=tool:ab\0cd\r\na=x\r\n";
  weft__sdp *s;
  int rc = weft__sdp_parse_len(text, sizeof text - 1, &s);
  assert_error_line(rc, HEAD_LINES + 1, "control character 0x00", "NUL");
  g_assert_nonnull(strstr(weft__error_message(), "'a=tool:ab\\x00cd'"));
  /* As a C string, the NUL simply ends the description. */
  g_assert_cmpint(weft__sdp_parse(text, &s), ==, 0);
  g_assert_cmpstr(weft__sdp_attr_get(s->attrs, "tool"), ==, "ab");
  weft__sdp_free(s);
}

static void test_limits(void) {
  weft__sdp *s;
  /* Total size. */
  GString *g = g_string_new(HEAD);
  while (g->len <= WEFT__SDP_MAX_LEN)
    g_string_append(g, "a=filler:0123456789012345678901234567890123456789\r\n");
  g_assert_cmpint(weft__sdp_parse(g->str, &s), ==, WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft__error_message(), "limit"));
  g_string_free(g, TRUE);

  /* One over-long line. */
  g = g_string_new(HEAD "a=x:1\r\na=long:");
  for (int i = 0; i < WEFT__SDP_MAX_LINE; i++)
    g_string_append_c(g, 'x');
  g_string_append(g, "\r\n");
  assert_error_line(weft__sdp_parse(g->str, &s), HEAD_LINES + 2, "longer than", "long line");
  g_string_free(g, TRUE);
  /* A line just at the limit is fine. */
  g = g_string_new(HEAD "a=long:");
  while (g->len - strlen(HEAD) < WEFT__SDP_MAX_LINE)
    g_string_append_c(g, 'x');
  g_assert_cmpint(weft__sdp_parse(g->str, &s), ==, 0);
  weft__sdp_free(s);
  g_string_free(g, TRUE);

  /* Too many m-sections: the error names the first m= over the limit. */
  g = g_string_new(HEAD);
  for (int i = 0; i <= WEFT__SDP_MAX_MEDIA; i++)
    g_string_append_printf(g, "m=audio 0 RTP/AVP 0\r\na=mid:%d\r\n", i);
  assert_error_line(weft__sdp_parse(g->str, &s), HEAD_LINES + 1 + 2 * WEFT__SDP_MAX_MEDIA,
                    "m-sections", "many m");
  g_string_free(g, TRUE);

  /* Many attributes, close to the size limit: linear time. */
  g = g_string_new(HEAD "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
  while (g->len < WEFT__SDP_MAX_LEN - 64)
    g_string_append(g, "a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n");
  gint64 t0 = g_get_monotonic_time();
  g_assert_cmpint(weft__sdp_parse(g->str, &s), ==, 0);
  char *w = weft__sdp_write(s);
  g_assert_cmpstr(w, ==, g->str);
  g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
  const weft__sdp_media *m = g_ptr_array_index(s->media, 0);
  g_assert_cmpuint(m->attrs->len, >, 5000);
  g_free(w);
  weft__sdp_free(s);
  g_string_free(g, TRUE);
}

/* The line count: exactly WEFT__SDP_MAX_LINES lines parse, one more is an
 * error naming the limit and the first line over it. */
static void test_line_count(void) {
  weft__sdp *s;
  GString *g = g_string_new(HEAD);
  for (int i = HEAD_LINES; i < WEFT__SDP_MAX_LINES; i++)
    g_string_append(g, "a=x\n");
  g_assert_cmpuint(g->len, <, WEFT__SDP_MAX_LEN);
  g_assert_cmpint(weft__sdp_parse(g->str, &s), ==, 0);
  g_assert_cmpuint(s->attrs->len, ==, WEFT__SDP_MAX_LINES - HEAD_LINES);
  weft__sdp_free(s);
  g_string_append(g, "a=x\n");
  char *what = g_strdup_printf("more than %d lines", WEFT__SDP_MAX_LINES);
  assert_error_line(weft__sdp_parse(g->str, &s), WEFT__SDP_MAX_LINES + 1, what, "many lines");
  g_free(what);
  /* Blank lines count too: they cost a scan each. */
  g_string_assign(g, HEAD);
  for (int i = HEAD_LINES; i < WEFT__SDP_MAX_LINES + 1; i++)
    g_string_append(g, "\n");
  assert_error_line(weft__sdp_parse(g->str, &s), WEFT__SDP_MAX_LINES + 1, "lines", "blank lines");
  g_string_free(g, TRUE);
}

/* Shortest of @runs parses of @text, in microseconds. */
static gint64 parse_time(const char *text, int runs) {
  gint64 best = G_MAXINT64;
  for (int r = 0; r < runs; r++) {
    weft__sdp *s;
    gint64 t0 = g_get_monotonic_time();
    g_assert_cmpint(weft__sdp_parse(text, &s), ==, 0);
    gint64 dt = g_get_monotonic_time() - t0;
    weft__sdp_free(s);
    best = dt < best ? dt : best;
  }
  return best;
}

/* Parsing is linear whatever the order of the lines: 256 KiB of
 * alternating k= and i= lines in one media section (each i= belongs before
 * every k= seen so far; inserting each line at its canonical place was
 * quadratic, 80 times slower than the usual order) parse in about the time
 * of the same lines in canonical order. Both are measured here (the best of
 * several runs), so only the ratio matters, not the machine's speed. */
static void test_linear_any_order(void) {
  const char *head = HEAD "m=audio 9 RTP/AVP 0\n";
  GString *bad = g_string_new(head), *usual = g_string_new(head);
  int pairs = 0;
  while (bad->len + 2 * 17 < WEFT__SDP_MAX_LEN &&
         HEAD_LINES + 1 + 2 * (pairs + 1) <= WEFT__SDP_MAX_LINES) {
    g_string_append_printf(bad, "k=%013d\ni=%013d\n", pairs, pairs);
    pairs++;
  }
  for (int i = 0; i < pairs; i++)
    g_string_append_printf(usual, "i=%013d\n", i);
  for (int i = 0; i < pairs; i++)
    g_string_append_printf(usual, "k=%013d\n", i);
  g_assert_cmpuint(bad->len, ==, usual->len);
  g_assert_cmpuint(bad->len, >, WEFT__SDP_MAX_LEN - 64);

  /* Same tree either way: i= lines first, each kind in its input order. */
  weft__sdp *a, *b;
  g_assert_cmpint(weft__sdp_parse(bad->str, &a), ==, 0);
  g_assert_cmpint(weft__sdp_parse(usual->str, &b), ==, 0);
  const weft__sdp_media *m = g_ptr_array_index(a->media, 0);
  g_assert_cmpuint(m->lines->len, ==, 2 * (guint)pairs);
  for (int i = 0; i < 2 * pairs; i++) {
    const weft__sdp_line *l = g_ptr_array_index(m->lines, i);
    char want[16];
    g_snprintf(want, sizeof want, "%013d", i % pairs);
    g_assert_cmpint(l->type, ==, i < pairs ? 'i' : 'k');
    g_assert_cmpstr(l->value, ==, want);
  }
  /* The line numbers are the input's. */
  g_assert_cmpint(((const weft__sdp_line *)g_ptr_array_index(m->lines, 0))->line, ==,
                  HEAD_LINES + 3);
  assert_sdp_equal(a, b);
  weft__sdp_free(a);
  weft__sdp_free(b);

  gint64 t_usual = parse_time(usual->str, 5);
  gint64 t_bad = parse_time(bad->str, 5);
  g_test_message("%d lines, %zu bytes: usual order %" G_GINT64_FORMAT
                 " us, crafted order %" G_GINT64_FORMAT " us",
                 2 * pairs, bad->len, t_usual, t_bad);
  g_assert_cmpint(t_bad, <=, 4 * t_usual + 1000);
  g_string_free(bad, TRUE);
  g_string_free(usual, TRUE);
}

/* ---- building and editing ----------------------------------------------- */

static void test_build(void) {
  weft__sdp *s = weft__sdp_new();
  weft__sdp_attr_add(s->attrs, "group", "BUNDLE a");
  weft__sdp_attr_add(s->attrs, "ice-lite", NULL);
  weft__sdp_media *m = weft__sdp_media_new("application", 9, "UDP/DTLS/SCTP");
  weft__sdp_media_add_format(m, "webrtc-datachannel");
  weft__sdp_lines_add(m->lines, 'c', "IN IP4 0.0.0.0");
  weft__sdp_attr_add(m->attrs, "mid", "a");
  weft__sdp_attr_add(m->attrs, "candidate", "1 1 udp 1 127.0.0.1 1 typ host");
  weft__sdp_attr_add(m->attrs, "end-of-candidates", NULL);
  weft__sdp_attr_insert(m->attrs, 2, "candidate", "2 1 udp 1 127.0.0.1 2 typ host");
  weft__sdp_attr_insert(m->attrs, 999, "tail", "");
  weft__sdp_add_media(s, m);
  char *w = weft__sdp_write(s);
  g_assert_cmpstr(
      w, ==,
      "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
      "a=group:BUNDLE a\r\na=ice-lite\r\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
      "a=mid:a\r\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\r\n"
      "a=candidate:2 1 udp 1 127.0.0.1 2 typ host\r\na=end-of-candidates\r\na=tail:\r\n");
  weft__sdp *p;
  g_assert_cmpint(weft__sdp_parse(w, &p), ==, 0);
  assert_sdp_equal(s, p);
  const weft__sdp_media *pm = g_ptr_array_index(p->media, 0);
  g_assert_cmpstr(weft__sdp_attr_get(pm->attrs, "tail"), ==, "");
  g_assert_nonnull(weft__sdp_attr_find(pm->attrs, "tail")->value);
  g_assert_cmpint(weft__sdp_attr_find(pm->attrs, "mid")->line, ==, 9);
  weft__sdp_free(p);
  g_free(w);

  g_assert_cmpuint(weft__sdp_attr_remove(m->attrs, "candidate"), ==, 2);
  g_assert_cmpuint(weft__sdp_attr_remove(m->attrs, "candidate"), ==, 0);
  g_assert_null(weft__sdp_attr_find(m->attrs, "candidate"));
  g_assert_cmpuint(m->attrs->len, ==, 3);
  g_assert_cmpstr(weft__sdp_media_mid(m), ==, "a");
  g_assert_true(weft__sdp_find_mid(s, "a", NULL) == m);
  weft__sdp_attr_remove(m->attrs, "mid");
  weft__sdp_attr_add(m->attrs, "mid", "");
  g_assert_null(weft__sdp_media_mid(m)); /* empty mid counts as none */
  weft__sdp_free(s);

  uint64_t v;
  g_assert_true(weft__sdp_parse_u64("18446744073709551615", &v));
  g_assert_true(v == UINT64_MAX);
  g_assert_false(weft__sdp_parse_u64("18446744073709551616", &v));
  g_assert_false(weft__sdp_parse_u64("", &v));
  g_assert_false(weft__sdp_parse_u64("-1", &v));
  g_assert_false(weft__sdp_parse_u64("1 ", &v));
  g_assert_null(weft__sdp_write(NULL));
}

/* ---- fuzz --------------------------------------------------------------- */

static void test_fuzz(void) {
  GPtrArray *files = corpus_files(false);
  GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
  GArray *lens = g_array_new(FALSE, FALSE, sizeof(gsize));
  for (guint i = 0; i < files->len; i++) {
    gsize len;
    g_ptr_array_add(texts, load(g_ptr_array_index(files, i), &len));
    g_array_append_val(lens, len);
  }
  GRand *r = g_rand_new_with_seed(0x5d9);
  static const char specials[] = {'\0', '\r', '\n', '=', ':', ' ', 'm', 'a', '\x80', '\xff'};
  int ok = 0, syntax = 0;
  gint64 t0 = g_get_monotonic_time();
  for (int iter = 0; iter < 10000; iter++) {
    guint which = (guint)g_rand_int_range(r, 0, (gint32)texts->len);
    gsize len = g_array_index(lens, gsize, which);
    char *buf = g_malloc(len + 16);
    memcpy(buf, g_ptr_array_index(texts, which), len);
    int muts = g_rand_int_range(r, 1, 6);
    for (int k = 0; k < muts && len > 0; k++) {
      gsize at = (gsize)g_rand_int_range(r, 0, (gint32)len);
      switch (g_rand_int_range(r, 0, 5)) {
      case 0: /* flip a byte */
        buf[at] ^= (char)(1u << g_rand_int_range(r, 0, 8));
        break;
      case 1: /* truncate */
        len = at;
        break;
      case 2: /* insert a special byte */
      {
        memmove(buf + at + 1, buf + at, len - at);
        buf[at] = specials[g_rand_int_range(r, 0, G_N_ELEMENTS(specials))];
        len++;
      } break;
      case 3: /* overwrite with a special byte */
        buf[at] = specials[g_rand_int_range(r, 0, G_N_ELEMENTS(specials))];
        break;
      default: /* delete a byte */
        memmove(buf + at, buf + at + 1, len - at - 1);
        len--;
        break;
      }
    }
    /* Exactly @len bytes, no terminator: ASan catches any overread. */
    char *exact = g_memdup2(buf, len ? len : 1);
    weft__sdp *s = NULL;
    int rc = weft__sdp_parse_len(exact, len, &s);
    g_assert_true(rc == 0 || rc == WEFT_ERR_SYNTAX);
    if (rc == 0) {
      ok++;
      char *w = weft__sdp_write(s);
      weft__sdp *s2;
      g_assert_cmpint(weft__sdp_parse(w, &s2), ==, 0);
      assert_sdp_equal(s, s2);
      weft__sdp_free(s2);
      weft__sdp_free(s);
      g_free(w);
    } else {
      syntax++;
      g_assert_null(s);
      g_assert_true(g_str_has_prefix(weft__error_message(), "SDP line "));
    }
    g_free(exact);
    g_free(buf);
  }
  g_test_message("fuzz: %d parsed, %d syntax errors, %.2f s", ok, syntax,
                 (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
  g_assert_cmpint(ok, >, 0);
  g_assert_cmpint(syntax, >, 0);
  g_rand_free(r);
  g_array_unref(lens);
  g_ptr_array_unref(texts);
  g_ptr_array_unref(files);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sdp/corpus/parses", test_corpus_parses);
  g_test_add_func("/sdp/corpus/structure", test_corpus_structure);
  g_test_add_func("/sdp/corpus/roundtrip", test_roundtrip);
  g_test_add_func("/sdp/corpus/lf-only", test_lf_only);
  g_test_add_func("/sdp/corpus/malformed", test_malformed_corpus);
  g_test_add_func("/sdp/canonical-order", test_canonical_order);
  g_test_add_func("/sdp/errors", test_errors);
  g_test_add_func("/sdp/nul", test_nul);
  g_test_add_func("/sdp/limits", test_limits);
  g_test_add_func("/sdp/limits/line-count", test_line_count);
  g_test_add_func("/sdp/limits/linear-any-order", test_linear_any_order);
  g_test_add_func("/sdp/build", test_build);
  g_test_add_func("/sdp/fuzz", test_fuzz);
  return g_test_run();
}
