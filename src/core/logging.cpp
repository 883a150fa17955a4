// Implementation of the rank-aware logger.
#include "cdl/core/logging.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>

namespace cdl::log {
namespace {

struct State {
  int rank = 0;
  int world_size = 1;
  Level level = Level::kInfo;
  bool all_ranks = false;
  std::mutex mutex;
};

Level level_from_environment() {
  const char* value = std::getenv("CDL_LOG_LEVEL");
  if (value == nullptr) return Level::kInfo;
  if (std::strcmp(value, "debug") == 0) return Level::kDebug;
  if (std::strcmp(value, "warn") == 0) return Level::kWarn;
  if (std::strcmp(value, "error") == 0) return Level::kError;
  return Level::kInfo;
}

State& state() {
  static State s{0, 1, level_from_environment(), false, {}};
  return s;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARNING";
    case Level::kError: return "ERROR";
  }
  return "?";
}

}  // namespace

void set_rank(int rank, int world_size) {
  state().rank = rank;
  state().world_size = world_size;
}

void set_level(Level level) { state().level = level; }

void set_all_ranks(bool all_ranks) { state().all_ranks = all_ranks; }

bool is_tty() { return isatty(STDERR_FILENO) == 1; }

void write(Level level, const std::string& message) {
  State& s = state();
  if (level < s.level) return;
  const bool important = level >= Level::kWarn;
  if (!important && !s.all_ranks && s.rank != 0) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  std::ostream& out = important ? std::cerr : std::cout;
  if (important || s.world_size > 1) {
    out << "[rank " << s.rank << "/" << s.world_size << "] ";
  }
  if (level != Level::kInfo) out << level_name(level) << ": ";
  out << message << std::endl;
}

}  // namespace cdl::log
