/* jsep/: the corpus offers and answers, answers to them, our own offer,
 * validation errors and candidate insertion. */
#include <glib.h>
#include <string.h>

#include "core/core.h"
#include "jsep/jsep.h"

#define SDP_DIR WEFT_TEST_DATA_DIR "/sdp"

static const char *our_fp = "sha-256 "
                            "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
                            "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";

static weft__jsep_local local_params(weft__setup setup) {
  /* The top bit is dropped: o= shows 0x1234 = 4660. */
  weft__jsep_local l = {.session_id = 0x8000000000001234ull,
                        .session_version = 2,
                        .ice_ufrag = "wEfT",
                        .ice_pwd = "abcdefghijklmnopqrstuvwx",
                        .fingerprint = our_fp,
                        .setup = setup,
                        .sctp_port = 5000,
                        .max_message_size = 262144,
                        .include_data = true,
                        .data_mid = "0"};
  return l;
}

/* Loads a corpus file with CRLF line ends (even if a checkout made it LF). */
static char *load(const char *name) {
  char *path = g_build_filename(SDP_DIR, name, NULL);
  char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_free(path);
  char **lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l && (*l)[strlen(*l) - 1] == '\r')
      (*l)[strlen(*l) - 1] = '\0';
  char *crlf = g_strjoinv("\r\n", lines);
  g_strfreev(lines);
  g_free(text);
  return crlf;
}

/* Replaces the first @old in @text (which must contain it). */
static char *replace(const char *text, const char *old, const char *new_) {
  const char *p = strstr(text, old);
  if (!p)
    g_error("'%s' not in the SDP", old);
  return g_strdup_printf("%.*s%s%s", (int)(p - text), text, new_, p + strlen(old));
}

/* Removes every line starting with @prefix. */
static char *remove_lines(const char *text, const char *prefix) {
  GString *g = g_string_new(NULL);
  char **lines = g_strsplit(text, "\r\n", -1);
  for (char **l = lines; *l; l++) {
    if (!**l || g_str_has_prefix(*l, prefix))
      continue;
    g_string_append_printf(g, "%s\r\n", *l);
  }
  g_strfreev(lines);
  return g_string_free(g, FALSE);
}

/* 1-based number of the first line containing @needle. */
static int line_of(const char *text, const char *needle) {
  const char *p = strstr(text, needle);
  g_assert_nonnull(p);
  int n = 1;
  for (const char *q = text; q < p; q++)
    n += *q == '\n';
  return n;
}

static weft__jsep_desc *parse_ok(const char *text, weft_sdp_type type) {
  weft__jsep_desc *d = NULL;
  int rc = weft__jsep_parse(text, type, &d);
  if (rc != 0)
    g_error("jsep_parse: %s (%d): %s\n%s", weft_err_name(rc), rc, weft__error_message(), text);
  g_assert_nonnull(d);
  return d;
}

static void expect_error(const char *text, weft_sdp_type type, int code, int line,
                         const char *what) {
  weft__jsep_desc *d = (weft__jsep_desc *)0x1;
  int rc = weft__jsep_parse(text, type, &d);
  g_assert_null(d);
  const char *msg = weft__error_message();
  if (rc != code)
    g_error("want %s, got %s: %s", weft_err_name(code), weft_err_name(rc), msg);
  if (line > 0) {
    char *needle = g_strdup_printf("line %d", line);
    if (!strstr(msg, needle))
      g_error("'%s' lacks '%s'", msg, needle);
    g_free(needle);
  }
  if (what && !strstr(msg, what))
    g_error("'%s' lacks '%s'", msg, what);
}

static const weft__sdp_media *media_at(const weft__jsep_desc *d, guint i) {
  return g_ptr_array_index(d->sdp->media, i);
}

/* ---- corpus offers and answers ------------------------------------------ */

typedef struct offer_case {
  const char *file;
  guint n_sections;
  const char *data_mid;
  guint data_index;
  const char *ufrag, *pwd, *fp_alg, *fp_prefix;
  bool legacy;
  uint16_t sctp_port;
  bool has_mms;
  uint64_t mms;
  guint n_candidates;
  const char *candidate_substr; /* one candidate contains this, or NULL */
  bool eoc, trickle;
  guint n_bundle;
} offer_case;

static const offer_case offers[] = {
    {"chromium-data-offer.sdp", 1, "0", 0, "K8pt", "8XIZWc8OwldqBdpr6f1oUeuw", "sha-256",
     "3C:30:8D:F1", false, 5000, true, 262144, 3, "tcptype passive", false, true, 1},
    {"chromium-av-data-offer.sdp", 3, "2", 2, "Q10fGNv3", "1yU65XCck3Y4Bx7H5CDBCLN8X0/LjKve",
     "sha-256", "B5:1C:74:53", false, 5000, true, 262144, 0, NULL, false, true, 3},
    {"firefox-data-offer.sdp", 1, "0", 0, "9a3f51c2", "f1c0b9e6d2a47385e0c4b1a9d7f2e368", "sha-256",
     "BF:F1:D2:5E", false, 5000, true, 1073741823, 3, ".local 52814 typ host", true, true, 1},
    {"aiortc-audio-data-offer.sdp", 2, "1", 1, "fCHH", "t9a6PzRo4EKY3lQmmoccOS", "sha-512",
     "0B:33:45:1F", true, 5000, true, 65536, 1, "127.0.0.1 39467 typ host", true, false, 2},
    {"gstreamer-data-offer.sdp", 1, "application0", 0, "QxVhKp2mZt8RcW5s",
     "7nGd4L0bYq9Jf2uXs6Ha3KcVw8ZrTe1P", "sha-256", "C7:12:90:09", false, 5000, false, 0, 3,
     "tcptype passive", false, true, 1},
    {"gstreamer-video-data-offer.sdp", 2, "application1", 1, "Zt3xWq8LmN2pRv6Y",
     "Kd9sF1gH5jQ3wE7rT2yU6iO0pA4zX8cV", "sha-256", "7E:12:A5:EC", false, 5000, false, 0, 0, NULL,
     false, true, 2},
};

static void test_parse_offers(void) {
  for (guint i = 0; i < G_N_ELEMENTS(offers); i++) {
    const offer_case *c = &offers[i];
    char *text = load(c->file);
    weft__jsep_desc *d = parse_ok(text, WEFT_SDP_OFFER);
    g_assert_cmpint(d->type, ==, WEFT_SDP_OFFER);
    g_assert_cmpuint(d->sections->len, ==, c->n_sections);
    g_assert_cmpuint(d->bundle_mids->len, ==, c->n_bundle);
    g_assert_cmpint(d->trickle, ==, c->trickle);
    g_assert_false(d->ice_lite);
    const weft__jsep_section *s = weft__jsep_data_section(d);
    g_assert_nonnull(s);
    g_assert_true(s == g_ptr_array_index(d->sections, c->data_index));
    g_assert_true(weft__jsep_find_mid(d, c->data_mid) == s);
    g_assert_cmpuint(s->index, ==, c->data_index);
    g_assert_cmpint(s->line, ==, media_at(d, c->data_index)->line);
    g_assert_cmpint(s->kind, ==, WEFT__KIND_APPLICATION);
    g_assert_cmpstr(s->mid, ==, c->data_mid);
    g_assert_false(s->rejected);
    g_assert_true(s->is_sctp);
    g_assert_cmpint(s->legacy_sctpmap, ==, c->legacy);
    g_assert_cmpstr(s->ice_ufrag, ==, c->ufrag);
    g_assert_cmpstr(s->ice_pwd, ==, c->pwd);
    g_assert_cmpstr(s->fingerprint_alg, ==, c->fp_alg);
    g_assert_true(g_str_has_prefix(s->fingerprint, c->fp_prefix));
    g_assert_cmpint(s->setup, ==, WEFT__SETUP_ACTPASS);
    g_assert_cmpuint(s->sctp_port, ==, c->sctp_port);
    g_assert_cmpint(s->has_max_message_size, ==, c->has_mms);
    g_assert_cmpuint(s->max_message_size, ==, c->mms);
    g_assert_cmpuint(s->candidates->len, ==, c->n_candidates);
    bool found = c->candidate_substr == NULL;
    for (guint k = 0; k < s->candidates->len; k++) {
      const char *cand = g_ptr_array_index(s->candidates, k);
      g_assert_true(g_str_has_prefix(cand, "candidate:"));
      if (c->candidate_substr && strstr(cand, c->candidate_substr))
        found = true;
    }
    g_assert_true(found);
    g_assert_cmpint(s->end_of_candidates, ==, c->eoc);
    /* Every other section is live media or the bundle-only data. */
    for (guint k = 0; k < d->sections->len; k++) {
      const weft__jsep_section *o = g_ptr_array_index(d->sections, k);
      g_assert_nonnull(o->mid);
      g_assert_false(o->rejected);
      if (o != s)
        g_assert_false(o->is_sctp);
    }
    weft__jsep_desc_free(d);
    g_free(text);
  }
}

static void test_parse_offer_details(void) {
  char *text = load("chromium-av-data-offer.sdp");
  weft__jsep_desc *d = parse_ok(text, WEFT_SDP_OFFER);
  const weft__jsep_section *audio = g_ptr_array_index(d->sections, 0);
  const weft__jsep_section *video = g_ptr_array_index(d->sections, 1);
  g_assert_cmpint(audio->kind, ==, WEFT__KIND_AUDIO);
  g_assert_cmpint(video->kind, ==, WEFT__KIND_VIDEO);
  g_assert_cmpuint(audio->candidates->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(d->bundle_mids, 0), ==, "0");
  g_assert_cmpstr(g_ptr_array_index(d->bundle_mids, 2), ==, "2");
  weft__jsep_desc_free(d);
  g_free(text);

  /* aiortc: each section has its own credentials; audio is not the data one. */
  text = load("aiortc-audio-data-offer.sdp");
  d = parse_ok(text, WEFT_SDP_OFFER);
  audio = g_ptr_array_index(d->sections, 0);
  g_assert_cmpstr(audio->ice_ufrag, ==, "NjDO");
  g_assert_cmpstr(weft__jsep_data_section(d)->ice_ufrag, ==, "fCHH");
  g_assert_cmpuint(weft__jsep_data_section(d)->sctp_streams, ==, 65535);
  weft__jsep_desc_free(d);
  g_free(text);

  /* GStreamer max-bundle: port 0 + a=bundle-only is live, not rejected. */
  text = load("gstreamer-video-data-offer.sdp");
  d = parse_ok(text, WEFT_SDP_OFFER);
  const weft__jsep_section *data = weft__jsep_data_section(d);
  g_assert_true(data->bundle_only);
  g_assert_cmpuint(media_at(d, data->index)->port, ==, 0);
  weft__jsep_desc_free(d);
  g_free(text);
}

static void test_parse_answers(void) {
  char *text = load("chromium-data-answer.sdp");
  weft__jsep_desc *d = parse_ok(text, WEFT_SDP_ANSWER);
  const weft__jsep_section *s = weft__jsep_data_section(d);
  g_assert_nonnull(s);
  g_assert_cmpint(s->setup, ==, WEFT__SETUP_ACTIVE);
  g_assert_cmpstr(s->ice_ufrag, ==, "Hxbc");
  weft__jsep_desc_free(d);
  d = parse_ok(text, WEFT_SDP_PRANSWER);
  weft__jsep_desc_free(d);
  g_free(text);

  text = load("aiortc-data-answer.sdp");
  d = parse_ok(text, WEFT_SDP_ANSWER);
  s = weft__jsep_data_section(d);
  g_assert_true(s->legacy_sctpmap);
  g_assert_cmpint(s->setup, ==, WEFT__SETUP_ACTIVE);
  g_assert_cmpuint(s->max_message_size, ==, 65536);
  g_assert_true(s->end_of_candidates);
  g_assert_false(d->trickle);
  weft__jsep_desc_free(d);
  g_free(text);
}

