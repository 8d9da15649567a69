/* HMAC-SHA1 for the TURN REST credential helper (api/api_ice.c): only dtls/
 * may include mbedTLS (DESIGN §2). */
#ifndef WEFT_DTLS_HMAC_H
#define WEFT_DTLS_HMAC_H

#include <stddef.h>
#include <stdint.h>

/* RFC 2104 HMAC with SHA-1 of @data under @key into @out. Returns 0, or
 * WEFT_ERR_INVALID_ARG (NULL with a non-zero length) / WEFT_ERR_INTERNAL
 * (mbedTLS failed). Any thread. */
int weft__hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                    uint8_t out[20]);

#endif
