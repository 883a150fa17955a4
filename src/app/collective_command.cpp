// Implementation of running a command on every rank.
#include "collective_command.hpp"

#include <chrono>
#include <exception>
#include <iostream>
#include <thread>

#include "cdl/config/train_config.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/mpi_process.hpp"
#include "cdl/core/stop_request.hpp"

namespace cdl::app {

int check_before_mpi(const std::function<void()>& check) {
  try {
    check();
  } catch (const config::HelpRequested& help) {
    if (mpi::launcher_rank() == 0) std::cout << help.what();
    return 0;
  } catch (const ConfigError& error) {
    if (mpi::launcher_rank() == 0) std::cerr << "ERROR: " << error.what() << std::endl;
    return error.exit_code();
  }
  return kGoOn;
}

int run_collectively(comm::Runtime& runtime, const std::string& continue_with, bool stoppable,
                     const std::function<void()>& body) {
  if (stoppable) install_stop_handlers();
  try {
    body();
  } catch (const Interrupted& stopped) {
    // Every rank took this path at the same step, after the state was written: a clean exit.
    if (runtime.control().is_main()) {
      log::info(stopped.what(), ". Continue with: ", continue_with);
    }
    return stopped.exit_code();
  } catch (const Error& error) {
    return end_with_error(runtime, error.what(), error.exit_code(),
                          dynamic_cast<const ConfigError*>(&error) != nullptr);
  } catch (const std::exception& error) {
    return end_with_error(runtime, error.what(), 1, false);
  }
  return 0;
}

int end_with_error(comm::Runtime& runtime, const std::string& message, int code, bool same_on_all) {
  // The launcher ends the other ranks with a signal: not a user's stop request to announce.
  set_stop_mode(StopMode::kEndingWithError);
  const auto& topology = runtime.topology();
  if (topology.world_size == 1) {
    log::error(message);
    return code;
  }
  if (same_on_all && topology.rank != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  log::error(message, " (on ", topology.host, ")");
  runtime.abort(code);
}

}  // namespace cdl::app
