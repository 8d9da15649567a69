/* Error codes, their names, and the thread-local last error. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define WEFT__ERRMSG_MAX 512

static _Thread_local int last_code;
static _Thread_local char last_msg[WEFT__ERRMSG_MAX];

const char *weft_strerror(int err) {
  switch (err) {
  case WEFT_OK:
    return "success";
#define X(name, code, dom, msg)                                                                    \
  case code:                                                                                       \
    return msg;
    WEFT_ERRNO_MAP(X)
#undef X
  default:
    return "unknown error";
  }
}

const char *weft_err_name(int err) {
  switch (err) {
  case WEFT_OK:
    return "WEFT_OK";
#define X(name, code, dom, msg)                                                                    \
  case code:                                                                                       \
    return "WEFT_ERR_" #name;
    WEFT_ERRNO_MAP(X)
#undef X
  default:
    return "WEFT_ERR_UNKNOWN";
  }
}

const char *weft_err_dom_name(int err) {
  switch (err) {
  case WEFT_OK:
    return "";
#define X(name, code, dom, msg)                                                                    \
  case code:                                                                                       \
    return dom;
    WEFT_ERRNO_MAP(X)
#undef X
  default:
    return "UnknownError";
  }
}

const char *weft_error_detail_to_string(weft_error_detail d) {
  switch (d) {
  case WEFT_DETAIL_DATA_CHANNEL_FAILURE:
    return "data-channel-failure";
  case WEFT_DETAIL_DTLS_FAILURE:
    return "dtls-failure";
  case WEFT_DETAIL_FINGERPRINT_FAILURE:
    return "fingerprint-failure";
  case WEFT_DETAIL_SCTP_FAILURE:
    return "sctp-failure";
  case WEFT_DETAIL_SDP_SYNTAX_ERROR:
    return "sdp-syntax-error";
  case WEFT_DETAIL_ICE_FAILURE:
    return "ice-failure";
  case WEFT_DETAIL_NONE:
  default:
    return "";
  }
}

int weft_last_error(void) { return last_code; }
const char *weft_last_error_message(void) { return last_msg; }
const char *weft__error_message(void) { return last_msg; }

int weft__verror(int code, const char *fmt, va_list ap) {
  last_code = code;
  if (fmt)
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
  else
    snprintf(last_msg, sizeof last_msg, "%s", weft_strerror(code));
  return code;
}

int weft__error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  weft__verror(code, fmt, ap);
  va_end(ap);
  return code;
}

void weft__error_clear(void) {
  last_code = WEFT_OK;
  last_msg[0] = '\0';
}

void weft__error_set_raw(int code, const char *message) {
  last_code = code;
  snprintf(last_msg, sizeof last_msg, "%s", message ? message : "");
}
