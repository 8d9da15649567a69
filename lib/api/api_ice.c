/* Public ICE helpers that need no peer connection: TURN REST credentials. */
#include <string.h>
#include <time.h>

#include <glib.h>

#include "core/core.h"
#include "dtls/hmac.h"

int weft_turn_rest_credentials(const char *secret, const char *user, uint32_t ttl_seconds,
                               char **username_out, char **credential_out) {
  if (username_out)
    *username_out = NULL;
  if (credential_out)
    *credential_out = NULL;
  if (!secret || !username_out || !credential_out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_turn_rest_credentials: NULL argument");
  /* coturn splits the username at its separator (':' by default) and reads
   * the expiry from the first part. */
  if (user && strchr(user, ':'))
    return weft__error(WEFT_ERR_INVALID_ARG,
                       "weft_turn_rest_credentials: the user must not contain ':'");
  if (ttl_seconds == 0)
    return weft__error(WEFT_ERR_RANGE, "weft_turn_rest_credentials: ttl_seconds is 0");
  int64_t expiry = (int64_t)time(NULL) + (int64_t)ttl_seconds;
  char *name = user && *user ? g_strdup_printf("%" G_GINT64_FORMAT ":%s", expiry, user)
                             : g_strdup_printf("%" G_GINT64_FORMAT, expiry);
  uint8_t mac[20];
  int rc = weft__hmac_sha1((const uint8_t *)secret, strlen(secret), (const uint8_t *)name,
                           strlen(name), mac);
  if (rc < 0) {
    g_free(name);
    return rc;
  }
  *username_out = name;
  *credential_out = g_base64_encode(mac, sizeof mac);
  weft__error_clear();
  return WEFT_OK;
}
