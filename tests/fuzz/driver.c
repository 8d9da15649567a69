/*
 * Standalone driver for the fuzz targets, for compilers without libFuzzer
 * (gcc) and for the CTest smoke runs: it feeds every seed of the corpus
 * directories (or files) given on the command line to
 * LLVMFuzzerTestOneInput, then a fixed number of deterministic mutations of
 * each seed (bit flips, byte changes, inserts, deletes, truncations,
 * duplications, splices with another seed). A fixed-seed PRNG makes every run
 * identical, so a failure reproduces with the same command line.
 *
 * Every input is copied into a heap buffer of exactly its size, so
 * AddressSanitizer reports a read one byte past the end.
 *
 *   fuzz_sdp [-runs=N] [-seed=S] [-max_len=L] [-timeout_ms=T] DIR_OR_FILE...
 *
 * -runs is the number of mutations per seed (default 1000). With -runs=0
 * only the seeds run: that is how a reproducer file is replayed. -max_len
 * bounds the mutants (default 256 KiB, as scripts/fuzz gives libFuzzer).
 *
 * Per-input time budget: an input that takes more than -timeout_ms of CPU
 * time (default 1000 ms; 0 = no budget) fails the run like a crash, with the
 * input printed and saved, so a parser gone quadratic is caught even when
 * each input still finishes. CPU time of the process, not wall time: a
 * loaded machine that deschedules the driver does not make it fail. An input
 * that does not return at all is stopped by a wall-clock watchdog at
 * 20 x the budget (at least 30 s). The summary line gives the slowest input.
 */
#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/time.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as with libFuzzer. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct seed {
  uint8_t *data;
  size_t len;
  char *name;
} seed;

static seed *seeds;
static size_t n_seeds, cap_seeds;
static size_t max_len = 256 * 1024;
static long timeout_ms = 1000;

/* xorshift64*: small, fast and identical everywhere. */
static uint64_t rng_state;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static size_t rng_below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

static void add_seed(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      buf = realloc(buf, cap);
      if (!buf)
        abort();
    }
    size_t r = fread(buf + len, 1, cap - len, f);
    if (r == 0)
      break;
    len += r;
  }
  fclose(f);
  if (n_seeds == cap_seeds) {
    cap_seeds = cap_seeds ? cap_seeds * 2 : 64;
    seeds = realloc(seeds, cap_seeds * sizeof *seeds);
    if (!seeds)
      abort();
  }
  seeds[n_seeds].data = buf;
  seeds[n_seeds].len = len;
  seeds[n_seeds].name = strdup(path);
  n_seeds++;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries in sorted order, so runs do not depend on readdir(). */
static void add_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    add_seed(path);
    return;
  }
  DIR *d = opendir(path);
  if (!d) {
    perror(path);
    exit(2);
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    names = realloc(names, (n + 1) * sizeof *names);
    if (!names)
      abort();
    size_t l = strlen(path) + strlen(e->d_name) + 2;
    names[n] = malloc(l);
    snprintf(names[n], l, "%s/%s", path, e->d_name);
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n; i++) {
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
      add_seed(names[i]);
    free(names[i]);
  }
  free(names);
}

/* The input being run, for the crash report. */
static const uint8_t *current;
static size_t current_len;
static const char *current_seed;

/* On a crash: print the input in hex (first 4 KiB) and save it whole to
 * ./crash-input, so `fuzz_x -runs=0 crash-input` (or the libFuzzer binary)
 * replays it. Only async-signal-safe calls. */
static void dump_current(void) {
  static const char hex[] = "0123456789abcdef";
  static int dumped;
  if (dumped++ || !current)
    return;
  const char *m1 = "\n==== fuzz driver: failing input (mutant of ";
  (void)!write(2, m1, strlen(m1));
  (void)!write(2, current_seed, strlen(current_seed));
  const char *m2 = "), hex:\n";
  (void)!write(2, m2, strlen(m2));
  char line[129];
  size_t n = current_len < 4096 ? current_len : 4096;
  for (size_t i = 0; i < n; i += 64) {
    size_t k = 0;
    for (size_t j = i; j < n && j < i + 64; j++) {
      line[k++] = hex[current[j] >> 4];
      line[k++] = hex[current[j] & 15];
    }
    line[k++] = '\n';
    (void)!write(2, line, k);
  }
  int fd = open("crash-input", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    (void)!write(fd, current, current_len);
    close(fd);
    const char *m3 = "==== saved to ./crash-input\n";
    (void)!write(2, m3, strlen(m3));
  }
}

