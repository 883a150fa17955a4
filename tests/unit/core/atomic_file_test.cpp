// Atomic file writing: the real name only ever holds a complete file, and no temporary remains.
#include "cdl/core/atomic_file.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"

namespace cdl {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("cdl_atomic_" + std::to_string(::getpid()) + "_" + info->name());
    cdl::remove_tree(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { cdl::remove_tree(dir_); }

  // Names of every entry below dir_ containing ".tmp.".
  std::vector<std::string> temporaries() const {
    std::vector<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
        found.push_back(entry.path().string());
      }
    }
    return found;
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesCreatesParentsAndLeavesNoTemporary) {
  const auto path = (dir_ / "a" / "b" / "file.tsv").string();
  write_text_atomically(path, "x\ty\n1\t2\n");
  EXPECT_EQ(read_text_file(path), "x\ty\n1\t2\n");
  write_text_atomically(path, "replaced\n");
  EXPECT_EQ(read_text_file(path), "replaced\n");
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(AtomicFileTest, TemporaryNameCarriesThePid) {
  EXPECT_EQ(temporary_path("/x/model.pth.tar"),
            "/x/model.pth.tar.tmp." + std::to_string(::getpid()));
}

TEST_F(AtomicFileTest, FailingWriterNeverLeavesAPartialFile) {
  const auto path = (dir_ / "checkpoint.bin").string();
  write_text_atomically(path, "old complete content");
  auto partial_then_throw = [](const std::string& tmp) {
    std::ofstream(tmp) << "half of the new";
    throw std::runtime_error("disk went away");
  };
  EXPECT_THROW(write_file_atomically(path, partial_then_throw), std::runtime_error);
  EXPECT_EQ(read_text_file(path), "old complete content");
  EXPECT_TRUE(temporaries().empty());
  // Same for a first write: the real name must not appear at all.
  const auto fresh = (dir_ / "fresh.bin").string();
  EXPECT_THROW(write_file_atomically(fresh, partial_then_throw), std::runtime_error);
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(AtomicFileTest, WriterThatCreatesNothingIsAnError) {
  const auto path = (dir_ / "nothing.txt").string();
  EXPECT_THROW(write_file_atomically(path, [](const std::string&) {}), DataError);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(AtomicFileTest, CallbackWriterReceivesTheTemporaryPath) {
  const auto path = (dir_ / "cb.txt").string();
  std::string seen;
  write_file_atomically(path, [&seen](const std::string& tmp) {
    seen = tmp;
    std::ofstream(tmp) << "payload";
  });
  EXPECT_EQ(seen, temporary_path(path));
  EXPECT_EQ(read_text_file(path), "payload");
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(AtomicFileTest, EnsureDirectory) {
  const auto nested = (dir_ / "x" / "y" / "z").string();
  ensure_directory(nested);
  ensure_directory(nested);  // idempotent
  EXPECT_TRUE(fs::is_directory(nested));
  const auto file = (dir_ / "plain").string();
  write_text_atomically(file, "f");
  EXPECT_THROW(ensure_directory(file), DataError);
  EXPECT_THROW(write_text_atomically((dir_ / "plain" / "child").string(), "c"), DataError);
  EXPECT_THROW(read_text_file((dir_ / "absent").string()), DataError);
}

/// The DataError message of `write` run under a 4096-byte file-size limit: write() then fails
/// with EFBIG past the limit, as a full disk fails with ENOSPC, through the same checked path.
std::string error_past_a_4096_byte_limit(const std::function<void()>& write) {
  rlimit old{};
  EXPECT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    write();
  } catch (const DataError& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  return message;
}

TEST_F(AtomicFileTest, AFullDiskIsNamedAndLeavesNothing) {
  const auto path = (dir_ / "state.pt").string();
  const std::string message =
      error_past_a_4096_byte_limit([&] { write_text_atomically(path, std::string(100000, 'x')); });
  EXPECT_NE(message.find("after 4096 of 100000 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("disk full"), std::string::npos) << message;
  EXPECT_NE(message.find("state.pt"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(AtomicFileTest, AppendsAndCutsAFailedAppendBackToTheOldLength) {
  const auto path = (dir_ / "events").string();
  append_bytes(path, "abc", 3);
  append_bytes(path, "defg", 4);
  EXPECT_EQ(read_text_file(path), "abcdefg");
  const std::string message = error_past_a_4096_byte_limit([&] {
    const std::string big(100000, 'x');
    append_bytes(path, big.data(), big.size());
  });
  EXPECT_NE(message.find("disk full"), std::string::npos) << message;
  EXPECT_NE(message.find("events"), std::string::npos) << message;
  EXPECT_EQ(read_text_file(path), "abcdefg");  // no half-written record
}

}  // namespace
}  // namespace cdl
