// Stop requests: recorded while training (the first one kept), the process ended at once before.
#include "cdl/core/stop_request.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

namespace cdl {
namespace {

TEST(StopRequest, WhileTrainingTheFirstSignalIsKeptUntilCleared) {
  clear_stop_request();
  EXPECT_EQ(stop_signal(), 0);
  install_stop_handlers();
  set_stop_mode(StopMode::kAtNextUpdate);
  std::raise(SIGUSR1);  // handled: the process goes on
  EXPECT_EQ(stop_signal(), SIGUSR1);
  request_stop(SIGTERM);
  EXPECT_EQ(stop_signal(), SIGUSR1);
  EXPECT_STREQ(signal_text(stop_signal()), "SIGUSR1");
  clear_stop_request();
  EXPECT_EQ(stop_signal(), 0);
}

TEST(StopRequest, BeforeTrainingTheProcessEndsAtOnce) {
  // A job stuck in set-up (reading data, waiting for a file system) must obey the scheduler.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    install_stop_handlers();  // kEndNow until the trainer's loop starts
    std::raise(SIGTERM);
    _exit(0);  // not reached when the request ends the process
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4) << "the status of a stopped job, which batch scripts requeue";
}

}  // namespace
}  // namespace cdl
