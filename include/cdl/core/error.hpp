// Typed exceptions of clinicadl-hpc and the CDL_THROW / CDL_CHECK macros.
// Every message says what was seen, what was expected and, where useful, a "hint:" line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cdl {

/// Base of every error raised by clinicadl-hpc. `what()` is the full user-facing message.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  /// Process exit status used by the command-line front ends for this kind of error.
  virtual int exit_code() const { return 1; }
};

/// Invalid user input: options, config files, TSV contents. Detected identically on every rank.
class ConfigError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 2; }
};

/// Missing, unreadable or malformed data files (NIfTI, HDF5, checkpoints).
class DataError : public Error {
 public:
  using Error::Error;
};

/// Failure of MPI, NCCL or CUDA.
class CommError : public Error {
 public:
  using Error::Error;
};

/// The training itself failed (e.g. it diverged: the loss became NaN or infinite). Exit status 3.
class TrainingError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 3; }
};

/// Exit status of a job stopped on request (SIGTERM or SIGUSR1) after it wrote its training
/// state: job scripts requeue on it, and `clinicadl-hpc resume MAPS` continues.
inline constexpr int kInterruptedExitCode = 4;

/// Not a failure: every rank stopped at the same step on request (a signal), after the training
/// state was written. Exit status kInterruptedExitCode.
class Interrupted : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kInterruptedExitCode; }
};

/// A broken internal invariant: a bug in clinicadl-hpc, never the user's fault.
class InternalError : public Error {
 public:
  using Error::Error;
};

namespace detail {
/// Concatenates any streamable arguments into one string.
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace cdl

/// Throws `Type` (a cdl::Error subclass) with the streamed arguments as message.
#define CDL_THROW(Type, ...) throw Type(::cdl::detail::concat(__VA_ARGS__))

/// Throws InternalError with file and line when `cond` is false (always on, also in release).
#define CDL_CHECK(cond, ...)                                                                 \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      throw ::cdl::InternalError(::cdl::detail::concat(__FILE__, ":", __LINE__, ": check '", \
                                                       #cond, "' failed: ", ##__VA_ARGS__)); \
    }                                                                                        \
  } while (false)
