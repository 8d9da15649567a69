/*
 * examples/signaling — RFC 8840 trickle fragments ("application/
 * trickle-ice-sdpfrag") and a structural check of SDP bodies.
 *
 * A fragment, as WHIP (RFC 9725 §4.3) sends it:
 *
 *   a=ice-ufrag:EsAw
 *   a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
 *   m=application 9 UDP/DTLS/SCTP webrtc-datachannel
 *   a=mid:0
 *   a=candidate:1 1 udp 2130706431 127.0.0.1 51234 typ host
 *   a=end-of-candidates
 *
 * Only what a data-channel peer needs is interpreted: m= lines (for
 * sdpMLineIndex), a=mid, a=ice-ufrag (for usernameFragment), a=candidate and
 * a=end-of-candidates. Other attribute lines are accepted and ignored.
 */
#include "sig_private.h"

#include <string.h>

#define DEFAULT_MLINE "application 9 UDP/DTLS/SCTP webrtc-datachannel"

/* Splits @body into lines (LF or CRLF); FALSE with a reason if it is not
 * text at all. */
static gboolean split_lines(const char *body, gsize len, char ***lines_out, char **reason) {
  if (memchr(body, '\0', len)) {
    *reason = g_strdup("the body contains a NUL byte");
    return FALSE;
  }
  if (!g_utf8_validate(body, (gssize)len, NULL)) {
    *reason = g_strdup("the body is not valid UTF-8");
    return FALSE;
  }
  char *copy = g_strndup(body, len);
  char **lines = g_strsplit(copy, "\n", -1);
  g_free(copy);
  for (char **l = lines; *l; l++) {
    gsize n = strlen(*l);
    if (n && (*l)[n - 1] == '\r')
      (*l)[n - 1] = '\0';
  }
  *lines_out = lines;
  return TRUE;
}

/* "x=value" with x a lowercase letter, the only line shape SDP has. */
static gboolean is_sdp_line(const char *line) {
  return line[0] >= 'a' && line[0] <= 'z' && line[1] == '=';
}

static gboolean is_uint(const char *s, guint64 max) {
  guint64 v;
  return s && *s && g_ascii_string_to_unsigned(s, 10, 0, max, &v, NULL);
}

/* RFC 8839 §5.1 candidate-attribute, the mandatory part:
 * foundation component transport priority address port "typ" type. */
static gboolean candidate_is_valid(const char *value, char **reason) {
  if (!g_str_has_prefix(value, "candidate:")) {
    *reason = g_strdup("not a candidate attribute");
    return FALSE;
  }
  char **tok = g_strsplit_set(value + strlen("candidate:"), " ", -1);
  guint n = 0;
  /* g_strsplit_set keeps empty tokens between double spaces: squeeze them. */
  for (guint i = 0; tok[i]; i++) {
    if (*tok[i])
      tok[n++] = tok[i];
    else
      g_free(tok[i]);
  }
  tok[n] = NULL;
  gboolean ok = n >= 8 && strlen(tok[0]) <= 32 && is_uint(tok[1], 256) && strcmp(tok[1], "0") &&
                is_uint(tok[3], G_MAXUINT32) && *tok[4] && is_uint(tok[5], 65535) &&
                g_ascii_strcasecmp(tok[6], "typ") == 0 && *tok[7];
  g_strfreev(tok);
  if (!ok)
    *reason = g_strdup("malformed candidate (want: candidate:FOUNDATION COMPONENT TRANSPORT "
                       "PRIORITY ADDRESS PORT typ TYPE ...)");
  return ok;
}

/* ---- Offer summary (client side) ----------------------------------------- */

static void section_free(gpointer p) {
  sig_sdp_section *sec = p;
  g_free(sec->mline);
  g_free(sec->mid);
  g_free(sec->ufrag);
  g_free(sec->pwd);
  g_free(sec);
}

