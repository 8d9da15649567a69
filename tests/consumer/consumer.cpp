// A C++17 program that uses weft through <weft/weft.h> in a C++ translation
// unit, linked against the installed library. Unlike consumer.c it uses a
// THREAD context: callbacks run on weft's own thread and report to main()
// through a mutex + condition variable. Two peers, one data channel, a binary
// message A→B and a text message B→A; exits 0 when both arrived intact and
// every object was freed.
#include <weft/weft.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

static_assert(WEFT_CHECK_VERSION(0, 1, 0), "weft-version.h must be usable from C++");

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(20);

const std::vector<unsigned char> kAtoB = {'w', 'e', 'f', 't', 0x00, 0xfe, 0x01};
const std::string kBtoA = "h\xc3\xa9llo from the C++ consumer"; // UTF-8

struct PcDeleter {
  void operator()(weft_pc *pc) const { weft_pc_unref(pc); }
};
struct DcDeleter {
  void operator()(weft_dc *dc) const { weft_dc_unref(dc); }
};
struct CtxDeleter {
  void operator()(weft_context *ctx) const { weft_context_unref(ctx); }
};
struct CfgDeleter {
  void operator()(weft_config *cfg) const { weft_config_free(cfg); }
};
using PcPtr = std::unique_ptr<weft_pc, PcDeleter>;
using DcPtr = std::unique_ptr<weft_dc, DcDeleter>;
using CtxPtr = std::unique_ptr<weft_context, CtxDeleter>;
using CfgPtr = std::unique_ptr<weft_config, CfgDeleter>;

// Shared between weft's callback thread and main().
struct App {
  std::mutex mu;
  std::condition_variable cv;
  PcPtr pc[2];
  DcPtr dc_b; // surfaced on B, owned here once on_data_channel ran
  bool got_on_a = false;
  bool got_on_b = false;
  std::string error;

  void fail(const std::string &what) {
    std::lock_guard<std::mutex> lock(mu);
    if (error.empty())
      error = what;
    cv.notify_all();
  }
  void fail_weft(const std::string &what) {
    fail(what + ": " + weft_err_name(weft_last_error()) + " (" + weft_last_error_message() + ")");
  }
};

App *app_of(void *ud) { return static_cast<App *>(ud); }

// Captureless lambdas convert to the C function pointer types weft expects.
void setup_pc(App &app, weft_pc *pc) {
  weft_pc_set_user_data(pc, &app, nullptr);
  weft_pc_set_on_connection_state_change(pc, [](weft_pc *p, weft_pc_state s, void *ud) {
    if (s == WEFT_PC_FAILED)
      app_of(ud)->fail(std::string("connection failed on ") +
                       (p == app_of(ud)->pc[0].get() ? "A" : "B"));
  });
  weft_pc_set_on_error(pc, [](weft_pc *, const weft_error_info *e, void *ud) {
    app_of(ud)->fail(std::string("pc error: ") + e->message);
  });
}

void on_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  App *app = app_of(ud);
  // Both pcs live on the one context, so this hands the candidate over on the
  // thread that runs it; both remote descriptions are already applied.
  weft_pc *other = pc == app->pc[0].get() ? app->pc[1].get() : app->pc[0].get();
  if (weft_pc_add_ice_candidate(other, c) < 0)
    app->fail_weft("add_ice_candidate");
}

bool negotiate(App &app) {
  char *offer = nullptr, *answer = nullptr;
  weft_pc *a = app.pc[0].get(), *b = app.pc[1].get();
  bool ok = weft_pc_create_offer(a, nullptr, &offer) == WEFT_OK &&
            weft_pc_set_local_description(a, WEFT_SDP_OFFER, offer) == WEFT_OK &&
            weft_pc_set_remote_description(b, WEFT_SDP_OFFER, offer) == WEFT_OK &&
            weft_pc_create_answer(b, &answer) == WEFT_OK &&
            weft_pc_set_local_description(b, WEFT_SDP_ANSWER, answer) == WEFT_OK &&
            weft_pc_set_remote_description(a, WEFT_SDP_ANSWER, answer) == WEFT_OK;
  if (!ok)
    app.fail_weft("negotiation");
  weft_free(offer);
  weft_free(answer);
  return ok;
}