/* ---- answers to the corpus ---------------------------------------------- */

static void check_answer(const weft__jsep_desc *offer, const char *answer_text,
                         const weft__jsep_local *l) {
  weft__setup setup = l->setup;
  weft__jsep_desc *a = parse_ok(answer_text, WEFT_SDP_ANSWER);
  const weft__jsep_section *od = weft__jsep_data_section(offer);
  g_assert_cmpuint(a->sections->len, ==, offer->sections->len);
  for (guint i = 0; i < a->sections->len; i++) {
    const weft__jsep_section *as = g_ptr_array_index(a->sections, i);
    const weft__jsep_section *os = g_ptr_array_index(offer->sections, i);
    const weft__sdp_media *am = media_at(a, i), *om = media_at(offer, i);
    g_assert_cmpstr(as->mid, ==, os->mid);
    g_assert_cmpstr(am->media, ==, om->media);
    if (os == od) {
      g_assert_false(as->rejected);
      g_assert_cmpuint(am->port, ==, 9);
      g_assert_true(as->is_sctp);
      g_assert_cmpint(as->legacy_sctpmap, ==, os->legacy_sctpmap);
      g_assert_cmpint(as->setup, ==, setup);
      g_assert_cmpstr(as->ice_ufrag, ==, l->ice_ufrag);
      g_assert_cmpstr(as->ice_pwd, ==, l->ice_pwd);
      g_assert_cmpstr(as->fingerprint_alg, ==, "sha-256");
      g_assert_true(g_str_has_prefix(as->fingerprint, "AA:BB:CC"));
      g_assert_cmpuint(as->sctp_port, ==, 5000);
      g_assert_true(as->has_max_message_size);
      g_assert_cmpuint(as->max_message_size, ==, 262144);
      g_assert_cmpuint(as->candidates->len, ==, 0);
      if (os->legacy_sctpmap) {
        g_assert_cmpstr(am->proto, ==, "DTLS/SCTP");
        g_assert_cmpuint(am->formats->len, ==, 1);
        g_assert_cmpstr(g_ptr_array_index(am->formats, 0), ==, "5000");
        g_assert_cmpstr(weft__sdp_attr_get(am->attrs, "sctpmap"), ==,
                        "5000 webrtc-datachannel 65535");
        g_assert_null(weft__sdp_attr_find(am->attrs, "sctp-port"));
      } else {
        g_assert_cmpstr(am->proto, ==, om->proto);
        g_assert_cmpstr(g_ptr_array_index(am->formats, 0), ==, "webrtc-datachannel");
        g_assert_cmpstr(weft__sdp_attr_get(am->attrs, "sctp-port"), ==, "5000");
        g_assert_null(weft__sdp_attr_find(am->attrs, "sctpmap"));
      }
    } else {
      /* Rejected: port 0, same proto and formats, only c= and a=mid. */
      g_assert_true(as->rejected);
      g_assert_cmpuint(am->port, ==, 0);
      g_assert_cmpstr(am->proto, ==, om->proto);
      g_assert_cmpuint(am->formats->len, ==, om->formats->len);
      for (guint f = 0; f < om->formats->len; f++)
        g_assert_cmpstr(g_ptr_array_index(am->formats, f), ==, g_ptr_array_index(om->formats, f));
      g_assert_cmpuint(am->attrs->len, ==, os->mid ? 1 : 0);
    }
  }
  /* BUNDLE lists only the accepted data mid. */
  if (od && od->mid && offer->bundle_mids->len) {
    g_assert_cmpuint(a->bundle_mids->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(a->bundle_mids, 0), ==, od->mid);
  } else {
    g_assert_cmpuint(a->bundle_mids->len, ==, 0);
  }
  g_assert_true(a->trickle);
  weft__jsep_desc_free(a);
}

static void test_answer_corpus(void) {
  weft__jsep_local l = local_params(WEFT__SETUP_ACTIVE);
  for (guint i = 0; i < G_N_ELEMENTS(offers); i++) {
    char *text = load(offers[i].file);
    weft__jsep_desc *offer = parse_ok(text, WEFT_SDP_OFFER);
    char *answer = weft__jsep_create_answer(offer, &l);
    g_assert_nonnull(answer);
    g_assert_true(
        g_str_has_prefix(answer, "v=0\r\no=- 4660 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"));
    g_assert_nonnull(strstr(answer, "a=setup:active\r\n"));
    g_assert_null(strstr(answer, "actpass"));
    check_answer(offer, answer, &l);
    g_free(answer);
    weft__jsep_desc_free(offer);
    g_free(text);
  }
  /* The aiortc answer text, legacy mirrored. */
  char *text = load("aiortc-audio-data-offer.sdp");
  weft__jsep_desc *offer = parse_ok(text, WEFT_SDP_OFFER);
  char *answer = weft__jsep_create_answer(offer, &l);
  g_assert_nonnull(strstr(answer, "a=group:BUNDLE 1\r\n"));
  g_assert_nonnull(strstr(answer, "m=audio 0 UDP/TLS/RTP/SAVPF 96 0 8\r\nc=IN IP4 0.0.0.0\r\n"
                                  "a=mid:0\r\n"
                                  "m=application 9 DTLS/SCTP 5000\r\n"));
  g_assert_nonnull(strstr(answer, "a=sctpmap:5000 webrtc-datachannel 65535\r\n"));
  g_free(answer);
  /* Passive when the caller decides so (offer said active). */
  l.setup = WEFT__SETUP_PASSIVE;
  answer = weft__jsep_create_answer(offer, &l);
  check_answer(offer, answer, &l);
  g_free(answer);
  weft__jsep_desc_free(offer);
  g_free(text);
}