sig_sdp_info *sig_sdp_info_parse(const char *sdp) {
  sig_sdp_info *info = g_new0(sig_sdp_info, 1);
  info->sections = g_ptr_array_new_with_free_func(section_free);
  char **lines = NULL, *reason = NULL;
  if (!sdp || !split_lines(sdp, strlen(sdp), &lines, &reason)) {
    g_free(reason);
    return info;
  }
  char *ufrag = NULL, *pwd = NULL; /* session level */
  sig_sdp_section *cur = NULL;
  for (char **l = lines; *l; l++) {
    const char *line = *l;
    if (g_str_has_prefix(line, "m=")) {
      cur = g_new0(sig_sdp_section, 1);
      cur->mline = g_strdup(line + 2);
      g_ptr_array_add(info->sections, cur);
    } else if (g_str_has_prefix(line, "a=mid:") && cur) {
      g_free(cur->mid);
      cur->mid = g_strdup(line + 6);
    } else if (g_str_has_prefix(line, "a=ice-ufrag:")) {
      char **dst = cur ? &cur->ufrag : &ufrag;
      g_free(*dst);
      *dst = g_strdup(line + 12);
    } else if (g_str_has_prefix(line, "a=ice-pwd:")) {
      char **dst = cur ? &cur->pwd : &pwd;
      g_free(*dst);
      *dst = g_strdup(line + 10);
    }
  }
  for (guint i = 0; i < info->sections->len; i++) {
    sig_sdp_section *sec = g_ptr_array_index(info->sections, i);
    if (!sec->ufrag)
      sec->ufrag = g_strdup(ufrag);
    if (!sec->pwd)
      sec->pwd = g_strdup(pwd);
  }
  g_free(ufrag);
  g_free(pwd);
  g_strfreev(lines);
  return info;
}

void sig_sdp_info_free(sig_sdp_info *info) {
  if (!info)
    return;
  g_ptr_array_unref(info->sections);
  g_free(info);
}

static const sig_sdp_section *section_at(const sig_sdp_info *info, guint i) {
  return info && i < info->sections->len ? g_ptr_array_index(info->sections, i) : NULL;
}

