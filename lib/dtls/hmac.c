/* HMAC-SHA1 (RFC 2104) through mbedTLS's generic message-digest API. */
#include <mbedtls/md.h>

#include "core/core.h"
#include "dtls/hmac.h"

int weft__hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                    uint8_t out[20]) {
  if ((!key && key_len) || (!data && len) || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "HMAC-SHA1: NULL input");
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
  static const uint8_t empty[1] = {0};
  if (!md || mbedtls_md_hmac(md, key ? key : empty, key_len, data ? data : empty, len, out) != 0)
    return weft__error(WEFT_ERR_INTERNAL, "HMAC-SHA1: mbedTLS failed");
  return 0;
}