static void test_answer_no_data(void) {
  /* An audio-only offer: everything rejected, still a valid answer. */
  char *text = load("aiortc-audio-data-offer.sdp");
  char *cut = g_strndup(text, (gsize)(strstr(text, "m=application") - text));
  char *audio_only = replace(cut, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
  weft__jsep_desc *offer = parse_ok(audio_only, WEFT_SDP_OFFER);
  g_assert_null(weft__jsep_data_section(offer));
  weft__jsep_local l = local_params(WEFT__SETUP_ACTIVE);
  char *answer = weft__jsep_create_answer(offer, &l);
  g_assert_nonnull(answer);
  g_assert_null(strstr(answer, "a=group"));
  check_answer(offer, answer, &l);
  weft__jsep_desc *a = parse_ok(answer, WEFT_SDP_ANSWER);
  g_assert_null(weft__jsep_data_section(a));
  weft__jsep_desc_free(a);
  g_free(answer);
  weft__jsep_desc_free(offer);
  g_free(audio_only);
  g_free(cut);
  g_free(text);

  /* Without BUNDLE in the offer there is none in the answer. */
  text = load("chromium-data-offer.sdp");
  char *nobundle = remove_lines(text, "a=group:");
  offer = parse_ok(nobundle, WEFT_SDP_OFFER);
  answer = weft__jsep_create_answer(offer, &l);
  g_assert_null(strstr(answer, "a=group"));
  check_answer(offer, answer, &l);
  g_free(answer);
  weft__jsep_desc_free(offer);
  g_free(nobundle);
  g_free(text);

  g_assert_null(weft__jsep_create_answer(NULL, &l));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
}

/* ---- our offer ---------------------------------------------------------- */

static void test_own_offer(void) {
  weft__jsep_local l = local_params(WEFT__SETUP_ACTPASS);
  char *offer = weft__jsep_create_offer(&l);
  g_assert_nonnull(offer);
  g_assert_true(g_str_has_prefix(offer, "v=0\r\no=- 4660 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                                        "a=group:BUNDLE 0\r\n"));
  static const char *const required[] = {
      "a=msid-semantic: WMS\r\n",
      "a=ice-options:trickle\r\n",
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n",
      "a=ice-ufrag:wEfT\r\n",
      "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n",
      "a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
      "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n",
      "a=setup:actpass\r\n",
      "a=mid:0\r\n",
      "a=sctp-port:5000\r\n",
      "a=max-message-size:262144\r\n"};
  for (guint i = 0; i < G_N_ELEMENTS(required); i++)
    if (!strstr(offer, required[i]))
      g_error("offer lacks '%s':\n%s", required[i], offer);
  weft__jsep_desc *d = parse_ok(offer, WEFT_SDP_OFFER);
  const weft__jsep_section *s = weft__jsep_data_section(d);
  g_assert_nonnull(s);
  g_assert_cmpstr(s->mid, ==, "0");
  g_assert_false(s->legacy_sctpmap);
  g_assert_cmpint(s->setup, ==, WEFT__SETUP_ACTPASS);
  g_assert_cmpuint(s->max_message_size, ==, 262144);
  g_assert_true(d->trickle);
  g_assert_cmpuint(d->bundle_mids->len, ==, 1);

  /* Answer to our own offer (another weft), and that answer parses. */
  weft__jsep_local peer = local_params(WEFT__SETUP_ACTIVE);
  peer.ice_ufrag = "peer";
  char *answer = weft__jsep_create_answer(d, &peer);
  check_answer(d, answer, &peer);
  weft__jsep_desc *a = parse_ok(answer, WEFT_SDP_ANSWER);
  g_assert_cmpstr(weft__jsep_data_section(a)->ice_ufrag, ==, "peer");
  weft__jsep_desc_free(a);
  g_free(answer);
  weft__jsep_desc_free(d);
  g_free(offer);

  /* Custom mid and port. */
  l.data_mid = "data";
  l.sctp_port = 5001;
  offer = weft__jsep_create_offer(&l);
  d = parse_ok(offer, WEFT_SDP_OFFER);
  g_assert_cmpstr(weft__jsep_data_section(d)->mid, ==, "data");
  g_assert_cmpuint(weft__jsep_data_section(d)->sctp_port, ==, 5001);
  g_assert_cmpstr(g_ptr_array_index(d->bundle_mids, 0), ==, "data");
  weft__jsep_desc_free(d);
  g_free(offer);

  /* Chromium's empty offer shape: no m-line, no group, still valid. */
  l.include_data = false;
  offer = weft__jsep_create_offer(&l);
  g_assert_null(strstr(offer, "m="));
  g_assert_null(strstr(offer, "a=group"));
  d = parse_ok(offer, WEFT_SDP_OFFER);
  g_assert_cmpuint(d->sections->len, ==, 0);
  g_assert_null(weft__jsep_data_section(d));
  answer = weft__jsep_create_answer(d, &peer);
  weft__jsep_desc *ea = parse_ok(answer, WEFT_SDP_ANSWER);
  g_assert_cmpuint(ea->sections->len, ==, 0);
  weft__jsep_desc_free(ea);
  g_free(answer);
  weft__jsep_desc_free(d);
  g_free(offer);

  l.ice_pwd = NULL;
  g_assert_null(weft__jsep_create_offer(&l));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft__jsep_create_offer(NULL));
  g_assert_cmpstr(weft__setup_to_string(WEFT__SETUP_PASSIVE), ==, "passive");
  g_assert_cmpstr(weft__setup_to_string(WEFT__SETUP_ACTIVE), ==, "active");
  g_assert_cmpstr(weft__setup_to_string(WEFT__SETUP_ACTPASS), ==, "actpass");
}

/* ---- validation --------------------------------------------------------- */

static void test_validation(void) {
  char *offer = load("chromium-data-offer.sdp");
  char *answer = load("chromium-data-answer.sdp");
  int mline = line_of(offer, "m=application");
  char *t;

  t = remove_lines(offer, "a=ice-ufrag:");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, mline, "ice-ufrag");
  g_free(t);
  t = remove_lines(offer, "a=ice-pwd:");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, mline, "ice-pwd");
  g_free(t);
  t = remove_lines(offer, "a=fingerprint:");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, mline, "fingerprint");
  g_free(t);

  int fpline = line_of(offer, "a=fingerprint:");
  t = replace(offer, "a=fingerprint:sha-256", "a=fingerprint:md2");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_NOT_SUPPORTED, fpline, "unknown hash 'md2'");
  g_free(t);
  t = replace(offer, "a=fingerprint:sha-256", "a=fingerprint:SHA-256");
  weft__jsep_desc *d = parse_ok(t, WEFT_SDP_OFFER);
  g_assert_cmpstr(weft__jsep_data_section(d)->fingerprint_alg, ==, "sha-256");
  weft__jsep_desc_free(d);
  g_free(t);
  /* An unknown hash next to a known one is skipped. */
  t = replace(offer, "a=fingerprint:", "a=fingerprint:md5 00:11\r\na=fingerprint:");
  d = parse_ok(t, WEFT_SDP_OFFER);
  g_assert_cmpstr(weft__jsep_data_section(d)->fingerprint_alg, ==, "sha-256");
  weft__jsep_desc_free(d);
  g_free(t);
  t = replace(offer, "BB:05\r\n", "BB:ZZ\r\n");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, fpline, "sha-256");
  g_free(t);
  t = replace(offer, ":BB:05\r\n", "\r\n");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, fpline, "32");
  g_free(t);
  t = replace(offer, "3C:30:8D", "3C308D");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, fpline, NULL);
  g_free(t);
  t = replace(offer, "a=fingerprint:sha-256 ", "a=fingerprint:sha-256");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, fpline, "<hash> <hex>");
  g_free(t);

  int sline = line_of(answer, "a=setup:");
  t = replace(answer, "a=setup:active", "a=setup:actpass");
  expect_error(t, WEFT_SDP_ANSWER, WEFT_ERR_INVALID_ACCESS, sline, "actpass");
  expect_error(t, WEFT_SDP_PRANSWER, WEFT_ERR_INVALID_ACCESS, sline, "actpass");
  g_free(t);
  t = replace(answer, "a=setup:active", "a=setup:passive");
  d = parse_ok(t, WEFT_SDP_ANSWER);
  g_assert_cmpint(weft__jsep_data_section(d)->setup, ==, WEFT__SETUP_PASSIVE);
  weft__jsep_desc_free(d);
  g_free(t);
  /* RFC 8842 says actpass in offers, older stacks send active/passive. */
  t = replace(offer, "a=setup:actpass", "a=setup:active");
  d = parse_ok(t, WEFT_SDP_OFFER);
  g_assert_cmpint(weft__jsep_data_section(d)->setup, ==, WEFT__SETUP_ACTIVE);
  weft__jsep_desc_free(d);
  g_free(t);
  t = remove_lines(offer, "a=setup:");
  d = parse_ok(t, WEFT_SDP_OFFER);
  g_assert_cmpint(weft__jsep_data_section(d)->setup, ==, WEFT__SETUP_NONE);
  weft__jsep_desc_free(d);
  g_free(t);
  sline = line_of(offer, "a=setup:");
  t = replace(offer, "a=setup:actpass", "a=setup:holdconn");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, sline, "holdconn");
  g_free(t);
  t = replace(offer, "a=setup:actpass", "a=setup:sideways");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, sline, "sideways");
  g_free(t);

  /* ICE credentials: RFC 8839 §5.4 lengths and charset. */
  int uline = line_of(offer, "a=ice-ufrag:");
  int pline = line_of(offer, "a=ice-pwd:");
  t = replace(offer, "a=ice-ufrag:K8pt", "a=ice-ufrag:K8p");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, uline, "ice-ufrag");
  g_free(t);
  t = replace(offer, "a=ice-ufrag:K8pt", "a=ice-ufrag:K8p-");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, uline, "ice-ufrag");
  g_free(t);
  t = replace(offer, "a=ice-pwd:8XIZWc8OwldqBdpr6f1oUeuw", "a=ice-pwd:8XIZWc8Owldq");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, pline, "ice-pwd");
  g_free(t);
  t = replace(offer, "a=ice-pwd:8XIZWc8Owl", "a=ice-pwd:8XIZWc8Ow_");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, pline, "ice-pwd");
  g_free(t);
  GString *big = g_string_new("a=ice-ufrag:");
  for (int i = 0; i < 257; i++)
    g_string_append_c(big, 'u');
  t = replace(offer, "a=ice-ufrag:K8pt", big->str);
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, uline, "4-256");
  g_free(t);
  g_string_free(big, TRUE);

  /* SCTP attributes. */
  t = replace(offer, "a=sctp-port:5000", "a=sctp-port:70000");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, line_of(offer, "a=sctp-port"), "sctp-port");
  g_free(t);
  t = replace(offer, "a=max-message-size:262144", "a=max-message-size:-1");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, line_of(offer, "a=max-message-size"), NULL);
  g_free(t);
  t = replace(offer, "a=max-message-size:262144", "a=max-message-size:0");
  d = parse_ok(t, WEFT_SDP_OFFER);
  g_assert_true(weft__jsep_data_section(d)->has_max_message_size);
  g_assert_cmpuint(weft__jsep_data_section(d)->max_message_size, ==, 0);
  weft__jsep_desc_free(d);
  g_free(t);

  /* BUNDLE and mids. */
  t = replace(offer, "a=group:BUNDLE 0", "a=group:BUNDLE 0 9");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, line_of(offer, "a=group"), "'9'");
  g_free(t);
  char *two = g_strconcat(offer, strstr(offer, "m=application"), NULL);
  expect_error(two, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, mline, "mid:0");
  g_free(two);
  /* A mid repeated in the group counts once, and is not searched for again
   * (4000 repetitions would cost 4000 searches of every section). */
  GString *rep = g_string_new("a=group:BUNDLE");
  for (int i = 0; i < 4000; i++)
    g_string_append(rep, " 0");
  t = replace(offer, "a=group:BUNDLE 0", rep->str);
  d = parse_ok(t, WEFT_SDP_OFFER);
  g_assert_cmpuint(d->bundle_mids->len, ==, 1);
  weft__jsep_desc_free(d);
  g_free(t);
  g_string_free(rep, TRUE);

  /* Everything rejected in an offer: nothing to negotiate. */
  t = replace(offer, "m=application 54400", "m=application 0");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, mline, "rejected");
  g_free(t);
  /* ... but an answer may reject everything, without credentials. */
  t = replace(answer, "m=application 9", "m=application 0");
  char *t2 = remove_lines(t, "a=ice-");
  d = parse_ok(t2, WEFT_SDP_ANSWER);
  g_assert_true(((weft__jsep_section *)g_ptr_array_index(d->sections, 0))->rejected);
  g_assert_null(weft__jsep_data_section(d));
  weft__jsep_desc_free(d);
  g_free(t2);
  g_free(t);

  /* Syntax errors come from the parser with their line. */
  t = replace(offer, "c=IN IP4 127.0.0.1", "c=IN IP4");
  expect_error(t, WEFT_SDP_OFFER, WEFT_ERR_SYNTAX, mline + 1, "c=");
  g_free(t);
  d = (weft__jsep_desc *)0x1;
  g_assert_cmpint(weft__jsep_parse(offer, WEFT_SDP_ROLLBACK, &d), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(d);
  g_assert_cmpint(weft__jsep_parse(NULL, WEFT_SDP_OFFER, &d), ==, WEFT_ERR_INVALID_ARG);

  /* ice-lite and session-level credentials. */
  t = replace(offer, "a=extmap-allow-mixed\r\n",
              "a=ice-lite\r\na=ice-ufrag:sess\r\na=ice-pwd:0123456789012345678901\r\n");
  t2 = remove_lines(t, "a=ice-ufrag:K8pt");
  d = parse_ok(t2, WEFT_SDP_OFFER);
  g_assert_true(d->ice_lite);
  g_assert_cmpstr(weft__jsep_data_section(d)->ice_ufrag, ==, "sess");
  g_assert_cmpstr(weft__jsep_data_section(d)->ice_pwd, ==, "8XIZWc8OwldqBdpr6f1oUeuw");
  weft__jsep_desc_free(d);
  g_free(t2);
  g_free(t);

  g_free(offer);
  g_free(answer);
}

static void test_bundle_inheritance(void) {
  /* Bundled sections without their own ICE/DTLS attributes take the tag's
   * (the first mid of the group). */
  char *av = load("chromium-av-data-offer.sdp");
  const char *video = strstr(av, "m=video");
  char *head = g_strndup(av, (gsize)(video - av));
  char *tail_ufrag = remove_lines(video, "a=ice-ufrag:");
  char *tail_pwd = remove_lines(tail_ufrag, "a=ice-pwd:");
  char *tail_fp = remove_lines(tail_pwd, "a=fingerprint:");
  char *tail = remove_lines(tail_fp, "a=setup:");
  char *t = g_strconcat(head, tail, NULL);
  weft__jsep_desc *d = parse_ok(t, WEFT_SDP_OFFER);
  const weft__jsep_section *s = weft__jsep_data_section(d);
  g_assert_cmpstr(s->ice_ufrag, ==, "Q10fGNv3");
  g_assert_cmpstr(s->ice_pwd, ==, "1yU65XCck3Y4Bx7H5CDBCLN8X0/LjKve");
  g_assert_cmpstr(s->fingerprint_alg, ==, "sha-256");
  g_assert_cmpint(s->setup, ==, WEFT__SETUP_ACTPASS);
  weft__jsep_desc_free(d);
  /* Not bundled: the data section has no credentials. */
  char *nb = replace(t, "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1");
  expect_error(nb, WEFT_SDP_OFFER, WEFT_ERR_INVALID_ACCESS, line_of(nb, "m=application"),
               "ice-ufrag");
  g_free(nb);
  /* A rejected section needs nothing. */
  char *rej = replace(t, "m=application 51730", "m=application 0");
  char *rej2 = replace(rej, "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1");
  d = parse_ok(rej2, WEFT_SDP_OFFER);
  g_assert_null(weft__jsep_data_section(d));
  g_assert_true(((weft__jsep_section *)g_ptr_array_index(d->sections, 2))->rejected);
  weft__jsep_desc_free(d);
  g_free(rej2);
  g_free(rej);
  g_free(t);
  g_free(tail);
  g_free(tail_fp);
  g_free(tail_pwd);
  g_free(tail_ufrag);
  g_free(head);
  g_free(av);
}

/* ---- candidates --------------------------------------------------------- */