char *sig_sdpfrag_format(const sig_sdp_info *info, const char *candidate, const char *mid,
                         int mline_index) {
  /* Which section of the offer the message is about: by mid first (that is
   * what the receiver matches on), else by index, else the first one (the
   * BUNDLE case of a data-channel-only peer). */
  const sig_sdp_section *target = NULL;
  guint n = info ? info->sections->len : 0;
  if (mid) {
    for (guint i = 0; i < n && !target; i++) {
      const sig_sdp_section *sec = section_at(info, i);
      if (sec->mid && strcmp(sec->mid, mid) == 0)
        target = sec;
    }
  } else if (mline_index >= 0) {
    target = section_at(info, (guint)mline_index);
  } else {
    target = section_at(info, 0);
  }
  const sig_sdp_section *creds = target ? target : section_at(info, 0);

  GString *f = g_string_new(NULL);
  if (creds && creds->ufrag && creds->pwd)
    g_string_append_printf(f, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", creds->ufrag, creds->pwd);
  if (!mid && mline_index > 0) {
    /* Index only: the receiver counts m= lines, so write every one up to
     * the target (RFC 8840 §4.4 allows sections without candidates). */
    for (int i = 0; i < mline_index; i++) {
      const sig_sdp_section *sec = section_at(info, (guint)i);
      g_string_append_printf(f, "m=%s\r\n", sec ? sec->mline : DEFAULT_MLINE);
      if (sec && sec->mid)
        g_string_append_printf(f, "a=mid:%s\r\n", sec->mid);
    }
  }
  g_string_append_printf(f, "m=%s\r\n", target ? target->mline : DEFAULT_MLINE);
  const char *the_mid = mid ? mid : target ? target->mid : NULL;
  if (the_mid)
    g_string_append_printf(f, "a=mid:%s\r\n", the_mid);
  if (candidate) {
    if (g_str_has_prefix(candidate, "a="))
      candidate += 2;
    g_string_append_printf(f, "a=%s\r\n", candidate);
  } else {
    g_string_append(f, "a=end-of-candidates\r\n");
  }
  return g_string_free(f, FALSE);
}

/* ---- Fragment parser (server side) --------------------------------------- */

typedef struct frag_candidate {
  char *candidate; /* "candidate:..." */
  int section;     /* index of its m= section, -1 before any m= line */
} frag_candidate;

gboolean sig_sdpfrag_parse(const char *body, gsize len, GPtrArray *out, char **reason) {
  char **lines = NULL;
  if (!split_lines(body, len, &lines, reason))
    return FALSE;

  GArray *cands = g_array_new(FALSE, TRUE, sizeof(frag_candidate));
  GPtrArray *mids = g_ptr_array_new();   /* per section, borrowed from @lines */
  GPtrArray *ufrags = g_ptr_array_new(); /* per section, borrowed */
  const char *session_ufrag = NULL;
  gboolean end = FALSE, any = FALSE, ok = TRUE;
  int section = -1;
  guint lineno = 0;

  for (char **l = lines; *l && ok; l++) {
    const char *line = *l;
    lineno++;
    if (!*line)
      continue;
    any = TRUE;
    if (!is_sdp_line(line)) {
      *reason = g_strdup_printf("fragment line %u: not an SDP <type>=<value> line", lineno);
      ok = FALSE;
    } else if (line[0] == 'm') {
      section++;
      g_ptr_array_add(mids, NULL);
      g_ptr_array_add(ufrags, NULL);
    } else if (g_str_has_prefix(line, "a=mid:")) {
      if (section < 0 || !line[6]) {
        *reason =
            g_strdup_printf("fragment line %u: a=mid outside a media section or empty", lineno);
        ok = FALSE;
      } else {
        g_ptr_array_index(mids, section) = (gpointer)(line + 6);
      }
    } else if (g_str_has_prefix(line, "a=ice-ufrag:")) {
      if (section < 0)
        session_ufrag = line + 12;
      else
        g_ptr_array_index(ufrags, section) = (gpointer)(line + 12);
    } else if (g_str_has_prefix(line, "a=candidate")) {
      char *why = NULL;
      if (!candidate_is_valid(line + 2, &why)) {
        *reason = g_strdup_printf("fragment line %u: %s", lineno, why);
        g_free(why);
        ok = FALSE;
      } else {
        frag_candidate c = {(char *)(line + 2), section};
        g_array_append_val(cands, c);
      }
    } else if (strcmp(line, "a=end-of-candidates") == 0) {
      end = TRUE;
    }
  }
  if (ok && !any) {
    *reason = g_strdup("empty fragment");
    ok = FALSE;
  }

  if (ok) {
    for (guint i = 0; i < cands->len; i++) {
      frag_candidate *c = &g_array_index(cands, frag_candidate, i);
      JsonObject *msg = json_object_new();
      json_object_set_string_member(msg, "type", "candidate");
      json_object_set_string_member(msg, "candidate", c->candidate);
      const char *mid = c->section >= 0 ? g_ptr_array_index(mids, c->section) : NULL;
      const char *ufrag = c->section >= 0 ? g_ptr_array_index(ufrags, c->section) : NULL;
      if (!ufrag)
        ufrag = session_ufrag;
      /* The index only when there is no mid: a fragment usually carries just
       * the one section it is about, so its m= count is not the offer's. A
       * candidate outside any section (not RFC 8840, but some clients send
       * it) is taken to be for the first, BUNDLEd one. */
      if (mid)
        json_object_set_string_member(msg, "sdpMid", mid);
      else
        json_object_set_int_member(msg, "sdpMLineIndex", c->section >= 0 ? c->section : 0);
      if (ufrag)
        json_object_set_string_member(msg, "usernameFragment", ufrag);
      g_ptr_array_add(out, msg);
    }
    if (end) {
      JsonObject *msg = json_object_new();
      json_object_set_string_member(msg, "type", "end-of-candidates");
      g_ptr_array_add(out, msg);
    }
  }
  g_array_unref(cands);
  g_ptr_array_unref(mids);
  g_ptr_array_unref(ufrags);
  g_strfreev(lines);
  return ok;
}

gboolean sig_sdp_check(const char *body, gsize len, char **reason) {
  char **lines = NULL;
  if (len == 0) {
    *reason = g_strdup("empty SDP");
    return FALSE;
  }
  if (!split_lines(body, len, &lines, reason))
    return FALSE;
  gboolean ok = TRUE, first = TRUE, have_o = FALSE, have_s = FALSE, have_t = FALSE;
  guint media = 0, lineno = 0;
  for (char **l = lines; *l && ok; l++) {
    const char *line = *l;
    lineno++;
    if (!*line) {
      /* Only the final line break may leave an empty line. */
      if (l[1] && *l[1]) {
        *reason = g_strdup_printf("SDP line %u: empty line", lineno);
        ok = FALSE;
      }
      continue;
    }
    if (first && strcmp(line, "v=0") != 0) {
      *reason = g_strdup("SDP must start with v=0");
      ok = FALSE;
    } else if (!is_sdp_line(line)) {
      *reason = g_strdup_printf("SDP line %u: not a <type>=<value> line", lineno);
      ok = FALSE;
    }
    first = FALSE;
    have_o |= line[0] == 'o';
    have_s |= line[0] == 's';
    have_t |= line[0] == 't';
    media += line[0] == 'm';
  }
  if (ok && !(have_o && have_s && have_t)) {
    *reason = g_strdup("SDP is missing o=, s= or t= (truncated?)");
    ok = FALSE;
  }
  if (ok && media == 0) {
    *reason = g_strdup("SDP has no m= line (truncated?)");
    ok = FALSE;
  }
  g_strfreev(lines);
  return ok;
}
