/* W3C ICE server URLs: RFC 7064 (stun:) and RFC 7065 (turn:). */
#include <string.h>
#include <strings.h>

#include <gio/gio.h>

#include "ice/ice.h"

enum { MAX_URL = 1024, MAX_HOST = 253 };

void weft__ice_server_clear(weft__ice_server *s) {
  if (!s)
    return;
  g_free(s->host);
  g_free(s->username);
  g_free(s->credential);
  memset(s, 0, sizeof *s);
}

/* RFC 3986 reg-name as used for host names: letters, digits, '-', '.', '_'
 * (the last is common in internal names). Percent-encoding is not accepted:
 * libnice could not use such a name anyway. */
static bool reg_name_valid(const char *h, size_t n) {
  if (n == 0 || n > MAX_HOST || h[0] == '.' || h[0] == '-')
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (!g_ascii_isalnum(c) && c != '-' && c != '.' && c != '_')
      return false;
  }
  return true;
}

static bool all_digits_dots(const char *h, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isdigit(h[i]) && h[i] != '.')
      return false;
  return true;
}

/* Parses "host[:port]" of @n bytes. */
static int parse_hostport(const char *url, const char *p, size_t n, char **host, uint16_t *port) {
  const char *h = p, *rest;
  size_t hn;
  if (n > 0 && p[0] == '[') {
    /* RFC 3986 §3.2.2: IP-literal = "[" IPv6address "]". */
    const char *close = memchr(p, ']', n);
    if (!close)
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': missing ']' after IPv6 address",
                         url);
    h = p + 1;
    hn = (size_t)(close - h);
    char tmp[64];
    if (hn == 0 || hn >= sizeof tmp)
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': bad IPv6 address", url);
    memcpy(tmp, h, hn);
    tmp[hn] = '\0';
    GInetAddress *a = g_inet_address_new_from_string(tmp);
    bool v6 = a && g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV6;
    if (a)
      g_object_unref(a);
    if (!v6)
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': bad IPv6 address '%s'", url,
                         tmp);
    rest = close + 1;
  } else {
    const char *colon = memchr(p, ':', n);
    hn = colon ? (size_t)(colon - p) : n;
    rest = p + hn;
    if (!reg_name_valid(h, hn))
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': bad host", url);
    if (all_digits_dots(h, hn)) {
      /* Looks like IPv4 (a name's last label is never all-numeric,
       * RFC 3696 §2), so it must be a valid one. */
      char tmp[16];
      GInetAddress *a = NULL;
      if (hn < sizeof tmp) {
        memcpy(tmp, h, hn);
        tmp[hn] = '\0';
        a = g_inet_address_new_from_string(tmp);
      }
      if (!a)
        return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': bad IPv4 address", url);
      g_object_unref(a);
    }
  }
  const char *end = p + n;
  *port = 0;
  if (rest < end) {
    if (*rest != ':')
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': unexpected text after host",
                         url);
    rest++;
    size_t pn = (size_t)(end - rest);
    if (pn == 0 || pn > 5)
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': bad port", url);
    unsigned v = 0;
    for (size_t i = 0; i < pn; i++) {
      if (!g_ascii_isdigit(rest[i]))
        return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': bad port", url);
      v = v * 10 + (unsigned)(rest[i] - '0');
    }
    if (v == 0 || v > 65535)
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': port %u out of range", url, v);
    *port = (uint16_t)v;
  }
  *host = g_strndup(h, hn);
  return 0;
}

int weft__ice_parse_server_url(const char *url, const char *username, const char *credential,
                               weft__ice_server *out) {
  if (!out)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE server URL: NULL output");
  memset(out, 0, sizeof *out);
  if (!url)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE server URL: NULL");
  size_t len = strnlen(url, MAX_URL + 1);
  if (len > MAX_URL)
    return weft__error(WEFT_ERR_SYNTAX, "ICE server URL longer than %d bytes", MAX_URL);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
      return weft__error(WEFT_ERR_SYNTAX,
                         "ICE server URL '%.64s': space, control or non-ASCII character", url);

  const char *colon = strchr(url, ':');
  if (!colon)
    return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': no scheme", url);
  size_t sn = (size_t)(colon - url);
  bool turn;
  /* RFC 7064 §3.1 / RFC 7065 §3.1: the scheme is case-insensitive. */
  if (sn == 4 && g_ascii_strncasecmp(url, "stun", 4) == 0)
    turn = false;
  else if (sn == 4 && g_ascii_strncasecmp(url, "turn", 4) == 0)
    turn = true;
  else if (sn == 5 &&
           (g_ascii_strncasecmp(url, "turns", 5) == 0 || g_ascii_strncasecmp(url, "stuns", 5) == 0))
    /* libnice 0.1.21 has no TLS client for TURN (NICE_RELAY_TYPE_TURN_TLS is
     * plain TCP in RFC 5245 mode): a TLS server would reset the connection. */
    return weft__error(WEFT_ERR_NOT_SUPPORTED,
                       "ICE server URL '%.64s': TLS to STUN/TURN servers is not supported "
                       "(libnice has no TLS client)",
                       url);
  else
    return weft__error(WEFT_ERR_SYNTAX,
                       "ICE server URL '%.64s': scheme must be stun:, turn: or turns:", url);

  const char *p = colon + 1;
  if (p[0] == '/' && p[1] == '/')
    return weft__error(WEFT_ERR_SYNTAX,
                       "ICE server URL '%.64s': no '//' after the scheme (RFC 7064 §3.1)", url);
  const char *q = strchr(p, '?');
  size_t hp_len = q ? (size_t)(q - p) : strlen(p);
  bool tcp = false;
  if (q) {
    /* RFC 7064 §3.1: stun: URIs have no query; RFC 7065 §3.1: turn: has only
     * "?transport=". */
    if (!turn)
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': stun: URLs take no query", url);
    const char *t = q + 1;
    if (strncmp(t, "transport=", 10) != 0)
      return weft__error(WEFT_ERR_SYNTAX,
                         "ICE server URL '%.64s': only '?transport=' is allowed after the host",
                         url);
    t += 10;
    if (g_ascii_strcasecmp(t, "udp") == 0)
      tcp = false;
    else if (g_ascii_strcasecmp(t, "tcp") == 0)
      tcp = true;
    else if (*t && reg_name_valid(t, strlen(t)))
      return weft__error(WEFT_ERR_NOT_SUPPORTED, "ICE server URL '%.64s': transport '%.16s'", url,
                         t);
    else
      return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': bad transport", url);
  }
  if (hp_len == 0)
    return weft__error(WEFT_ERR_SYNTAX, "ICE server URL '%.64s': no host", url);

  /* W3C webrtc §4.2.1 (validate an ICE server): turn: needs both. */
  if (turn && (!username || !credential))
    return weft__error(WEFT_ERR_INVALID_ACCESS,
                       "ICE server URL '%.64s': turn: needs a username and a credential", url);

  char *host = NULL;
  uint16_t port = 0;
  int rc = parse_hostport(url, p, hp_len, &host, &port);
  if (rc < 0)
    return rc;
  out->host = host;
  out->port = port;
  out->is_turn = turn;
  out->tcp = tcp;
  if (turn) {
    out->username = g_strdup(username);
    out->credential = g_strdup(credential);
  }
  return 0;
}
