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
    char *text = load(offers[g_rand_int_range(r, 0, G_N_ELEMENTS(offers))].file);
    GString *g = g_string_new(text);
    g_free(text);
    for (int k = g_rand_int_range(r, 1, 4); k > 0 && g->len; k--) {
      gsize at = (gsize)g_rand_int_range(r, 0, (gint32)g->len);
      switch (g_rand_int_range(r, 0, 3)) {
      case 0:
        g_string_insert(g, (gssize)at, tokens[g_rand_int_range(r, 0, G_N_ELEMENTS(tokens))]);
        break;
      case 1: {
        gsize n = (gsize)g_rand_int_range(r, 1, 40);
        g_string_erase(g, (gssize)at, (gssize)MIN(g->len - at, n));
        break;
      }
      default:
        g->str[at] = (char)g_rand_int_range(r, 0x20, 0x7f);
        break;
      }
    }
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
  return g_test_run();
}