static guint count(const char *hay, const char *needle) {
  guint n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void test_add_candidates(void) {
  weft__jsep_local l = local_params(WEFT__SETUP_ACTPASS);
  char *offer = weft__jsep_create_offer(&l);
  const char *c1[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
                      "a=candidate:2 1 udp 1694498815 192.0.2.1 40001 typ srflx raddr "
                      "127.0.0.1 rport 40000",
                      ""};
  char *s1 = weft__jsep_add_candidates(offer, "0", c1, G_N_ELEMENTS(c1), false);
  g_assert_nonnull(s1);
  weft__jsep_desc *d = parse_ok(s1, WEFT_SDP_OFFER);
  const weft__jsep_section *s = weft__jsep_data_section(d);
  g_assert_cmpuint(s->candidates->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(s->candidates, 0), ==, c1[0]);
  g_assert_cmpstr(g_ptr_array_index(s->candidates, 1), ==, c1[1] + 2);
  g_assert_false(s->end_of_candidates);
  weft__jsep_desc_free(d);

  /* JSEP §5.3.1: m= and c= show the default candidate, srflx over host. */
  g_assert_nonnull(strstr(s1, "m=application 40001 UDP/DTLS/SCTP"));
  g_assert_nonnull(strstr(s1, "\r\nc=IN IP4 192.0.2.1\r\n"));
  g_assert_null(strstr(s1, "c=IN IP4 0.0.0.0"));
  /* Host only: the first host; an mDNS name or a TCP one is never chosen;
   * without a usable candidate the placeholders stay. */
  const char *hosts[] = {"candidate:7 1 udp 2130706431 ab12cd.local 40010 typ host",
                         "candidate:8 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
                         "candidate:9 1 udp 2130706431 ::1 40011 typ host",
                         "candidate:10 1 udp 2130706430 127.0.0.1 40012 typ host"};
  char *h1 = weft__jsep_add_candidates(offer, "0", hosts, 2, false);
  g_assert_nonnull(strstr(h1, "m=application 9 UDP/DTLS/SCTP"));
  g_assert_nonnull(strstr(h1, "c=IN IP4 0.0.0.0"));
  char *h2 = weft__jsep_add_candidates(offer, "0", hosts, G_N_ELEMENTS(hosts), false);
  g_assert_nonnull(strstr(h2, "m=application 40011 UDP/DTLS/SCTP"));
  g_assert_nonnull(strstr(h2, "\r\nc=IN IP6 ::1\r\n"));
  g_free(h2);
  g_free(h1);

  /* Again with one duplicate and one new, and the end marker. */
  const char *c2[] = {c1[0], "candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active"};
  char *s2 = weft__jsep_add_candidates(s1, NULL, c2, G_N_ELEMENTS(c2), true);
  d = parse_ok(s2, WEFT_SDP_OFFER);
  s = weft__jsep_data_section(d);
  g_assert_cmpuint(s->candidates->len, ==, 3);
  g_assert_true(s->end_of_candidates);
  g_assert_cmpuint(count(s2, "a=candidate:1 1 udp"), ==, 1);
  g_assert_true(strstr(s2, "a=candidate:3 ") < strstr(s2, "a=end-of-candidates\r\n"));
  weft__jsep_desc_free(d);
  /* After the end marker, new candidates still go before it; no second one. */
  const char *c3[] = {"candidate:4 1 udp 1 127.0.0.1 40004 typ host"};
  char *s3 = weft__jsep_add_candidates(s2, "0", c3, 1, true);
  g_assert_cmpuint(count(s3, "a=end-of-candidates"), ==, 1);
  g_assert_true(strstr(s3, "a=candidate:4 ") < strstr(s3, "a=end-of-candidates"));
  d = parse_ok(s3, WEFT_SDP_OFFER);
  g_assert_cmpuint(weft__jsep_data_section(d)->candidates->len, ==, 4);
  weft__jsep_desc_free(d);
  /* Nothing to add: same description. */
  char *s4 = weft__jsep_add_candidates(s3, "0", NULL, 0, false);
  g_assert_cmpstr(s4, ==, s3);
  g_free(s4);
  g_free(s3);
  g_free(s2);
  g_free(s1);

  /* Bundled: candidates for mid "2" land in the first section of the group. */
  char *av = load("chromium-av-data-offer.sdp");
  char *sa = weft__jsep_add_candidates(av, "2", c3, 1, true);
  d = parse_ok(sa, WEFT_SDP_OFFER);
  const weft__jsep_section *audio = g_ptr_array_index(d->sections, 0);
  g_assert_cmpuint(audio->candidates->len, ==, 3);
  g_assert_true(audio->end_of_candidates);
  g_assert_cmpuint(weft__jsep_data_section(d)->candidates->len, ==, 0);
  g_assert_false(weft__jsep_data_section(d)->end_of_candidates);
  weft__jsep_desc_free(d);
  g_free(sa);
  /* Not bundled: they stay in their own section. */
  char *nb = remove_lines(av, "a=group:");
  sa = weft__jsep_add_candidates(nb, "2", c3, 1, false);
  d = parse_ok(sa, WEFT_SDP_OFFER);
  g_assert_cmpuint(weft__jsep_data_section(d)->candidates->len, ==, 1);
  weft__jsep_desc_free(d);
  g_free(sa);
  g_free(nb);

  /* Errors. */
  g_assert_null(weft__jsep_add_candidates(av, "nope", c3, 1, false));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft__jsep_add_candidates("v=0\r\nbogus\r\n", "0", c3, 1, false));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_SYNTAX);
  const char *evil[] = {"candidate:1 1 udp 1 127.0.0.1 1 typ host\r\na=setup:passive"};
  g_assert_null(weft__jsep_add_candidates(av, "0", evil, 1, false));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_SYNTAX);
  /* Found by tests/fuzz: non-ASCII is refused (the result would not parse),
   * and trailing blanks do not defeat the duplicate check. */
  const char *latin[] = {"candidate:1 1 udp 1 127.0.0.1 1 typ h\xc3\xb6st"};
  g_assert_null(weft__jsep_add_candidates(av, "0", latin, 1, false));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_SYNTAX);
  const char *blank[] = {"candidate:5 1 udp 1 127.0.0.1 5005 typ host  ",
                         "candidate:5 1 udp 1 127.0.0.1 5005 typ host"};
  char *bl = weft__jsep_add_candidates(av, "0", blank, 2, false);
  g_assert_nonnull(bl);
  g_assert_cmpuint(count(bl, "a=candidate:5 1 udp"), ==, 1);
  char *bl2 = weft__jsep_add_candidates(bl, "0", blank, 1, false);
  g_assert_cmpstr(bl2, ==, bl);
  g_free(bl2);
  g_free(bl);
  const char *nocand[] = {"1 1 udp 1 127.0.0.1 1 typ host"};
  g_assert_null(weft__jsep_add_candidates(av, "0", nocand, 1, false));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_SYNTAX);
  g_free(av);

  /* A description without m-sections comes back unchanged. */
  l.include_data = false;
  char *empty = weft__jsep_create_offer(&l);
  char *se = weft__jsep_add_candidates(empty, NULL, c3, 1, true);
  g_assert_cmpstr(se, ==, empty);
  g_free(se);
  g_free(empty);
  g_free(offer);
}

/* Mutated corpus offers never crash the JSEP layer; whatever parses can be
 * answered, and the answer parses. */

/* A fixture with 1..@max_edits random edits: a token inserted, up to
 * @max_erase bytes erased, or one byte replaced by a printable one. */
static GString *mutated_fixture(GRand *r, const char *file, const char *const *tokens,
                                guint n_tokens, int max_edits, int max_erase) {
  char *text = load(file);
  GString *g = g_string_new(text);
  g_free(text);
  for (int k = g_rand_int_range(r, 1, max_edits + 1); k > 0 && g->len; k--) {
    gsize at = (gsize)g_rand_int_range(r, 0, (gint32)g->len);
    switch (g_rand_int_range(r, 0, 3)) {
    case 0:
      g_string_insert(g, (gssize)at, tokens[g_rand_int_range(r, 0, (gint32)n_tokens)]);
      break;
    case 1: {
      gsize n = (gsize)g_rand_int_range(r, 1, max_erase);
      g_string_erase(g, (gssize)at, (gssize)MIN(g->len - at, n));
      break;
    }
    default:
      g->str[at] = (char)g_rand_int_range(r, 0x20, 0x7f);
      break;
    }
  }
  return g;
}

static void test_fuzz(void) {
  GRand *r = g_rand_new_with_seed(0x15e9);
  static const char *const tokens[] = {"a=ice-ufrag:x\r\n",
                                       "a=setup:active\r\n",
                                       "a=mid:0\r\n",
                                       "a=group:BUNDLE 0 1\r\n",
                                       "a=fingerprint:md2 00\r\n",
                                       "m=application 0 DTLS/SCTP 5000\r\n",
                                       "a=sctpmap:5000 webrtc-datachannel 70000\r\n",
                                       "a=bundle-only\r\n",
                                       ":",
                                       " ",
                                       "\r\n"};
  int counts[4] = {0};
  weft__jsep_local l = local_params(WEFT__SETUP_ACTIVE);
  for (int iter = 0; iter < 3000; iter++) {
    GString *g = mutated_fixture(r, offers[g_rand_int_range(r, 0, G_N_ELEMENTS(offers))].file,
                                 tokens, G_N_ELEMENTS(tokens), 3, 40);
    weft__jsep_desc *d = NULL;
    int rc = weft__jsep_parse(g->str, WEFT_SDP_OFFER, &d);
    if (rc == 0) {
      counts[0]++;
      char *answer = weft__jsep_create_answer(d, &l);
      g_assert_nonnull(answer);
      weft__jsep_desc *a = NULL;
      if (weft__jsep_parse(answer, WEFT_SDP_ANSWER, &a) != 0)
        g_error("answer to a mutated offer does not parse: %s\n%s\n--\n%s", weft__error_message(),
                g->str, answer);
      g_assert_cmpuint(a->sections->len, ==, d->sections->len);
      weft__jsep_desc_free(a);
      g_free(answer);
      weft__jsep_desc_free(d);
    } else {
      g_assert_null(d);
      g_assert_true(rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_INVALID_ACCESS ||
                    rc == WEFT_ERR_NOT_SUPPORTED);
      counts[rc == WEFT_ERR_SYNTAX ? 1 : rc == WEFT_ERR_INVALID_ACCESS ? 2 : 3]++;
      g_assert_nonnull(strstr(weft__error_message(), "line"));
    }
    g_string_free(g, TRUE);
  }
  g_test_message("jsep fuzz: %d ok, %d syntax, %d invalid-access, %d not-supported", counts[0],
                 counts[1], counts[2], counts[3]);
  g_assert_cmpint(counts[0], >, 0);
  g_assert_cmpint(counts[1], >, 0);
  g_assert_cmpint(counts[2], >, 0);
  g_rand_free(r);
}

/* ---- Media sections (media.c) ------------------------------------------- */

/* Parses @file and the RTP model of its m-section @idx. */
static weft__media_desc *media_of(const char *file, guint idx) {
  char *text = load(file);
  weft__sdp *sdp = NULL;
  g_assert_cmpint(weft__sdp_parse(text, &sdp), ==, 0);
  weft__media_desc *d = NULL;
  if (weft__media_parse(g_ptr_array_index(sdp->media, idx), &d) != 0)
    g_error("%s section %u: %s", file, idx, weft__error_message());
  weft__sdp_free(sdp);
  g_free(text);
  return d;
}

/* The payload types of @d as "111 0 8". */
static char *pts_of(const weft__media_desc *d) {
  GString *g = g_string_new(NULL);
  for (guint i = 0; i < d->codecs->len; i++)
    g_string_append_printf(g, "%s%u", i ? " " : "",
                           ((weft__rtp_codec *)g_ptr_array_index(d->codecs, i))->pt);
  return g_string_free(g, FALSE);
}

static char *fb_of(const weft__rtp_codec *c) {
  GString *g = g_string_new(NULL);
  for (guint i = 0; i < c->rtcp_fb->len; i++)
    g_string_append_printf(g, "%s%s", i ? "," : "", (char *)g_ptr_array_index(c->rtcp_fb, i));
  return g_string_free(g, FALSE);
}

#define assert_pts(d, want)                                                                        \
  do {                                                                                             \
    char *pts_ = pts_of(d);                                                                        \
    g_assert_cmpstr(pts_, ==, want);                                                               \
    g_free(pts_);                                                                                  \
  } while (0)

#define assert_fb(c, want)                                                                         \
  do {                                                                                             \
    char *fb_ = fb_of(c);                                                                          \
    g_assert_cmpstr(fb_, ==, want);                                                                \
    g_free(fb_);                                                                                   \
  } while (0)

