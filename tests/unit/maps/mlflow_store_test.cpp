// The MLflow file store of --track_exp mlflow: the files and fields MLflow's FileStore reads,
// checked by hand here (mlflow.get_run reads a real training's store: tests/interop).
#include "cdl/maps/mlflow_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "cdl/core/atomic_file.hpp"
#include "test_files.hpp"

namespace cdl::maps {
namespace {

namespace fs = std::filesystem;
using data::testing::TempDir;

TEST(MlflowStore, FileUrisPercentEncodeWhatIsNotUnreserved) {
  EXPECT_EQ(file_uri("/a/b c/d%e"), "file:///a/b%20c/d%25e");
  EXPECT_EQ(file_uri("/x/./y/../z-1_2~3"), "file:///x/z-1_2~3");
}

TEST(MlflowStore, ARunHoldsItsParametersEpochMetricsAndStatus) {
  TempDir dir;
  const MapsLayout layout(dir.file("my maps"));
  const MlflowRun run(layout, 1, -1);
  EXPECT_EQ(run.run_id(), "split-1");
  nlohmann::ordered_json parameters = {{"architecture", "Conv5_FC3"},
                                       {"batch_size", 2},
                                       {"amp", false},
                                       {"label", nullptr},
                                       {"selection_metrics", {"loss"}},
                                       {"preprocessing_dict", {{"preprocessing", "t1-linear"}}},
                                       {"../../../../escape", 1},
                                       {".hidden", 2}};
  run.start(parameters, 1000.25);
  const std::string store = layout.mlruns_dir();
  const std::string experiment = read_text_file(store + "/1/meta.yaml");
  EXPECT_NE(experiment.find("name: 'clinicadl-my maps'\n"), std::string::npos) << experiment;
  EXPECT_NE(experiment.find("experiment_id: '1'\n"), std::string::npos);
  EXPECT_NE(experiment.find("creation_time: 1000250\n"), std::string::npos);
  const std::string run_dir = store + "/1/split-1";
  std::string meta = read_text_file(run_dir + "/meta.yaml");
  EXPECT_NE(meta.find("status: 1\n"), std::string::npos) << meta;  // RUNNING
  EXPECT_NE(meta.find("end_time: null\n"), std::string::npos);
  EXPECT_NE(meta.find("run_id: split-1\n"), std::string::npos);
  EXPECT_NE(meta.find("artifact_uri: '" + file_uri(run_dir) + "/artifacts'"), std::string::npos);
  EXPECT_EQ(read_text_file(run_dir + "/params/batch_size"), "2");
  EXPECT_EQ(read_text_file(run_dir + "/params/amp"), "False");
  EXPECT_EQ(read_text_file(run_dir + "/params/label"), "None");
  EXPECT_EQ(read_text_file(run_dir + "/params/selection_metrics"), "[\"loss\"]");
  EXPECT_FALSE(fs::exists(run_dir + "/params/preprocessing_dict"));
  EXPECT_FALSE(fs::exists(dir.file("escape")));  // a key is never a path out of params/
  EXPECT_FALSE(fs::exists(run_dir + "/params/.hidden"));
  EXPECT_EQ(read_text_file(run_dir + "/tags/mlflow.runName"), "split-1");

  // Two rows in epoch 0 (an inner evaluation, then the epoch's end), one in epoch 1.
  TsvTable log({"epoch", "iteration", "time", "loss_train", "loss_valid"});
  log.add_row(std::vector<std::string>{"0", "3", "1.5", "0.9", "0.8"});
  log.add_row(std::vector<std::string>{"0", "7", "2.0", "0.7", "0.6"});
  log.add_row(std::vector<std::string>{"1", "7", "4.0", "0.5", ""});
  run.write_metrics(log, 2000.0);
  EXPECT_EQ(read_text_file(run_dir + "/metrics/loss_train"),
            "2002000 0.69999999999999996 0\n2004000 0.5 1\n");
  EXPECT_EQ(read_text_file(run_dir + "/metrics/loss_valid"),
            "2002000 0.59999999999999998 0\n2004000 nan 1\n");
  EXPECT_FALSE(fs::exists(run_dir + "/metrics/time"));

  run.start(parameters, 3000.0);  // a resume keeps the start time
  run.finish(3500.0);
  meta = read_text_file(run_dir + "/meta.yaml");
  EXPECT_NE(meta.find("start_time: 1000250\n"), std::string::npos) << meta;
  EXPECT_NE(meta.find("end_time: 3500000\n"), std::string::npos);
  EXPECT_NE(meta.find("status: 3\n"), std::string::npos);  // FINISHED
}

TEST(MlflowStore, NetworksOfAMultiNetworkRunAreRunsOfTheirOwn) {
  TempDir dir;
  EXPECT_EQ(MlflowRun(MapsLayout(dir.file("maps")), 0, 2).run_id(), "split-0-network-2");
}

}  // namespace
}  // namespace cdl::maps
