/*
 * weft's own certificate type (weft_config_set_certificate_type) and peers
 * whose certificate is RSA, through the public API: a pc with an RSA-2048
 * certificate against a default (ECDSA P-256) one, in both DTLS roles, and
 * two RSA ones. The offerer says actpass and the answerer active, so the
 * offerer is the DTLS server: "rsa-offerer" is a server with an RSA
 * certificate, which weft's client could not talk to before it offered
 * ECDHE-RSA suites (handshake_failure, issue 13).
 */
#include <string.h>

#include "pair.h"

/* The "a=fingerprint:" value of @sdp (g_free), NULL if none. */
static char *sdp_fingerprint(const char *sdp) {
  const char *f = strstr(sdp, "a=fingerprint:");
  if (!f)
    return NULL;
  f += strlen("a=fingerprint:");
  return g_strndup(f, strcspn(f, "\r\n"));
}

/* Connects with @rsa_sides, checks the certificates each side announced and
 * an echo of text and binary both ways; returns the time to open. */
static double connect_and_echo(unsigned rsa_sides) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  o.rsa_sides = rsa_sides;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "rsa", &a, &b);
  double open_ms = (double)(p->t_open_us - p->t_start_us) / 1000.0;
  g_assert_true(strstr(p->offer, "a=setup:actpass") != NULL);
  g_assert_true(strstr(p->answer, "a=setup:active") != NULL);

  static const char text[] = "a certificate of another kind";
  guint8 bin[3000];
  for (size_t i = 0; i < sizeof bin; i++)
    bin[i] = (guint8)(i * 13 + 5);
  g_assert_cmpint(weft_dc_send_text(a->dc, text, strlen(text)), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_send(a->dc, bin, sizeof bin), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 2, 10000));
  pair_msg *m = probe_msg(a, 0);
  g_assert_cmpint(m->type, ==, WEFT_MSG_TEXT);
  g_assert_cmpmem(m->data, m->size, text, strlen(text));
  m = probe_msg(a, 1);
  g_assert_cmpint(m->type, ==, WEFT_MSG_BINARY);
  g_assert_cmpmem(m->data, m->size, bin, sizeof bin);
  pair_free(p);
  return open_ms;
}

static void test_rsa_offerer(void) {
  g_test_message("A (RSA, DTLS server) <- B (ECDSA, client): open in %.1f ms",
                 connect_and_echo(1u << 0));
}

static void test_rsa_answerer(void) {
  g_test_message("A (ECDSA, DTLS server) <- B (RSA, client): open in %.1f ms",
                 connect_and_echo(1u << 1));
}

static void test_rsa_both(void) {
  g_test_message("A (RSA) <- B (RSA): open in %.1f ms", connect_and_echo(3u));
}

/* Certificates are shared per context and type: two RSA pcs announce the
 * same fingerprint, an ECDSA one another; with reuse off each pc has its
 * own. An unknown type is refused. */
static void test_reuse_per_type(void) {
  weft_context *ctx = weft_context_new(NULL);
  g_assert_nonnull(ctx);
  weft_config *cfg = weft_config_new();
  g_assert_cmpint(weft_config_set_certificate_type(cfg, (weft_certificate_type)7), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_certificate_type(NULL, WEFT_CERTIFICATE_RSA_2048), ==,
                  WEFT_ERR_INVALID_ARG);
  char *fp[5];
  for (int i = 0; i < 5; i++) {
    /* 0, 1: RSA; 2, 3: ECDSA; 4: RSA without reuse. */
    g_assert_cmpint(weft_config_set_certificate_type(cfg, i < 2 || i == 4
                                                              ? WEFT_CERTIFICATE_RSA_2048
                                                              : WEFT_CERTIFICATE_ECDSA_P256),
                    ==, WEFT_OK);
    g_assert_cmpint(weft_config_set_certificate_reuse(cfg, i != 4), ==, WEFT_OK);
    weft_pc *pc = weft_pc_new(ctx, cfg);
    g_assert_nonnull(pc);
    weft_dc *dc = weft_pc_create_data_channel(pc, "x", NULL);
    g_assert_nonnull(dc);
    char *offer = NULL;
    g_assert_cmpint(weft_pc_create_offer(pc, NULL, &offer), ==, WEFT_OK);
    fp[i] = sdp_fingerprint(offer);
    g_assert_nonnull(fp[i]);
    g_assert_true(g_str_has_prefix(fp[i], "sha-256 "));
    weft_free(offer);
    weft_dc_unref(dc);
    weft_pc_close(pc);
    weft_pc_unref(pc);
  }
  g_assert_cmpstr(fp[0], ==, fp[1]);
  g_assert_cmpstr(fp[2], ==, fp[3]);
  g_assert_cmpstr(fp[0], !=, fp[2]);
  g_assert_cmpstr(fp[4], !=, fp[0]);
  g_assert_cmpstr(fp[4], !=, fp[2]);
  for (int i = 0; i < 5; i++)
    g_free(fp[i]);
  weft_config_free(cfg);
  weft_context_unref(ctx);
  pair_assert_no_live_objects(2000);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/cert/rsa-offerer", test_rsa_offerer);
  g_test_add_func("/api/cert/rsa-answerer", test_rsa_answerer);
  g_test_add_func("/api/cert/rsa-both", test_rsa_both);
  g_test_add_func("/api/cert/reuse-per-type", test_reuse_per_type);
  return g_test_run();
}
