/* Public odds and ends: memory, version, W3C strings, configuration. */
#include <string.h>
#include <strings.h>

#include "pc/pc.h"

void weft_free(void *ptr) { g_free(ptr); }
unsigned weft_version(void) { return WEFT_VERSION_NUMBER; }
const char *weft_version_string(void) { return WEFT_VERSION_STRING; }

/* Versions come from the build system (pkg-config / FindMbedTLS): api/
 * includes no dependency header (DESIGN §2). */
const char *weft_build_info(void) {
  return "weft " WEFT_VERSION_STRING "; libnice " WEFT_DEP_NICE "; mbedTLS " WEFT_DEP_MBEDTLS
         "; libsrtp2 " WEFT_DEP_SRTP "; usrsctp " WEFT_DEP_USRSCTP "; GLib " WEFT_DEP_GLIB;
}

const char *weft_pc_state_to_string(weft_pc_state s) {
  static const char *names[] = {"new",          "connecting", "connected",
                                "disconnected", "failed",     "closed"};
  return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}
const char *weft_ice_connection_state_to_string(weft_ice_connection_state s) {
  static const char *names[] = {"new",          "checking", "connected", "completed",
                                "disconnected", "failed",   "closed"};
  return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}
const char *weft_ice_gathering_state_to_string(weft_ice_gathering_state s) {
  static const char *names[] = {"new", "gathering", "complete"};
  return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}
const char *weft_signaling_state_to_string(weft_signaling_state s) {
  static const char *names[] = {"stable",
                                "have-local-offer",
                                "have-remote-offer",
                                "have-local-pranswer",
                                "have-remote-pranswer",
                                "closed"};
  return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}
static const char *sdp_type_names[] = {"", "offer", "pranswer", "answer", "rollback"};
const char *weft_sdp_type_to_string(weft_sdp_type t) {
  return (unsigned)t < G_N_ELEMENTS(sdp_type_names) ? sdp_type_names[t] : "unknown";
}
weft_sdp_type weft_sdp_type_from_string(const char *s) {
  if (!s)
    return WEFT_SDP_UNSPEC;
  for (unsigned i = 1; i < G_N_ELEMENTS(sdp_type_names); i++)
    if (strcasecmp(s, sdp_type_names[i]) == 0)
      return (weft_sdp_type)i;
  return WEFT_SDP_UNSPEC;
}
const char *weft_dc_state_to_string(weft_dc_state s) {
  static const char *names[] = {"connecting", "open", "closing", "closed"};
  return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}

/* ---- Configuration ---------------------------------------------------------- */

weft_config *weft_config_new(void) {
  weft_config *cfg = g_new0(weft_config, 1);
  weft__config_init_defaults(cfg);
  weft__error_clear();
  return cfg;
}

weft_config *weft_config_copy(const weft_config *cfg) {
  if (!cfg) {
    weft__error(WEFT_ERR_INVALID_ARG, "weft_config_copy: cfg is NULL");
    return NULL;
  }
  weft_config *c = weft_config_new();
  weft__config_copy_into(c, cfg);
  return c;
}

void weft_config_free(weft_config *cfg) {
  if (!cfg)
    return;
  weft__config_clear(cfg);
  g_free(cfg);
}

#define CHECK_CFG(cfg)                                                                             \
  do {                                                                                             \
    if (!(cfg))                                                                                    \
      return weft__error(WEFT_ERR_INVALID_ARG, "%s: cfg is NULL", __func__);                       \
  } while (0)

int weft_config_add_ice_server(weft_config *cfg, const char *url, const char *username,
                               const char *credential) {
  CHECK_CFG(cfg);
  if (!url)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE server URL is NULL");
  weft__ice_server s;
  int rc = weft__ice_parse_server_url(url, username, credential, &s);
  if (rc < 0)
    return rc;
  g_array_append_val(cfg->servers, s);
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_ice_transport_policy(weft_config *cfg, weft_ice_transport_policy p) {
  CHECK_CFG(cfg);
  if (p != WEFT_ICE_POLICY_ALL && p != WEFT_ICE_POLICY_RELAY)
    return weft__error(WEFT_ERR_INVALID_ARG, "unknown ICE transport policy %d", (int)p);
  cfg->policy = p;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_port_range(weft_config *cfg, uint16_t min, uint16_t max) {
  CHECK_CFG(cfg);
  if (min > max)
    return weft__error(WEFT_ERR_RANGE, "port range %u..%u is inverted", min, max);
  cfg->port_min = min;
  cfg->port_max = max;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_max_message_size(weft_config *cfg, size_t bytes) {
  CHECK_CFG(cfg);
  cfg->max_message_size = bytes;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_send_buffer_limit(weft_config *cfg, size_t bytes) {
  CHECK_CFG(cfg);
  if (bytes == 0)
    return weft__error(WEFT_ERR_RANGE, "the send-buffer limit must be > 0");
  cfg->send_buffer_limit = bytes;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_receive_buffer_limit(weft_config *cfg, size_t bytes) {
  CHECK_CFG(cfg);
  if (bytes < WEFT__MIN_RECEIVE_BUFFER_LIMIT)
    return weft__error(WEFT_ERR_RANGE, "the receive-buffer limit must be at least %d bytes",
                       WEFT__MIN_RECEIVE_BUFFER_LIMIT);
  cfg->receive_buffer_limit = bytes;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_enable_loopback(weft_config *cfg, int enable) {
  CHECK_CFG(cfg);
  cfg->enable_loopback = enable != 0;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_ice_tcp(weft_config *cfg, int enable) {
  CHECK_CFG(cfg);
  cfg->ice_tcp = enable != 0;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_certificate_reuse(weft_config *cfg, int reuse) {
  CHECK_CFG(cfg);
  cfg->certificate_reuse = reuse != 0;
  weft__error_clear();
  return WEFT_OK;
}

int weft_config_set_certificate_type(weft_config *cfg, weft_certificate_type type) {
  CHECK_CFG(cfg);
  if (type != WEFT_CERTIFICATE_ECDSA_P256 && type != WEFT_CERTIFICATE_RSA_2048)
    return weft__error(WEFT_ERR_INVALID_ARG, "unknown certificate type %d", (int)type);
  cfg->certificate_type = type;
  weft__error_clear();
  return WEFT_OK;
}
