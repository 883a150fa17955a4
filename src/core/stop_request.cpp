// Implementation of signal-driven stop requests.
#include "cdl/core/stop_request.hpp"

#include <atomic>
#include <csignal>
#include <initializer_list>

namespace cdl {
namespace {

// Lock-free, so that the handler only performs an async-signal-safe store.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free store");

extern "C" void record_stop_signal(int signal_number) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, signal_number);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a read or write in progress continues after the handler
  for (int signal_number : {SIGTERM, SIGUSR1, SIGUSR2}) sigaction(signal_number, &action, nullptr);
}

int stop_signal() {
  return g_stop_signal.load();
}

void request_stop(int signal_number) {
  record_stop_signal(signal_number);
}

void clear_stop_request() {
  g_stop_signal.store(0);
}

const char* signal_text(int signal_number) {
  switch (signal_number) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGINT:
      return "SIGINT";
    default:
      return "a signal";
  }
}

}  // namespace cdl