int run() {
  App app;
  weft_context_options opts = WEFT_CONTEXT_OPTIONS_INIT;
  opts.mode = WEFT_CONTEXT_THREAD;
  opts.thread_name = "weft-consumer";
  CtxPtr ctx(weft_context_new(&opts));
  CfgPtr cfg(weft_config_new());
  if (!ctx || !cfg) {
    std::fprintf(stderr, "consumer-cpp: FAIL: context/config: %s\n", weft_last_error_message());
    return 1;
  }
  weft_config_set_enable_loopback(cfg.get(), 1);
  for (auto &pc : app.pc) {
    pc.reset(weft_pc_new(ctx.get(), cfg.get()));
    if (!pc) {
      std::fprintf(stderr, "consumer-cpp: FAIL: weft_pc_new: %s\n", weft_last_error_message());
      return 1;
    }
    setup_pc(app, pc.get());
  }
  cfg.reset();

  weft_pc_set_on_data_channel(app.pc[1].get(), [](weft_pc *, weft_dc *dc, void *ud) {
    App *a = app_of(ud);
    {
      std::lock_guard<std::mutex> lock(a->mu);
      if (a->dc_b)
        return;
      a->dc_b.reset(weft_dc_ref(dc)); // borrowed for the callback only
    }
    weft_dc_set_on_message(
        dc, [](weft_dc *d, weft_msg_type type, const void *data, size_t size, void *u) {
          App *a = app_of(u);
          auto bytes = static_cast<const unsigned char *>(data);
          if (type != WEFT_MSG_BINARY || std::vector<unsigned char>(bytes, bytes + size) != kAtoB) {
            a->fail("B got an unexpected message of " + std::to_string(size) + " bytes");
            return;
          }
          {
            std::lock_guard<std::mutex> lock(a->mu);
            a->got_on_b = true;
          }
          if (weft_dc_send_text(d, kBtoA.data(), kBtoA.size()) < 0)
            a->fail_weft("send B->A");
        });
  });

  DcPtr dc_a(weft_pc_create_data_channel(app.pc[0].get(), "consumer-cpp", nullptr));
  if (!dc_a) {
    app.fail_weft("create_data_channel");
  } else {
    weft_dc_set_user_data(dc_a.get(), &app, nullptr);
    weft_dc_set_on_open(dc_a.get(), [](weft_dc *d, void *u) {
      if (weft_dc_send(d, kAtoB.data(), kAtoB.size()) < 0)
        app_of(u)->fail_weft("send A->B");
    });
    weft_dc_set_on_message(
        dc_a.get(), [](weft_dc *, weft_msg_type type, const void *data, size_t size, void *u) {
          App *a = app_of(u);
          // TEXT messages are NUL-terminated by contract.
          auto text = static_cast<const char *>(data);
          if (type != WEFT_MSG_TEXT || std::string(text, size) != kBtoA || text[size] != '\0') {
            a->fail("A got an unexpected message of " + std::to_string(size) + " bytes");
            return;
          }
          std::lock_guard<std::mutex> lock(a->mu);
          a->got_on_a = true;
          a->cv.notify_all();
        });
    // Candidates that were gathered before this point are replayed now, so
    // they never reach a peer without a remote description.
    if (negotiate(app)) {
      weft_pc_set_on_ice_candidate(app.pc[0].get(), on_candidate);
      weft_pc_set_on_ice_candidate(app.pc[1].get(), on_candidate);
    }
  }

  std::string error;
  {
    std::unique_lock<std::mutex> lock(app.mu);
    bool done = app.cv.wait_until(lock, clock_type::now() + kTimeout, [&] {
      return !app.error.empty() || (app.got_on_a && app.got_on_b);
    });
    if (!done)
      error = std::string("timed out (B got its message: ") + (app.got_on_b ? "yes" : "no") + ")";
    else
      error = app.error;
  }

  // Close first: after weft_pc_close() returns no callback touches app.
  if (dc_a)
    weft_dc_close(dc_a.get());
  for (auto &pc : app.pc)
    weft_pc_close(pc.get());
  {
    std::lock_guard<std::mutex> lock(app.mu);
    app.dc_b.reset();
  }
  dc_a.reset();
  for (auto &pc : app.pc)
    pc.reset();
  ctx.reset();

  auto gone_by = clock_type::now() + std::chrono::seconds(5);
  while (weft_debug_live_objects() != 0 && clock_type::now() < gone_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  long live = weft_debug_live_objects();
  if (error.empty() && live != 0)
    error = std::to_string(live) + " weft objects still alive after unref";

  if (!error.empty()) {
    std::fprintf(stderr, "consumer-cpp: FAIL: %s\n", error.c_str());
    return 1;
  }
  std::printf("consumer-cpp: OK (weft %s)\n", weft_version_string());
  return 0;
}

} // namespace

int main() { return run(); }
