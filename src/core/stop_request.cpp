// Implementation of signal-driven stop requests.
#include "cdl/core/stop_request.hpp"

#include "cdl/core/error.hpp"

#include <atomic>
#include <csignal>
#include <initializer_list>

#include <unistd.h>

namespace cdl {
namespace {

// Lock-free, so that the handler only performs an async-signal-safe store.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free store");

std::atomic<int> g_stop_mode{static_cast<int>(StopMode::kEndNow)};

/// Async-signal-safe: a constant line and _exit with the status of a stopped job, so that a
/// batch script requeues it as it does after a saved state (the rerun starts the split anew).
[[noreturn]] void end_now() {
  static const char kLine[] =
      "clinicadl-hpc: stop requested by a signal before training started; ending now (nothing "
      "to save)\n";
  const ssize_t ignored = ::write(STDERR_FILENO, kLine, sizeof(kLine) - 1);
  (void)ignored;
  ::_exit(kInterruptedExitCode);
}

void record_stop_signal(int signal_number) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, signal_number);
}

extern "C" void on_stop_signal(int signal_number) {
  const int mode = g_stop_mode.load();
  if (mode == static_cast<int>(StopMode::kEndNow)) end_now();
  if (mode == static_cast<int>(StopMode::kEndingWithError)) ::_exit(128 + signal_number);
  record_stop_signal(signal_number);
}

}  // namespace

void install_stop_handlers() {
  set_stop_mode(StopMode::kEndNow);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a read or write in progress continues after the handler
  for (int signal_number : {SIGTERM, SIGUSR1, SIGUSR2}) sigaction(signal_number, &action, nullptr);
}

void set_stop_mode(StopMode mode) {
  g_stop_mode.store(static_cast<int>(mode));
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