/* Writes @d as the only section of a session and parses it back. */
static weft__media_desc *round_trip(const weft__media_desc *d, char **text_out) {
  weft__sdp *s = weft__sdp_new();
  weft__sdp_add_media(s, weft__media_write(d));
  char *text = weft__sdp_write(s);
  weft__sdp_free(s);
  weft__sdp *back = NULL;
  if (weft__sdp_parse(text, &back) != 0)
    g_error("written section does not parse: %s\n%s", weft__error_message(), text);
  weft__media_desc *r = NULL;
  if (weft__media_parse(g_ptr_array_index(back->media, 0), &r) != 0)
    g_error("written section does not parse: %s\n%s", weft__error_message(), text);
  weft__sdp_free(back);
  if (text_out)
    *text_out = text;
  else
    g_free(text);
  return r;
}

static void test_media_parse_chromium(void) {
  weft__media_desc *a = media_of("chromium-av-data-offer.sdp", 0);
  g_assert_cmpint(a->kind, ==, WEFT__KIND_AUDIO);
  g_assert_cmpstr(a->mid, ==, "0");
  g_assert_cmpint(a->direction, ==, WEFT__DIR_SENDRECV);
  g_assert_true(a->proto_ok && a->rtcp_mux && a->rtcp_rsize && !a->rtcp_mux_only);
  g_assert_false(a->rejected || a->bundle_only);
  assert_pts(a, "111 63 9 0 8 13 110 126");
  const weft__rtp_codec *opus = weft__media_find_pt(a, 111);
  g_assert_cmpstr(opus->name, ==, "opus");
  g_assert_cmpuint(opus->clock_rate, ==, 48000);
  g_assert_cmpuint(opus->channels, ==, 2);
  g_assert_cmpstr(opus->fmtp, ==, "minptime=10;useinbandfec=1");
  assert_fb(opus, "transport-cc");
  g_assert_cmpint(opus->apt, ==, -1);
  g_assert_cmpuint(weft__media_find_pt(a, 0)->clock_rate, ==, 8000);
  g_assert_cmpuint(weft__media_find_pt(a, 0)->channels, ==, 0);
  g_assert_cmpuint(a->extmaps->len, ==, 4);
  const weft__rtp_extmap *e = g_ptr_array_index(a->extmaps, 3);
  g_assert_cmpuint(e->id, ==, 4);
  g_assert_cmpstr(e->uri, ==, "urn:ietf:params:rtp-hdrext:sdes:mid");
  g_assert_false(e->has_direction);
  g_assert_cmpuint(a->ssrcs->len, ==, 1);
  const weft__rtp_ssrc *s = g_ptr_array_index(a->ssrcs, 0);
  g_assert_cmpuint(s->ssrc, ==, 2837465190u);
  g_assert_cmpstr(s->cname, ==, "Yq3n0fX8kL2pR7vB");
  g_assert_cmpstr(s->msid, ==,
                  "6b0a7e35-2c4f-4b8a-9d1e-0f3c5a7b9d21 1f6c9a0e-8d3b-4e52-a7c1-5b2d9e0f4a63");
  g_assert_cmpstr(a->msid_stream, ==, "6b0a7e35-2c4f-4b8a-9d1e-0f3c5a7b9d21");
  g_assert_cmpstr(a->msid_track, ==, "1f6c9a0e-8d3b-4e52-a7c1-5b2d9e0f4a63");
  g_assert_cmpuint(a->fid->len, ==, 0);
  weft__media_desc_free(a);

  weft__media_desc *v = media_of("chromium-av-data-offer.sdp", 1);
  g_assert_cmpint(v->kind, ==, WEFT__KIND_VIDEO);
  g_assert_cmpstr(v->mid, ==, "1");
  assert_pts(v, "96 97 102 103 104 105 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 "
                "120");
  assert_fb(weft__media_find_pt(v, 102), "goog-remb,transport-cc,ccm fir,nack,nack pli");
  g_assert_cmpint(weft__media_find_pt(v, 97)->apt, ==, 96);
  g_assert_cmpint(weft__media_find_pt(v, 40)->apt, ==, 39);
  g_assert_cmpint(weft__media_find_pt(v, 118)->apt, ==, -1); /* red */
  g_assert_cmpstr(weft__media_find_pt(v, 108)->fmtp, ==,
                  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
  g_assert_cmpuint(v->extmaps->len, ==, 7);
  g_assert_cmpuint(v->fid->len, ==, 2);
  g_assert_cmpuint(g_array_index(v->fid, uint32_t, 0), ==, 1184633045u);
  g_assert_cmpuint(g_array_index(v->fid, uint32_t, 1), ==, 3427913508u);
  g_assert_cmpuint(v->ssrcs->len, ==, 2);
  weft__media_desc_free(v);

  /* The data section is not RTP. */
  char *text = load("chromium-av-data-offer.sdp");
  weft__sdp *sdp = NULL;
  g_assert_cmpint(weft__sdp_parse(text, &sdp), ==, 0);
  weft__media_desc *d = NULL;
  g_assert_cmpint(weft__media_parse(g_ptr_array_index(sdp->media, 2), &d), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_null(d);
  weft__sdp_free(sdp);
  g_free(text);
}

static void test_media_parse_aiortc(void) {
  weft__media_desc *a = media_of("aiortc-av-offer.sdp", 0);
  assert_pts(a, "96 0 8");
  g_assert_true(a->rtcp_mux);
  g_assert_false(a->rtcp_rsize);
  g_assert_cmpstr(weft__media_find_pt(a, 96)->name, ==, "opus");
  g_assert_null(weft__media_find_pt(a, 96)->fmtp);
  g_assert_cmpuint(((weft__rtp_extmap *)g_ptr_array_index(a->extmaps, 0))->id, ==, 1);
  g_assert_cmpuint(a->ssrcs->len, ==, 1);
  g_assert_null(((weft__rtp_ssrc *)g_ptr_array_index(a->ssrcs, 0))->msid);
  g_assert_nonnull(a->msid_track);
  weft__media_desc_free(a);
  weft__media_desc *v = media_of("aiortc-av-offer.sdp", 1);
  assert_pts(v, "97 98 99 100 101 102");
  g_assert_cmpint(weft__media_find_pt(v, 102)->apt, ==, 101);
  assert_fb(weft__media_find_pt(v, 97), "nack,nack pli,goog-remb");
  g_assert_cmpuint(v->fid->len, ==, 2);
  g_assert_cmpuint(v->ssrcs->len, ==, 2);
  weft__media_desc_free(v);
}

static void test_media_parse_gstreamer(void) {
  /* webrtcbin writes rtcp-fb before rtpmap, and msid only on a=ssrc. */
  weft__media_desc *v = media_of("gstreamer-video-data-offer.sdp", 0);
  assert_pts(v, "96");
  assert_fb(weft__media_find_pt(v, 96), "nack,nack pli,ccm fir");
  g_assert_null(v->msid_stream);
  g_assert_cmpuint(v->ssrcs->len, ==, 1);
  const weft__rtp_ssrc *s = g_ptr_array_index(v->ssrcs, 0);
  g_assert_cmpstr(s->msid, ==, "user1832739126@host-4a1b2c3d webrtctransceiver0");
  g_assert_cmpstr(s->cname, ==, "user1832739126@host-4a1b2c3d");
  g_assert_cmpuint(v->extmaps->len, ==, 0);
  weft__media_desc_free(v);
}

static weft__media_desc *answer_with(const weft__media_desc *offer, const weft__media_local *l) {
  weft__media_desc *ans = NULL;
  g_assert_cmpint(weft__media_answer(offer, l, &ans), ==, 0);
  g_assert_nonnull(ans);
  g_assert_cmpstr(ans->mid, ==, offer->mid);
  /* Every answer survives a write/parse round trip unchanged. */
  weft__media_desc *back = round_trip(ans, NULL);
  char *p1 = pts_of(ans), *p2 = pts_of(back);
  if (!ans->rejected) {
    g_assert_cmpstr(p1, ==, p2);
    g_assert_cmpint(back->direction, ==, ans->direction);
  } else {
    g_assert_true(back->rejected);
  }
  g_free(p1);
  g_free(p2);
  weft__media_desc_free(back);
  return ans;
}

static void test_media_answer_audio(void) {
  weft__media_desc *offer = media_of("chromium-av-data-offer.sdp", 0);
  static const weft__codec_id opus[] = {WEFT__CID_OPUS};
  weft__media_local l = {.direction = WEFT__DIR_RECVONLY, .prefs = opus, .n_prefs = 1};
  weft__media_desc *ans = answer_with(offer, &l);
  g_assert_false(ans->rejected);
  g_assert_cmpuint(ans->port, ==, 9);
  assert_pts(ans, "111");
  const weft__rtp_codec *c = g_ptr_array_index(ans->codecs, 0);
  g_assert_cmpstr(c->fmtp, ==, "minptime=10;useinbandfec=1");
  assert_fb(c, ""); /* transport-cc off by default */
  g_assert_cmpint(ans->direction, ==, WEFT__DIR_RECVONLY);
  g_assert_true(ans->rtcp_mux && ans->rtcp_rsize);
  /* Only sdes:mid, with the offerer's id 4. */
  g_assert_cmpuint(ans->extmaps->len, ==, 1);
  g_assert_cmpuint(((weft__rtp_extmap *)g_ptr_array_index(ans->extmaps, 0))->id, ==, 4);
  g_assert_cmpuint(ans->ssrcs->len, ==, 0); /* recvonly: no sender */
  g_assert_null(ans->msid_stream);
  weft__media_desc_free(ans);

  /* transport-cc kept when supported; sending adds ssrc/msid. */
  l.transport_cc = true;
  l.direction = WEFT__DIR_SENDRECV;
  l.ssrc = 1234;
  l.cname = "weftcname";
  l.msid_stream = "s1";
  l.msid_track = "t1";
  ans = answer_with(offer, &l);
  assert_fb(g_ptr_array_index(ans->codecs, 0), "transport-cc");
  g_assert_cmpint(ans->direction, ==, WEFT__DIR_SENDRECV);
  g_assert_cmpuint(ans->ssrcs->len, ==, 1);
  const weft__rtp_ssrc *s = g_ptr_array_index(ans->ssrcs, 0);
  g_assert_cmpuint(s->ssrc, ==, 1234);
  g_assert_cmpstr(s->cname, ==, "weftcname");
  g_assert_cmpstr(s->msid, ==, "s1 t1");
  g_assert_cmpstr(ans->msid_stream, ==, "s1");
  char *text = NULL;
  weft__media_desc *back = round_trip(ans, &text);
  g_assert_nonnull(strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
  g_assert_nonnull(strstr(text, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"));
  g_assert_nonnull(strstr(text, "a=msid:s1 t1\r\n"));
  g_assert_nonnull(strstr(text, "a=ssrc:1234 cname:weftcname\r\n"));
  g_assert_null(strstr(text, "audio-level"));
  g_free(text);
  weft__media_desc_free(back);
  weft__media_desc_free(ans);

  /* PCMU + PCMA in the offer's order (9 G722 and 13 CN are not ours). */
  static const weft__codec_id g711[] = {WEFT__CID_PCMA, WEFT__CID_PCMU};
  weft__media_local g = {.direction = WEFT__DIR_SENDRECV, .prefs = g711, .n_prefs = 2};
  ans = answer_with(offer, &g);
  assert_pts(ans, "0 8");
  weft__media_desc_free(ans);
  /* Whole table: offer order. */
  weft__media_local all = {.direction = WEFT__DIR_SENDRECV};
  ans = answer_with(offer, &all);
  assert_pts(ans, "111 0 8");
  weft__media_desc_free(ans);
  /* VP8 only in an audio section: nothing in common. */
  static const weft__codec_id vp8[] = {WEFT__CID_VP8};
  weft__media_local v = {.direction = WEFT__DIR_SENDRECV, .prefs = vp8, .n_prefs = 1};
  ans = answer_with(offer, &v);
  g_assert_true(ans->rejected);
  g_assert_cmpuint(ans->port, ==, 0);
  g_assert_cmpuint(ans->codecs->len, ==, 0);
  text = NULL;
  back = round_trip(ans, &text);
  g_assert_nonnull(strstr(text, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n"));
  g_assert_nonnull(strstr(text, "a=mid:0\r\n"));
  g_assert_null(strstr(text, "rtpmap"));
  g_free(text);
  weft__media_desc_free(back);
  weft__media_desc_free(ans);
  weft__media_desc_free(offer);

  /* aiortc: Opus is 96 there, and the answer keeps 96; no rtcp-rsize. */
  offer = media_of("aiortc-av-offer.sdp", 0);
  ans = answer_with(offer, &l);
  assert_pts(ans, "96");
  g_assert_false(ans->rtcp_rsize);
  g_assert_cmpuint(((weft__rtp_extmap *)g_ptr_array_index(ans->extmaps, 0))->id, ==, 1);
  weft__media_desc_free(ans);
  weft__media_desc_free(offer);
}

static void test_media_answer_video(void) {
  weft__media_desc *offer = media_of("chromium-av-data-offer.sdp", 1);
  static const weft__codec_id vp8[] = {WEFT__CID_VP8};
  weft__media_local l = {.direction = WEFT__DIR_SENDRECV, .prefs = vp8, .n_prefs = 1};
  weft__media_desc *ans = answer_with(offer, &l);
  assert_pts(ans, "96"); /* rtx 97 dropped: RTX off by default */
  assert_fb(g_ptr_array_index(ans->codecs, 0), "ccm fir,nack,nack pli");
  g_assert_null(((weft__rtp_codec *)g_ptr_array_index(ans->codecs, 0))->fmtp);
  g_assert_cmpuint(ans->extmaps->len, ==, 1);
  g_assert_cmpuint(((weft__rtp_extmap *)g_ptr_array_index(ans->extmaps, 0))->id, ==, 4);
  weft__media_desc_free(ans);
  /* With RTX, REMB and transport-cc: 97 kept after 96, FID in the answer. */
  l.rtx = l.remb = l.transport_cc = true;
  l.ssrc = 11;
  l.rtx_ssrc = 12;
  l.cname = "c";
  ans = answer_with(offer, &l);
  assert_pts(ans, "96 97");
  assert_fb(g_ptr_array_index(ans->codecs, 0), "goog-remb,transport-cc,ccm fir,nack,nack pli");
  g_assert_cmpstr(((weft__rtp_codec *)g_ptr_array_index(ans->codecs, 1))->fmtp, ==, "apt=96");
  g_assert_cmpuint(ans->fid->len, ==, 2);
  g_assert_cmpuint(ans->ssrcs->len, ==, 2);
  weft__media_desc_free(ans);

  /* H264 (default constrained baseline 42e01f): only 108 (mode 1, 42e01f);
   * not 102 (Baseline 42001f), 104 (mode 0), 114 (Main), 116/39 (High). */
  static const weft__codec_id h264[] = {WEFT__CID_H264};
  weft__media_local h = {.direction = WEFT__DIR_SENDRECV, .prefs = h264, .n_prefs = 1};
  ans = answer_with(offer, &h);
  assert_pts(ans, "108");
  g_assert_cmpstr(((weft__rtp_codec *)g_ptr_array_index(ans->codecs, 0))->fmtp, ==,
                  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
  weft__media_desc_free(ans);
  /* A lower local level is answered with the offer's profile, our level. */
  h.h264_profile_level_id = 0x42e00d;
  ans = answer_with(offer, &h);
  assert_pts(ans, "108");
  g_assert_cmpstr(((weft__rtp_codec *)g_ptr_array_index(ans->codecs, 0))->fmtp, ==,
                  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e00d");
  weft__media_desc_free(ans);
  /* High profile (level 5.1 > offered 3.1: the offered level is kept). */
  h.h264_profile_level_id = 0x640033;
  ans = answer_with(offer, &h);
  assert_pts(ans, "39");
  g_assert_nonnull(strstr(((weft__rtp_codec *)g_ptr_array_index(ans->codecs, 0))->fmtp,
                          "profile-level-id=64001f"));
  weft__media_desc_free(ans);
  /* Main profile via 4d0028. */
  h.h264_profile_level_id = 0x4d0028;
  ans = answer_with(offer, &h);
  assert_pts(ans, "114");
  weft__media_desc_free(ans);
  /* Opus only on video: rejected. */
  static const weft__codec_id opus[] = {WEFT__CID_OPUS};
  weft__media_local o = {.direction = WEFT__DIR_SENDRECV, .prefs = opus, .n_prefs = 1};
  ans = answer_with(offer, &o);
  g_assert_true(ans->rejected);
  weft__media_desc_free(ans);
  /* Whole table: VP8 then the one compatible H264, offer order. */
  weft__media_local all = {.direction = WEFT__DIR_SENDRECV};
  ans = answer_with(offer, &all);
  assert_pts(ans, "96 108");
  weft__media_desc_free(ans);
  weft__media_desc_free(offer);

  /* aiortc lists 42001f (99) before 42e01f (101): 101 is the one. */
  offer = media_of("aiortc-av-offer.sdp", 1);
  ans = answer_with(offer, &h);
  g_assert_true(ans->rejected); /* Main is not offered by aiortc */
  weft__media_desc_free(ans);
  h.h264_profile_level_id = 0;
  h.rtx = true;
  ans = answer_with(offer, &h);
  assert_pts(ans, "101 102");
  g_assert_cmpint(((weft__rtp_codec *)g_ptr_array_index(ans->codecs, 1))->apt, ==, 101);
  assert_fb(g_ptr_array_index(ans->codecs, 0), "nack,nack pli");
  weft__media_desc_free(ans);
  weft__media_desc_free(offer);
}

/* Loads @file, applies @old → @new_ in it, and answers section @idx. */
static weft__media_desc *answer_edited(const char *file, guint idx, const char *old,
                                       const char *new_, const weft__media_local *l) {
  char *text = load(file);
  char *edited = old ? replace(text, old, new_) : g_strdup(text);
  weft__sdp *sdp = NULL;
  g_assert_cmpint(weft__sdp_parse(edited, &sdp), ==, 0);
  weft__media_desc *offer = NULL;
  g_assert_cmpint(weft__media_parse(g_ptr_array_index(sdp->media, idx), &offer), ==, 0);
  weft__media_desc *ans = answer_with(offer, l);
  weft__media_desc_free(offer);
  weft__sdp_free(sdp);
  g_free(edited);
  g_free(text);
  return ans;
}

static void test_media_answer_rules(void) {
  /* RFC 3264 §6.1 direction table. */
  static const struct {
    weft__direction offer, local, want;
  } dirs[] = {
      {WEFT__DIR_SENDRECV, WEFT__DIR_SENDRECV, WEFT__DIR_SENDRECV},
      {WEFT__DIR_SENDRECV, WEFT__DIR_RECVONLY, WEFT__DIR_RECVONLY},
      {WEFT__DIR_SENDRECV, WEFT__DIR_SENDONLY, WEFT__DIR_SENDONLY},
      {WEFT__DIR_SENDRECV, WEFT__DIR_INACTIVE, WEFT__DIR_INACTIVE},
      {WEFT__DIR_SENDONLY, WEFT__DIR_SENDRECV, WEFT__DIR_RECVONLY},
      {WEFT__DIR_SENDONLY, WEFT__DIR_SENDONLY, WEFT__DIR_INACTIVE},
      {WEFT__DIR_SENDONLY, WEFT__DIR_RECVONLY, WEFT__DIR_RECVONLY},
      {WEFT__DIR_RECVONLY, WEFT__DIR_SENDRECV, WEFT__DIR_SENDONLY},
      {WEFT__DIR_RECVONLY, WEFT__DIR_RECVONLY, WEFT__DIR_INACTIVE},
      {WEFT__DIR_RECVONLY, WEFT__DIR_SENDONLY, WEFT__DIR_SENDONLY},
      {WEFT__DIR_INACTIVE, WEFT__DIR_SENDRECV, WEFT__DIR_INACTIVE},
  };
  for (unsigned i = 0; i < G_N_ELEMENTS(dirs); i++)
    g_assert_cmpint(weft__direction_answer(dirs[i].offer, dirs[i].local), ==, dirs[i].want);

  /* End to end: a sendonly offer answered by a sendrecv weft is recvonly
   * and carries no ssrc. */
  weft__media_local l = {.direction = WEFT__DIR_SENDRECV, .ssrc = 5, .cname = "c"};
  weft__media_desc *ans =
      answer_edited("chromium-av-data-offer.sdp", 0, "a=sendrecv", "a=sendonly", &l);
  g_assert_cmpint(ans->direction, ==, WEFT__DIR_RECVONLY);
  g_assert_cmpuint(ans->ssrcs->len, ==, 0);
  weft__media_desc_free(ans);
  ans = answer_edited("aiortc-av-offer.sdp", 0, "a=sendrecv", "a=recvonly", &l);
  g_assert_cmpint(ans->direction, ==, WEFT__DIR_SENDONLY);
  g_assert_cmpuint(ans->ssrcs->len, ==, 1);
  weft__media_desc_free(ans);

  /* No a=rtcp-mux: rejected. */
  ans = answer_edited("aiortc-av-offer.sdp", 0, "a=rtcp-mux\r\n", "", &l);
  g_assert_true(ans->rejected);
  g_assert_cmpuint(ans->port, ==, 0);
  weft__media_desc_free(ans);
  /* Plain RTP/AVP: rejected. */
  ans = answer_edited("aiortc-av-offer.sdp", 0, "UDP/TLS/RTP/SAVPF 96 0 8", "RTP/AVP 96 0 8", &l);
  g_assert_true(ans->rejected);
  weft__media_desc_free(ans);
  /* Rejected in the offer: rejected. */
  ans = answer_edited("aiortc-av-offer.sdp", 0, "m=audio 59086", "m=audio 0", &l);
  g_assert_true(ans->rejected);
  weft__media_desc_free(ans);
  /* bundle-only with port 0 is not rejected (RFC 8843 §6). */
  char *text = load("aiortc-av-offer.sdp");
  char *e1 = replace(text, "m=audio 59086", "m=audio 0");
  char *e2 = replace(e1, "a=mid:0\r\n", "a=mid:0\r\na=bundle-only\r\n");
  weft__sdp *sdp = NULL;
  g_assert_cmpint(weft__sdp_parse(e2, &sdp), ==, 0);
  weft__media_desc *o = NULL;
  g_assert_cmpint(weft__media_parse(g_ptr_array_index(sdp->media, 0), &o), ==, 0);
  g_assert_true(o->bundle_only);
  g_assert_false(o->rejected);
  ans = answer_with(o, &l);
  g_assert_false(ans->rejected);
  weft__media_desc_free(ans);
  weft__media_desc_free(o);
  weft__sdp_free(sdp);
  g_free(e2);
  g_free(e1);
  g_free(text);
  /* No sdes:mid offered: no extmap in the answer. */
  ans = answer_edited("aiortc-av-offer.sdp", 0,
                      "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n", "", &l);
  g_assert_false(ans->rejected);
  g_assert_cmpuint(ans->extmaps->len, ==, 0);
  weft__media_desc_free(ans);
  /* Opus with another channel count is not ours. */
  ans = answer_edited("aiortc-av-offer.sdp", 0, "opus/48000/2", "opus/48000/1", &l);
  assert_pts(ans, "0 8");
  weft__media_desc_free(ans);
  /* H264 without packetization-mode is mode 0: not taken. */
  static const weft__codec_id h264[] = {WEFT__CID_H264};
  weft__media_local h = {.direction = WEFT__DIR_SENDRECV, .prefs = h264, .n_prefs = 1};
  ans = answer_edited("aiortc-av-offer.sdp", 1,
                      "a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;",
                      "a=fmtp:101 level-asymmetry-allowed=1;", &h);
  g_assert_true(ans->rejected);
  weft__media_desc_free(ans);
  /* A malformed profile-level-id ("0x" prefix) is not taken. */
  ans = answer_edited("aiortc-av-offer.sdp", 1, "profile-level-id=42e01f",
                      "profile-level-id=0x42e0", &h);
  g_assert_true(ans->rejected);
  weft__media_desc_free(ans);
  /* 4de01f (Main with constraint_set0) is constrained baseline too. */
  ans = answer_edited("aiortc-av-offer.sdp", 1, "profile-level-id=42e01f",
                      "profile-level-id=4de01f", &h);
  assert_pts(ans, "101");
  weft__media_desc_free(ans);

  /* Profile classification. */
  int p1, p2, lv1, lv2;
  g_assert_true(weft__h264_profile(0x42e01f, &p1, &lv1));
  g_assert_true(weft__h264_profile(0x58c01f, &p2, &lv2));
  g_assert_cmpint(p1, ==, p2);
  g_assert_true(weft__h264_profile(0x42001f, &p2, NULL));
  g_assert_cmpint(p1, !=, p2);
  g_assert_true(weft__h264_profile(0x42f00b, NULL, &lv1)); /* 1b */
  g_assert_true(weft__h264_profile(0x42e00a, NULL, &lv2)); /* 1 */
  g_assert_cmpint(lv2, <, lv1);
  g_assert_true(weft__h264_profile(0x42e00b, NULL, &lv2)); /* 1.1 */
  g_assert_cmpint(lv1, <, lv2);
  g_assert_false(weft__h264_profile(0x12e01f, NULL, NULL));
}

static void test_media_offer(void) {
  weft__media_local l = {.kind = WEFT__KIND_AUDIO,
                         .mid = "0",
                         .direction = WEFT__DIR_SENDRECV,
                         .ssrc = 0xdeadbeef,
                         .cname = "cn",
                         .msid_stream = "stream",
                         .msid_track = "track"};
  weft__media_desc *off = NULL;
  g_assert_cmpint(weft__media_offer(&l, &off), ==, 0);
  assert_pts(off, "111 0 8");
  char *text = NULL;
  weft__media_desc *back = round_trip(off, &text);
  g_assert_nonnull(strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\n"));
  g_assert_nonnull(strstr(text, "a=rtpmap:111 opus/48000/2\r\n"));
  g_assert_nonnull(strstr(text, "a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
  g_assert_nonnull(strstr(text, "a=rtpmap:0 PCMU/8000\r\n"));
  g_assert_nonnull(strstr(text, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"));
  g_assert_nonnull(strstr(text, "a=rtcp-mux\r\n"));
  g_assert_nonnull(strstr(text, "a=rtcp-rsize\r\n"));
  g_assert_nonnull(strstr(text, "a=ssrc:3735928559 cname:cn\r\n"));
  g_assert_nonnull(strstr(text, "a=ssrc:3735928559 msid:stream track\r\n"));
  g_assert_nonnull(strstr(text, "a=msid:stream track\r\n"));
  assert_pts(back, "111 0 8");
  g_assert_cmpstr(back->mid, ==, "0");
  g_assert_cmpstr(back->msid_track, ==, "track");
  g_assert_true(back->rtcp_mux && back->rtcp_rsize);
  /* Answering our own offer with the whole table keeps everything. */
  weft__media_local any = {.direction = WEFT__DIR_RECVONLY};
  weft__media_desc *ans = answer_with(back, &any);
  assert_pts(ans, "111 0 8");
  g_assert_cmpint(ans->direction, ==, WEFT__DIR_RECVONLY);
  weft__media_desc_free(ans);
  weft__media_desc_free(back);
  weft__media_desc_free(off);
  g_free(text);

  /* Video, H264 first, RTX on: dynamic PTs 96.. without collisions. */
  static const weft__codec_id prefs[] = {WEFT__CID_H264, WEFT__CID_VP8};
  weft__media_local v = {.kind = WEFT__KIND_VIDEO,
                         .mid = "1",
                         .direction = WEFT__DIR_SENDONLY,
                         .prefs = prefs,
                         .n_prefs = 2,
                         .rtx = true,
                         .remb = true,
                         .ssrc = 1,
                         .rtx_ssrc = 2,
                         .cname = "cn",
                         .mid_ext_id = 9};
  g_assert_cmpint(weft__media_offer(&v, &off), ==, 0);
  assert_pts(off, "96 97 98 99");
  back = round_trip(off, &text);
  g_assert_nonnull(strstr(text, "a=sendonly\r\n"));
  g_assert_nonnull(strstr(text, "a=rtpmap:96 H264/90000\r\n"));
  g_assert_nonnull(strstr(
      text,
      "a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"));
  g_assert_nonnull(strstr(text, "a=fmtp:97 apt=96\r\n"));
  g_assert_nonnull(strstr(text, "a=rtpmap:98 VP8/90000\r\n"));
  g_assert_nonnull(strstr(text, "a=rtcp-fb:98 goog-remb\r\n"));
  g_assert_nonnull(strstr(text, "a=ssrc-group:FID 1 2\r\n"));
  g_assert_nonnull(strstr(text, "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"));
  g_assert_null(strstr(text, "a=msid:"));
  g_assert_cmpint(back->direction, ==, WEFT__DIR_SENDONLY);
  g_assert_cmpint(weft__media_find_pt(back, 99)->apt, ==, 98);
  assert_fb(weft__media_find_pt(back, 96), "goog-remb,ccm fir,nack,nack pli");
  g_assert_cmpuint(back->fid->len, ==, 2);
  g_assert_cmpuint(back->ssrcs->len, ==, 2);
  /* Answered by a VP8-only peer without RTX: 98 alone, recvonly. */
  static const weft__codec_id vp8[] = {WEFT__CID_VP8};
  weft__media_local peer = {.direction = WEFT__DIR_SENDRECV, .prefs = vp8, .n_prefs = 1};
  ans = answer_with(back, &peer);
  assert_pts(ans, "98");
  g_assert_cmpint(ans->direction, ==, WEFT__DIR_RECVONLY);
  weft__media_desc_free(ans);
  weft__media_desc_free(back);
  weft__media_desc_free(off);
  g_free(text);

  /* Default video: VP8 96, H264 97; recvonly: no ssrc. */
  weft__media_local dv = {.kind = WEFT__KIND_VIDEO,
                          .mid = "v",
                          .direction = WEFT__DIR_RECVONLY,
                          .ssrc = 3,
                          .cname = "x"};
  g_assert_cmpint(weft__media_offer(&dv, &off), ==, 0);
  assert_pts(off, "96 97");
  g_assert_cmpuint(off->ssrcs->len, ==, 0);
  weft__media_desc_free(off);

  /* Invalid arguments. */
  static const weft__codec_id bad1[] = {WEFT__CID_OPUS};
  static const weft__codec_id bad2[] = {WEFT__CID_VP8, WEFT__CID_VP8};
  dv.prefs = bad1;
  dv.n_prefs = 1;
  g_assert_cmpint(weft__media_offer(&dv, &off), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(off);
  dv.prefs = bad2;
  dv.n_prefs = 2;
  g_assert_cmpint(weft__media_offer(&dv, &off), ==, WEFT_ERR_INVALID_ARG);
  dv.n_prefs = 0;
  dv.mid = NULL;
  g_assert_cmpint(weft__media_offer(&dv, &off), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__media_offer(NULL, &off), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__media_answer(NULL, &dv, &off), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__media_parse(NULL, &off), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft__media_write(NULL));
}

/* A minimal section "m=audio 9 UDP/TLS/RTP/SAVPF 96 0" (SDP line 5) with
 * @attrs after it (line 6 onward); returns weft__media_parse's code and, on
 * success, the model in *out. */
static int parse_media_lines(const char *mline, const char *attrs, weft__media_desc **out) {
  char *text =
      g_strdup_printf("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n%s\r\n%s", mline, attrs);
  weft__sdp *sdp = NULL;
  g_assert_cmpint(weft__sdp_parse(text, &sdp), ==, 0);
  *out = NULL;
  int rc = weft__media_parse(g_ptr_array_index(sdp->media, 0), out);
  weft__sdp_free(sdp);
  g_free(text);
  return rc;
}

static void test_media_malformed(void) {
  static const char *const ml = "m=audio 9 UDP/TLS/RTP/SAVPF 96 0";
  /* The bad line is the last of the attributes; line 5 is the m= line. */
  static const struct {
    const char *attrs;
    const char *msg; /* NULL: accepted */
  } cases[] = {
      {"a=rtpmap:96 opus\r\n", "a=rtpmap: expected '<pt> <name>/<rate>[/<channels>]' (SDP line 6)"},
      {"a=rtpmap:96 opus/abc/2\r\n", "a=rtpmap: bad clock rate (SDP line 6)"},
      {"a=rtpmap:96 opus/0\r\n", "bad clock rate (SDP line 6)"},
      {"a=rtpmap:x opus/48000\r\n", "a=rtpmap: expected"},
      {"a=rtpmap:128 opus/48000\r\n", "a=rtpmap: expected"},
      {"a=rtpmap:96 opus/48000/0\r\n", "bad channel count (SDP line 6)"},
      {"a=rtpmap:96 opus/48000/2x\r\n", "bad channel count (SDP line 6)"},
      {"a=rtpmap:96 /48000\r\n", "a=rtpmap: expected"},
      {"a=rtpmap:96 opus/48000/2\r\na=rtpmap:96 opus/48000/2\r\n",
       "second a=rtpmap for this payload type (SDP line 7)"},
      {"a=rtpmap:97 opus/48000/2\r\n", NULL}, /* not on the m= line: ignored */
      {"a=fmtp:97 foo=1\r\n", NULL},          /* unknown pt: ignored */
      {"a=fmtp:abc foo=1\r\n", "a=fmtp: expected '<pt> <parameters>' (SDP line 6)"},
      {"a=fmtp:96 a=1\r\na=fmtp:96 a=2\r\n", "second a=fmtp for this payload type (SDP line 7)"},
      {"a=rtpmap:96 rtx/90000\r\na=fmtp:96 apt=abc\r\n",
       "rtx apt is not a payload type (SDP line 7)"},
      {"a=rtpmap:96 rtx/90000\r\na=fmtp:96 apt=200\r\n", "rtx apt is not a payload type"},
      {"a=rtcp-fb:96\r\n", "a=rtcp-fb: expected '<pt> <feedback>' (SDP line 6)"},
      {"a=rtcp-fb:96 \r\n", "a=rtcp-fb: expected"},
      {"a=rtcp-fb:x nack\r\n", "a=rtcp-fb: expected"},
      {"a=rtcp-fb:120 nack\r\n", NULL},
      {"a=extmap:0 urn:x\r\n", "a=extmap: id must be 1-255 (SDP line 6)"},
      {"a=extmap:256 urn:x\r\n", "a=extmap: id must be 1-255 (SDP line 6)"},
      {"a=extmap:4096/sendrecv urn:x\r\n", "id must be 1-255"},
      {"a=extmap:x urn:x\r\n", "id must be 1-255"},
      {"a=extmap:1/bogus urn:x\r\n", "a=extmap: bad direction (SDP line 6)"},
      {"a=extmap:1\r\n", "a=extmap: expected '<id>[/<direction>] <uri>' (SDP line 6)"},
      {"a=extmap:1 \r\n", "a=extmap: expected"}, /* trailing space trimmed */
      {"a=extmap:1 urn:x\r\na=extmap:1 urn:y\r\n", "a=extmap: id used twice (SDP line 7)"},
      {"a=extmap:255 urn:x\r\n", NULL},
      {"a=ssrc:12ab cname:x\r\n", "a=ssrc: ssrc is not a 32-bit number (SDP line 6)"},
      {"a=ssrc:4294967296 cname:x\r\n", "ssrc is not a 32-bit number"},
      {"a=ssrc:-1 cname:x\r\n", "ssrc is not a 32-bit number"},
      {"a=ssrc:1\r\n", "a=ssrc: expected '<ssrc> <attribute>[:<value>]' (SDP line 6)"},
      {"a=ssrc:4294967295 label:x\r\n", NULL},
      {"a=ssrc-group:FID 1\r\n", "a=ssrc-group: expected 'FID <ssrc> <ssrc>' (SDP line 6)"},
      {"a=ssrc-group:FID 1 2 3\r\n", "expected 'FID <ssrc> <ssrc>'"},
      {"a=ssrc-group:FID 1 x\r\n", "expected 'FID <ssrc> <ssrc>'"},
      {"a=ssrc-group:SIM 1 2 3\r\n", NULL},
      {"a=msid:\r\n", "a=msid: empty msid (SDP line 6)"},
      {"a=sendonly\r\na=recvonly\r\n", "a=recvonly: conflicting direction attributes (SDP line 7)"},
      {"a=sendonly\r\na=sendonly\r\n", NULL},
      {"a=foo:bar\r\na=x-google-flag:conference\r\n", NULL},
      {"a=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=0x42e0\r\n", NULL},
  };
  for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
    weft__media_desc *d = NULL;
    int rc = parse_media_lines(ml, cases[i].attrs, &d);
    if (!cases[i].msg) {
      if (rc != 0)
        g_error("case %u '%s': %s", i, cases[i].attrs, weft__error_message());
      g_assert_nonnull(d);
      weft__media_desc_free(d);
      continue;
    }
    if (rc != WEFT_ERR_SYNTAX)
      g_error("case %u '%s': rc %d, wanted SYNTAX", i, cases[i].attrs, rc);
    g_assert_null(d);
    if (!strstr(weft__error_message(), cases[i].msg))
      g_error("case %u: message '%s' lacks '%s'", i, weft__error_message(), cases[i].msg);
  }

  /* Formats that are not payload types. */
  weft__media_desc *d = NULL;
  g_assert_cmpint(parse_media_lines("m=audio 9 UDP/TLS/RTP/SAVPF 96 abc", "", &d), ==,
                  WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft__error_message(), "SDP line 5"));
  g_assert_cmpint(parse_media_lines("m=audio 9 UDP/TLS/RTP/SAVPF 200", "", &d), ==,
                  WEFT_ERR_SYNTAX);
  /* A dynamic pt without rtpmap is left out; static 0 needs none. */
  g_assert_cmpint(parse_media_lines(ml, "", &d), ==, 0);
  assert_pts(d, "0");
  g_assert_cmpstr(weft__media_find_pt(d, 0)->name, ==, "PCMU");
  weft__media_desc_free(d);
  /* rtcp-fb:* applies to every codec; duplicates collapse. */
  g_assert_cmpint(parse_media_lines(ml,
                                    "a=rtpmap:96 opus/48000/2\r\na=rtcp-fb:* nack\r\n"
                                    "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack  pli\r\n"
                                    "a=extmap:3/recvonly urn:x a b\r\n",
                                    &d),
                  ==, 0);
  assert_fb(weft__media_find_pt(d, 96), "nack,nack pli");
  assert_fb(weft__media_find_pt(d, 0), "nack");
  const weft__rtp_extmap *e = g_ptr_array_index(d->extmaps, 0);
  g_assert_true(e->has_direction);
  g_assert_cmpint(e->direction, ==, WEFT__DIR_RECVONLY);
  g_assert_cmpstr(e->uri, ==, "urn:x");
  weft__media_desc_free(d);
  /* Bounds. */
  GString *g = g_string_new("a=rtpmap:96 opus/48000/2\r\n");
  for (int i = 0; i <= WEFT__MEDIA_MAX_FB; i++)
    g_string_append_printf(g, "a=rtcp-fb:96 x-%d\r\n", i);
  g_assert_cmpint(parse_media_lines(ml, g->str, &d), ==, WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft__error_message(), "too many a=rtcp-fb"));
  g_string_truncate(g, 0);
  for (int i = 1; i <= WEFT__MEDIA_MAX_EXTMAPS + 1; i++)
    g_string_append_printf(g, "a=extmap:%d urn:%d\r\n", i, i);
  g_assert_cmpint(parse_media_lines(ml, g->str, &d), ==, WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft__error_message(), "too many a=extmap"));
  g_string_truncate(g, 0);
  for (int i = 1; i <= WEFT__MEDIA_MAX_SSRCS + 1; i++)
    g_string_append_printf(g, "a=ssrc:%d cname:x\r\n", i);
  g_assert_cmpint(parse_media_lines(ml, g->str, &d), ==, WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft__error_message(), "too many SSRCs"));
  g_string_free(g, TRUE);
}

/* Mutated real offers: parsing either succeeds or fails with SYNTAX naming
 * a line, never crashes; every success answers and round-trips. */
static void test_media_fuzz(void) {
  GRand *r = g_rand_new_with_seed(0x3ed1a);
  static const char *const files[] = {"chromium-av-data-offer.sdp", "aiortc-av-offer.sdp"};
  static const char *const tokens[] = {"a=rtpmap:96 ",
                                       "a=fmtp:96 apt=",
                                       "a=rtcp-fb:* ",
                                       "a=extmap:",
                                       "a=ssrc:",
                                       "a=ssrc-group:FID ",
                                       "a=msid:",
                                       "/",
                                       " ",
                                       "\r\n",
                                       "a=sendonly\r\n",
                                       "a=bundle-only\r\n",
                                       "4294967296",
                                       "profile-level-id=",
                                       ";",
                                       "a=rtcp-mux\r\n",
                                       "apt=1",
                                       "0"};
  static const weft__codec_id h264[] = {WEFT__CID_H264};
  int counts[3] = {0};
  for (int iter = 0; iter < 4000; iter++) {
    GString *g = mutated_fixture(r, files[g_rand_int_range(r, 0, G_N_ELEMENTS(files))], tokens,
                                 G_N_ELEMENTS(tokens), 4, 20);
    weft__sdp *sdp = NULL;
    if (weft__sdp_parse(g->str, &sdp) != 0) {
      g_string_free(g, TRUE);
      continue;
    }
    for (guint i = 0; i < sdp->media->len; i++) {
      const weft__sdp_media *m = g_ptr_array_index(sdp->media, i);
      weft__media_desc *d = NULL;
      int rc = weft__media_parse(m, &d);
      if (rc == WEFT_ERR_INVALID_ARG) { /* not RTP */
        g_assert_null(d);
        counts[2]++;
        continue;
      }
      if (rc != 0) {
        g_assert_cmpint(rc, ==, WEFT_ERR_SYNTAX);
        g_assert_null(d);
        g_assert_nonnull(strstr(weft__error_message(), "line"));
        counts[1]++;
        continue;
      }
      counts[0]++;
      weft__media_local l = {.direction = (weft__direction)(iter % 4),
                             .rtx = iter & 1,
                             .transport_cc = iter & 2,
                             .ssrc = 7,
                             .rtx_ssrc = 8,
                             .cname = "c",
                             .prefs = h264,
                             .n_prefs = (iter % 3) == 0};
      weft__media_desc *ans = NULL;
      g_assert_cmpint(weft__media_answer(d, &l, &ans), ==, 0);
      if (d->kind != WEFT__KIND_OTHER) {
        weft__media_desc *back = round_trip(ans, NULL);
        if (ans->rejected)
          g_assert_true(back->rejected);
        else
          g_assert_cmpuint(back->codecs->len, ==, ans->codecs->len);
        weft__media_desc_free(back);
      }
      weft__media_desc_free(ans);
      weft__media_desc_free(d);
    }
    weft__sdp_free(sdp);
    g_string_free(g, TRUE);
  }
  /* Sections built from random media attributes with random values. */
  static const char *const names[] = {"rtpmap",     "fmtp", "rtcp-fb",  "extmap",   "ssrc",
                                      "ssrc-group", "msid", "sendonly", "recvonly", "mid"};
  static const char *const parts[] = {"96",
                                      "97",
                                      "0",
                                      "128",
                                      "-1",
                                      "4294967295",
                                      "4294967296",
                                      " ",
                                      "/",
                                      "opus",
                                      "rtx",
                                      "90000",
                                      "apt=96",
                                      "apt=x",
                                      "*",
                                      "FID",
                                      "nack",
                                      "urn:x",
                                      "sendrecv",
                                      ":",
                                      ";",
                                      "=",
                                      "profile-level-id=42e01f",
                                      "packetization-mode=1"};
  for (int iter = 0; iter < 4000; iter++) {
    GString *g = g_string_new(NULL);
    for (int k = g_rand_int_range(r, 1, 12); k > 0; k--) {
      g_string_append_printf(g, "a=%s:", names[g_rand_int_range(r, 0, G_N_ELEMENTS(names))]);
      for (int j = g_rand_int_range(r, 0, 6); j > 0; j--)
        g_string_append(g, parts[g_rand_int_range(r, 0, G_N_ELEMENTS(parts))]);
      g_string_append(g, "\r\n");
    }
    weft__media_desc *d = NULL;
    int rc = parse_media_lines("m=video 9 UDP/TLS/RTP/SAVPF 96 97 0", g->str, &d);
    if (rc == 0) {
      counts[0]++;
      weft__media_local l = {.direction = WEFT__DIR_SENDRECV, .rtx = iter & 1};
      weft__media_desc *ans = NULL;
      g_assert_cmpint(weft__media_answer(d, &l, &ans), ==, 0);
      weft__media_desc *back = round_trip(ans, NULL);
      weft__media_desc_free(back);
      weft__media_desc_free(ans);
      weft__media_desc_free(d);
    } else {
      g_assert_cmpint(rc, ==, WEFT_ERR_SYNTAX);
      g_assert_null(d);
      g_assert_nonnull(strstr(weft__error_message(), "SDP line"));
      counts[1]++;
    }
    g_string_free(g, TRUE);
  }
  g_test_message("media fuzz: %d sections ok, %d syntax, %d not RTP", counts[0], counts[1],
                 counts[2]);
  g_assert_cmpint(counts[0], >, 1000);
  g_assert_cmpint(counts[1], >, 100);
  g_rand_free(r);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/jsep/parse/offers", test_parse_offers);
  g_test_add_func("/jsep/parse/offer-details", test_parse_offer_details);
  g_test_add_func("/jsep/parse/answers", test_parse_answers);
  g_test_add_func("/jsep/parse/validation", test_validation);
  g_test_add_func("/jsep/parse/bundle-inheritance", test_bundle_inheritance);
  g_test_add_func("/jsep/answer/corpus", test_answer_corpus);
  g_test_add_func("/jsep/answer/no-data", test_answer_no_data);
  g_test_add_func("/jsep/offer/own", test_own_offer);
  g_test_add_func("/jsep/candidates", test_add_candidates);
  g_test_add_func("/jsep/fuzz", test_fuzz);
  g_test_add_func("/jsep/media/parse-chromium", test_media_parse_chromium);
  g_test_add_func("/jsep/media/parse-aiortc", test_media_parse_aiortc);
  g_test_add_func("/jsep/media/parse-gstreamer", test_media_parse_gstreamer);
  g_test_add_func("/jsep/media/answer-audio", test_media_answer_audio);
  g_test_add_func("/jsep/media/answer-video", test_media_answer_video);
  g_test_add_func("/jsep/media/answer-rules", test_media_answer_rules);
  g_test_add_func("/jsep/media/offer", test_media_offer);
  g_test_add_func("/jsep/media/malformed", test_media_malformed);
  g_test_add_func("/jsep/media/fuzz", test_media_fuzz);
  return g_test_run();
}