static void on_signal(int sig) {
  dump_current();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* The watchdog: an input that never returns. */
static void on_alarm(int sig) {
  (void)sig;
  const char *m = "\n==== fuzz driver: input still running after the watchdog (hang)\n";
  (void)!write(2, m, strlen(m));
  dump_current();
  signal(SIGABRT, SIG_DFL);
  abort();
}

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double slowest_ms;
static size_t slowest_len;

/* Called by the sanitizer runtimes before they exit on an error. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

/* Runs one input from an exact-size heap copy (ASan catches over-reads). */
static void run_one(const uint8_t *data, size_t len) {
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy)
    abort();
  if (len)
    memcpy(copy, data, len);
  current = copy;
  current_len = len;
  if (timeout_ms > 0) {
    long wd_ms = timeout_ms * 20 > 30000 ? timeout_ms * 20 : 30000;
    struct itimerval it = {{0, 0}, {wd_ms / 1000, (wd_ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
  }
  double t0 = cpu_ms();
  /* A zero-length input gets a non-NULL pointer to a 1-byte block. */
  LLVMFuzzerTestOneInput(copy, len);
  double took = cpu_ms() - t0;
  if (timeout_ms > 0) {
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
  }
  if (took > slowest_ms) {
    slowest_ms = took;
    slowest_len = len;
  }
  if (timeout_ms > 0 && took > (double)timeout_ms) {
    fprintf(stderr, "\n==== fuzz driver: one input took %.0f ms of CPU (budget -timeout_ms=%ld)\n",
            took, timeout_ms);
    dump_current();
    exit(1);
  }
  current = NULL;
  free(copy);
}

static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x03, 0x0a, 0x0d, 0x20, 0x2f,
                                      0x30, 0x3a, 0x3d, 0x7f, 0x80, 0xbe, 0xde, 0xff};

/* Applies one random mutation to buf[0..*len) (capacity max_len). */
static void mutate_once(uint8_t *buf, size_t *len) {
  size_t n = *len;
  switch (rng_below(9)) {
  case 0: /* flip a bit */
    if (n)
      buf[rng_below(n)] ^= (uint8_t)(1u << rng_below(8));
    break;
  case 1: /* set a byte to a random or boundary value */
    if (n)
      buf[rng_below(n)] =
          rng_below(2) ? (uint8_t)rng() : interesting[rng_below(sizeof interesting)];
    break;
  case 2: { /* insert 1..8 bytes */
    size_t k = 1 + rng_below(8), at = rng_below(n + 1);
    if (n + k > max_len)
      break;
    memmove(buf + at + k, buf + at, n - at);
    for (size_t i = 0; i < k; i++)
      buf[at + i] = rng_below(2) ? (uint8_t)rng() : interesting[rng_below(sizeof interesting)];
    *len = n + k;
    break;
  }
  case 3: { /* delete a range */
    if (!n)
      break;
    size_t at = rng_below(n), k = 1 + rng_below(n - at < 16 ? n - at : 16);
    memmove(buf + at, buf + at + k, n - at - k);
    *len = n - k;
    break;
  }
  case 4: /* truncate */
    *len = rng_below(n + 1);
    break;
  case 5: { /* duplicate a range somewhere else */
    if (!n)
      break;
    size_t from = rng_below(n), k = 1 + rng_below(n - from < 64 ? n - from : 64);
    size_t at = rng_below(n + 1);
    if (n + k > max_len)
      break;
    uint8_t tmp[64];
    memcpy(tmp, buf + from, k);
    memmove(buf + at + k, buf + at, n - at);
    memcpy(buf + at, tmp, k);
    *len = n + k;
    break;
  }
  case 6: { /* splice: our prefix, another seed's suffix */
    const seed *o = &seeds[rng_below(n_seeds)];
    size_t keep = rng_below(n + 1), from = rng_below(o->len + 1);
    size_t k = o->len - from;
    if (keep + k > max_len)
      k = max_len - keep;
    memcpy(buf + keep, o->data + from, k);
    *len = keep + k;
    break;
  }
  case 7: { /* overwrite a 16/32-bit field with a boundary value */
    if (n < 4)
      break;
    size_t at = rng_below(n - 3);
    static const uint32_t v[] = {0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff};
    uint32_t x = v[rng_below(8)];
    if (rng_below(2)) {
      buf[at] = (uint8_t)(x >> 8);
      buf[at + 1] = (uint8_t)x;
    } else {
      buf[at] = (uint8_t)(x >> 24);
      buf[at + 1] = (uint8_t)(x >> 16);
      buf[at + 2] = (uint8_t)(x >> 8);
      buf[at + 3] = (uint8_t)x;
    }
    break;
  }
  default: /* text-aware: change an ASCII digit, letter or separator */
    if (n) {
      size_t at = rng_below(n);
      static const char swaps[] = "0123456789:= /\r\nax-";
      buf[at] = (uint8_t)swaps[rng_below(sizeof swaps - 1)];
    }
    break;
  }
}

int main(int argc, char **argv) {
  long runs = 1000;
  uint64_t seed_value = 0x5eed5eedull;
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "-runs=", 6) == 0)
      runs = strtol(argv[i] + 6, NULL, 10);
    else if (strncmp(argv[i], "-seed=", 6) == 0)
      seed_value = strtoull(argv[i] + 6, NULL, 0);
    else if (strncmp(argv[i], "-max_len=", 9) == 0)
      max_len = strtoul(argv[i] + 9, NULL, 10);
    else if (strncmp(argv[i], "-timeout_ms=", 12) == 0)
      timeout_ms = strtol(argv[i] + 12, NULL, 10);
    else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: %s [-runs=N] [-seed=S] [-max_len=L] [-timeout_ms=T] DIR_OR_FILE...\n",
              argv[0]);
      return 2;
    } else
      add_path(argv[i]);
  }
  if (n_seeds == 0) {
    fprintf(stderr, "%s: no seed input\n", argv[0]);
    return 2;
  }
  rng_state = seed_value ? seed_value : 1;
  signal(SIGABRT, on_signal);
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGALRM, on_alarm);
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback(dump_current);
  clock_t t0 = clock();
  unsigned long execs = 0;
  for (size_t s = 0; s < n_seeds; s++) {
    current_seed = seeds[s].name;
    run_one(seeds[s].data, seeds[s].len);
    execs++;
  }
  uint8_t *buf = malloc(max_len ? max_len : 1);
  if (!buf)
    abort();
  for (size_t s = 0; s < n_seeds; s++) {
    size_t len = 0;
    current_seed = seeds[s].name;
    for (long r = 0; r < runs; r++) {
      /* Mostly restart from the seed; sometimes stack mutations on the
       * previous mutant to walk further from it. */
      if (r == 0 || rng_below(4) != 0) {
        len = seeds[s].len < max_len ? seeds[s].len : max_len;
        memcpy(buf, seeds[s].data, len);
      }
      size_t k = 1 + rng_below(4);
      for (size_t m = 0; m < k; m++)
        mutate_once(buf, &len);
      run_one(buf, len);
      execs++;
    }
  }
  free(buf);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("%s: %zu seeds, %lu executions in %.2f s CPU, no failure; slowest input %.1f ms "
         "(%zu bytes, budget %ld ms)\n",
         argv[0], n_seeds, execs, secs, slowest_ms, slowest_len, timeout_ms);
  for (size_t s = 0; s < n_seeds; s++) {
    free(seeds[s].data);
    free(seeds[s].name);
  }
  free(seeds);
  return 0;
}
