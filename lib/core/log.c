/* The logging router: global handler, per-component levels, WEFT_DEBUG. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

#define MAX_RULES 32
typedef struct {
  char component[16]; /* "" = every component */
  weft_log_level level;
} log_rule;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static weft_log_fn log_fn;
static void *log_user;
static log_rule rules[MAX_RULES];
static int n_rules;
/* Most verbose level of any rule: a lock-free fast path for disabled logs. */
static atomic_int max_level = WEFT_LOG_WARNING;

static const char *level_names[] = {"none", "error", "warning", "info", "debug", "trace"};

static int parse_level(const char *s, size_t n, weft_log_level *out) {
  if (n == 1 && s[0] >= '0' && s[0] <= '5') {
    *out = (weft_log_level)(s[0] - '0');
    return 0;
  }
  for (int i = 0; i < (int)WEFT__ARRAY_LEN(level_names); i++) {
    if (strlen(level_names[i]) == n && strncasecmp(s, level_names[i], n) == 0) {
      *out = (weft_log_level)i;
      return 0;
    }
  }
  if (n == 4 && strncasecmp(s, "warn", 4) == 0) {
    *out = WEFT_LOG_WARNING;
    return 0;
  }
  return -1;
}

static void recompute_max(void) {
  int m = WEFT_LOG_NONE;
  for (int i = 0; i < n_rules; i++)
    if ((int)rules[i].level > m)
      m = rules[i].level;
  atomic_store(&max_level, m);
}

/* Grammar: rule (',' rule)*; rule = [component ':'] level; component '*' = all. */
static int apply_spec_locked(const char *spec) {
  log_rule tmp[MAX_RULES];
  int n = 0;
  const char *p = spec;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *colon = memchr(p, ':', len);
    log_rule r = {"", WEFT_LOG_WARNING};
    const char *lv = p;
    size_t lvn = len;
    if (colon) {
      size_t cn = (size_t)(colon - p);
      if (cn == 0 || cn >= sizeof r.component)
        return -1;
      if (!(cn == 1 && p[0] == '*'))
        memcpy(r.component, p, cn);
      lv = colon + 1;
      lvn = len - cn - 1;
    }
    while (lvn && (*lv == ' '))
      lv++, lvn--;
    if (lvn == 0 || parse_level(lv, lvn, &r.level) < 0 || n >= MAX_RULES)
      return -1;
    tmp[n++] = r;
    p += len;
    if (*p == ',')
      p++;
  }
  /* Component-specific rules first so they win over the catch-all. */
  n_rules = 0;
  for (int i = 0; i < n; i++)
    if (tmp[i].component[0])
      rules[n_rules++] = tmp[i];
  int catch_all = -1;
  for (int i = 0; i < n; i++)
    if (!tmp[i].component[0])
      catch_all = i;
  rules[n_rules++] = catch_all >= 0 ? tmp[catch_all] : (log_rule){"", WEFT_LOG_WARNING};
  recompute_max();
  return 0;
}

static void log_init(void) {
  pthread_mutex_lock(&log_lock);
  const char *env = getenv("WEFT_DEBUG");
  if (!env || apply_spec_locked(env) < 0) {
    n_rules = 1;
    rules[0] = (log_rule){"", WEFT_LOG_WARNING};
    recompute_max();
  }
  pthread_mutex_unlock(&log_lock);
}

static weft_log_level level_for(const char *component) {
  for (int i = 0; i < n_rules; i++)
    if (!rules[i].component[0] || strcmp(rules[i].component, component) == 0)
      return rules[i].level;
  return WEFT_LOG_WARNING;
}

bool weft__log_enabled(weft_log_level level, const char *component) {
  pthread_once(&log_once, log_init);
  if ((int)level > atomic_load_explicit(&max_level, memory_order_relaxed))
    return false;
  pthread_mutex_lock(&log_lock);
  bool on = level != WEFT_LOG_NONE && level <= level_for(component);
  pthread_mutex_unlock(&log_lock);
  return on;
}

void weft__vlog(weft_log_level level, const char *component, const char *fmt, va_list ap) {
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  pthread_mutex_lock(&log_lock);
  if (log_fn) {
    log_fn(level, component, buf, log_user);
  } else {
    fprintf(stderr, "weft %.3f %-7s %-7s %s\n", (double)weft__now_us() / 1e6, level_names[level],
            component, buf);
  }
  pthread_mutex_unlock(&log_lock);
}

void weft__log(weft_log_level level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  weft__vlog(level, component, fmt, ap);
  va_end(ap);
}

void weft_set_log_handler(weft_log_fn fn, void *user_data) {
  pthread_once(&log_once, log_init);
  pthread_mutex_lock(&log_lock);
  log_fn = fn;
  log_user = user_data;
  pthread_mutex_unlock(&log_lock);
}

void weft_set_log_level(weft_log_level level) {
  pthread_once(&log_once, log_init);
  if ((int)level < WEFT_LOG_NONE || level > WEFT_LOG_TRACE)
    return;
  pthread_mutex_lock(&log_lock);
  n_rules = 1;
  rules[0] = (log_rule){"", level};
  recompute_max();
  pthread_mutex_unlock(&log_lock);
}

int weft_set_log_spec(const char *spec) {
  pthread_once(&log_once, log_init);
  if (!spec)
    return weft__error(WEFT_ERR_INVALID_ARG, "log spec is NULL");
  pthread_mutex_lock(&log_lock);
  log_rule saved[MAX_RULES];
  int saved_n = n_rules;
  memcpy(saved, rules, sizeof rules);
  int rc = apply_spec_locked(spec);
  if (rc < 0) {
    memcpy(rules, saved, sizeof rules);
    n_rules = saved_n;
    recompute_max();
  }
  pthread_mutex_unlock(&log_lock);
  if (rc < 0)
    return weft__error(WEFT_ERR_SYNTAX, "bad log spec '%s' (want component:level,...)", spec);
  weft__error_clear();
  return WEFT_OK;
}
