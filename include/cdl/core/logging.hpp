// Rank-aware logging: INFO on the main rank only, WARN and ERROR on every rank with a
// "[rank r/size]" prefix. Metrics never go through the log; they go to TSV files.
#pragma once

#include <sstream>
#include <string>

namespace cdl::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

/// Sets the rank identity printed in prefixes. Call once after the runtime knows the rank.
void set_rank(int rank, int world_size);

/// Sets the lowest level printed (default kInfo, or CDL_LOG_LEVEL=debug|info|warn|error).
void set_level(Level level);

/// When true, INFO/DEBUG lines are printed by every rank instead of the main rank only.
void set_all_ranks(bool all_ranks);

/// When true, this rank prints INFO/DEBUG lines too (the main rank of each rank group does, so
/// that every group's progress is seen).
void set_speaks(bool speaks);

/// Writes one line at `level` if the level and rank policy allow it. Thread-safe.
void write(Level level, const std::string& message);

/// True when stderr is a terminal (progress bars are drawn only then).
bool is_tty();

template <typename... Args>
void debug(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  write(Level::kDebug, out.str());
}
template <typename... Args>
void info(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  write(Level::kInfo, out.str());
}
template <typename... Args>
void warn(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  write(Level::kWarn, out.str());
}
template <typename... Args>
void error(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  write(Level::kError, out.str());
}

}  // namespace cdl::log
