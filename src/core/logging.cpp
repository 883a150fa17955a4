// Implementation of the rank-aware logger.
#include "cdl/core/logging.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>

namespace cdl::log {
namespace {

struct State {
  int rank = 0;
  int world_size = 1;
  Level level = Level::kInfo;
  bool all_ranks = false;
  bool speaks = false;
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
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARNING";
    case Level::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void set_rank(int rank, int world_size) {
  state().rank = rank;
  state().world_size = world_size;
}

void set_level(Level level) {
  state().level = level;
}

void set_all_ranks(bool all_ranks) {
  state().all_ranks = all_ranks;
}

void set_speaks(bool speaks) {
  state().speaks = speaks;
}

bool is_tty() {
  return isatty(STDERR_FILENO) == 1;
}

void write(Level level, const std::string& message) {
  State& s = state();
  if (level < s.level) return;
  const bool important = level >= Level::kWarn;
  if (!important && !s.all_ranks && !s.speaks && s.rank != 0) return;
  // One write() per message: lines of ranks sharing a terminal or a log file never interleave
  // mid-line (pipes keep writes of up to 4 KiB whole).
  std::string prefix;
  if (important || s.world_size > 1) {
    prefix = "[rank " + std::to_string(s.rank) + "/" + std::to_string(s.world_size) + "] ";
  }
  std::string text = prefix + (level != Level::kInfo ? std::string(level_name(level)) + ": " : "");
  for (const char c : message) {
    text += c;
    if (c == '\n' && !prefix.empty()) text += prefix;
  }
  text += '\n';
  std::lock_guard<std::mutex> lock(s.mutex);
  std::ostream& out = important ? std::cerr : std::cout;
  out.flush();
  const int fd = important ? STDERR_FILENO : STDOUT_FILENO;
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

}  // namespace cdl::log
