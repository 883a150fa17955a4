// Tests of CapsDataset and BatchLoader: batch contents, labels per task, prefetch, errors, cache.
#include "cdl/data/batch_loader.hpp"
#include "cdl/data/shard_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <numeric>
#include <thread>

#include "cdl/core/error.hpp"
#include "cdl/data/transforms.hpp"
#include "test_files.hpp"

namespace cdl::data {
namespace {

using testing::arange_spec;
using testing::StoreSpec;
using testing::TempDir;
using testing::write_store;

/// A store of 5 images [1, 4, 5, 6] and a table of them with diagnosis and age.
class DatasetFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = arange_spec(5, 4, 5, 6);
    write_store(dir_.file("data.h5"), spec_);
    source_ = std::make_shared<DataSource>(DataSource::open(dir_.file("data.h5")));
    table_ = TsvTable({"participant_id", "session_id", "diagnosis", "age", "cohort"}, "t.tsv");
    const std::vector<std::string> dx{"CN", "AD", "CN", "AD", "CN"};
    for (int i = 4; i >= 0; --i) {  // table order differs from file order
      table_.add_row(
          {"sub-" + std::to_string(100 + i), "ses-M000", dx[i], std::to_string(60 + i), "single"},
          "t.tsv", 6 - i);
    }
  }
  std::shared_ptr<CapsDataset> make(Task task, ModeConfig mode = {}, int64_t cache = 0) {
    DatasetOptions o;
    o.task = task;
    o.mode = mode;
    o.cache_bytes = cache;
    return std::make_shared<CapsDataset>(source_, table_, o);
  }

  TempDir dir_;
  StoreSpec spec_;
  std::shared_ptr<DataSource> source_;
  TsvTable table_;
};

TEST_F(DatasetFixture, ClassificationSampleIsNormalisedImageWithCode) {
  const auto ds = make(Task::kClassification);
  EXPECT_EQ(ds->size(), 5);
  EXPECT_EQ(ds->label_code().entries(),
            (std::vector<std::pair<std::string, int64_t>>{{"AD", 0}, {"CN", 1}}));
  EXPECT_EQ(ds->class_codes(), (std::vector<int64_t>{1, 0, 1, 0, 1}));  // table order: 104..100
  const Sample s = ds->get(1);                                          // table row 1 = sub-103
  EXPECT_EQ(s.meta.participant_id, "sub-103");
  EXPECT_EQ(s.meta.cohort, "single");
  EXPECT_EQ(s.label.item<int64_t>(), 0);
  EXPECT_TRUE(torch::allclose(s.input, minmax_normalize(spec_.images[3])));
  EXPECT_EQ(ds->input_shape(), (std::vector<int64_t>{1, 4, 5, 6}));
}

TEST_F(DatasetFixture, LoaderYieldsBatchesInOrderWithLabelsAndMeta) {
  const auto ds = make(Task::kClassification);
  BatchLoader loader(ds, {4, 0, 2, 1, 3}, LoaderOptions{2, 2, nullptr, {}, 1});
  EXPECT_EQ(loader.num_batches(), 3);
  Batch b;
  std::vector<int64_t> seen;
  std::vector<int64_t> sizes;
  while (loader.next(b)) {
    sizes.push_back(b.size());
    EXPECT_EQ(b.inputs.sizes()[0], b.size());
    EXPECT_EQ(b.inputs.scalar_type(), torch::kFloat);
    EXPECT_EQ(b.labels.scalar_type(), torch::kLong);
    for (int64_t i = 0; i < b.size(); ++i) {
      seen.push_back(b.meta[i].sample_index);
      EXPECT_EQ(b.labels[i].item<int64_t>(), ds->class_codes()[b.meta[i].image_index]);
    }
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{4, 0, 2, 1, 3}));
  EXPECT_EQ(sizes, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_FALSE(loader.next(b));
  EXPECT_GE(loader.wait_seconds(), 0.0);
  EXPECT_GT(loader.load_seconds(), 0.0);
}

TEST_F(DatasetFixture, RegressionAndReconstructionTargets) {
  const auto reg = make(Task::kRegression);
  const Batch b = make_batch(*reg, {0, 4});
  EXPECT_EQ(b.labels.sizes().vec(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(b.labels[0][0].item<float>(), 64.0f);
  EXPECT_EQ(b.labels[1][0].item<float>(), 60.0f);
  const auto rec = make(Task::kReconstruction);
  const Batch r = make_batch(*rec, {2});
  EXPECT_TRUE(torch::equal(r.labels, r.inputs));
  EXPECT_THROW(rec->sampler_weights(), ConfigError);
}

// A sample transform (the training augmentations) sees each sample with its dataset index, on
// the I/O thread, and reconstruction targets are the transformed inputs.
TEST_F(DatasetFixture, SampleTransformChangesInputsAndReconstructionTargets) {
  const auto rec = make(Task::kReconstruction);
  LoaderOptions options{2, 1, nullptr, {}, 1};
  options.transform = [](const torch::Tensor& input, int64_t index) {
    return input + static_cast<float>(index);
  };
  BatchLoader loader(rec, {3, 1}, options);
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_TRUE(torch::allclose(batch.inputs[0], rec->get(3).input + 3.0f));
  EXPECT_TRUE(torch::allclose(batch.inputs[1], rec->get(1).input + 1.0f));
  EXPECT_TRUE(torch::equal(batch.labels, batch.inputs));
}

TEST_F(DatasetFixture, PatchModeSamplesAndSyncLoaderMatchPrefetch) {
  ModeConfig mode;
  mode.mode = Mode::kPatch;
  mode.patch_size = 2;
  mode.stride_size = 2;
  const auto ds = make(Task::kClassification, mode);
  ASSERT_EQ(ds->parts_per_image(), 12);
  EXPECT_EQ(ds->size(), 60);
  const SampleMeta m = ds->meta(12 + 7);
  EXPECT_EQ(m.image_index, 1);
  EXPECT_EQ(m.part_id, 7);
  BatchLoader sync(ds, {19, 3, 59}, LoaderOptions{2, 0, nullptr, {}, 1});
  BatchLoader prefetch(ds, {19, 3, 59}, LoaderOptions{2, 1, nullptr, {}, 1});
  Batch a, b;
  while (sync.next(a)) {
    ASSERT_TRUE(prefetch.next(b));
    EXPECT_TRUE(torch::equal(a.inputs, b.inputs));
    EXPECT_EQ(a.inputs.sizes().vec(), (std::vector<int64_t>{a.size(), 1, 2, 2, 2}));
  }
  EXPECT_FALSE(prefetch.next(b));
}

TEST_F(DatasetFixture, PrefetchRethrowsTheIoThreadErrorAfterTheGoodBatches) {
  const auto ds = make(Task::kClassification);
  BatchLoader loader(ds, {0, 1, 999, 2}, LoaderOptions{1, 2, nullptr, {}, 1});
  Batch b;
  EXPECT_TRUE(loader.next(b));
  EXPECT_TRUE(loader.next(b));
  EXPECT_THROW(loader.next(b), InternalError);
  EXPECT_FALSE(loader.next(b));
}

// Several I/O threads (--n_proc) build batches side by side, finishing out of order (the
// transform sleeps longer on early samples), and the consumer still gets them in order, equal to
// a synchronous loader's; with a batch that cannot be built, the batches before it come first.
TEST_F(DatasetFixture, IoThreadsHandOutBatchesInOrderAndTheFirstErrorAtItsPlace) {
  const auto ds = make(Task::kClassification);
  const std::vector<int64_t> indices{4, 0, 3, 1, 2, 0, 4, 1};
  LoaderOptions options{1, 1, nullptr, {}, 1};
  options.transform = [](const torch::Tensor& input, int64_t index) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * (4 - index)));
    return input * 2.0f + static_cast<float>(index);
  };
  BatchLoader sync(ds, indices, LoaderOptions{1, 0, nullptr, options.transform, 1});
  options.io_threads = 3;
  BatchLoader parallel(ds, indices, options);
  Batch a, b;
  int64_t count = 0;
  while (sync.next(a)) {
    ASSERT_TRUE(parallel.next(b));
    EXPECT_TRUE(torch::equal(a.inputs, b.inputs)) << "batch " << count;
    EXPECT_EQ(b.meta.front().image_index, indices[static_cast<size_t>(count++)]);
  }
  EXPECT_FALSE(parallel.next(b));
  EXPECT_EQ(count, 8);

  options.io_threads = 4;
  BatchLoader failing(ds, {0, 1, 2, 999, 3, 998, 4}, options);
  for (int good = 0; good < 3; ++good) EXPECT_TRUE(failing.next(b)) << good;
  EXPECT_THROW(failing.next(b), InternalError);
  EXPECT_FALSE(failing.next(b));
}

// The I/O threads really run side by side: three transforms are seen running at once (each
// waits, up to 20 s, for the others to arrive).
TEST_F(DatasetFixture, IoThreadsTransformSamplesConcurrently) {
  const auto ds = make(Task::kClassification);
  std::mutex mutex;
  std::condition_variable arrived;
  int running = 0, most = 0;
  LoaderOptions options{1, 3, nullptr, {}, 1};
  options.io_threads = 3;
  options.transform = [&](const torch::Tensor& input, int64_t) {
    std::unique_lock<std::mutex> lock(mutex);
    most = std::max(most, ++running);
    arrived.notify_all();
    arrived.wait_for(lock, std::chrono::seconds(20), [&] { return most >= 3; });
    --running;
    return input;
  };
  BatchLoader loader(ds, {0, 1, 2, 3, 4, 0}, options);
  Batch b;
  while (loader.next(b)) {
  }
  EXPECT_EQ(most, 3);
}

TEST(BatchLoaderTest, ReadErrorOfATruncatedFileIsRethrownAsDataError) {
  TempDir dir;
  StoreSpec spec = arange_spec(4, 16, 16, 16);
  spec.images = torch::rand({4, 1, 16, 16, 16});
  spec.deflate = true;
  write_store(dir.file("d.h5"), spec);
  auto source = std::make_shared<DataSource>(DataSource::open(dir.file("d.h5")));
  TsvTable table({"participant_id", "session_id", "diagnosis"}, "t.tsv");
  for (int i = 0; i < 4; ++i) table.add_row({spec.participants[i], "ses-M000", "AD"});
  auto ds = std::make_shared<CapsDataset>(source, table, DatasetOptions{});
  std::filesystem::resize_file(dir.file("d.h5"), 4096);  // chunks are gone, handles still open
  BatchLoader loader(ds, std::vector<int64_t>{3}, LoaderOptions{1, 2, nullptr, {}, 1});
  Batch b;
  EXPECT_THROW(loader.next(b), DataError);
}

TEST_F(DatasetFixture, DestructorDoesNotHangWithUnconsumedBatches) {
  const auto ds = make(Task::kClassification);
  // Loaders destroyed with batches still queued (none taken, then one taken): run on a worker so
  // that a destructor that hangs fails this test within seconds instead of stalling the suite.
  std::promise<int> taken;
  auto result = taken.get_future();
  std::thread worker([&] {
    int batches = 0;
    for (int k = 0; k < 3; ++k) {
      LoaderOptions options{1, 1, nullptr, {}, 1};
      options.io_threads = k + 1;  // one, then several I/O threads
      BatchLoader loader(ds, {0, 1, 2, 3, 4, 0, 1, 2}, options);
      Batch b;
      if (k > 0 && loader.next(b)) ++batches;
    }
    taken.set_value(batches);
  });
  if (result.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    std::fprintf(stderr, "BatchLoader's destructor hung with batches still queued\n");
    std::_Exit(1);  // the hung worker cannot be joined
  }
  worker.join();
  EXPECT_EQ(result.get(), 2);  // the two loaders asked for a batch got one
}

TEST_F(DatasetFixture, CacheKeepsImagesWithinBudget) {
  const int64_t image_bytes = 4 * 5 * 6 * 4;
  const auto ds = make(Task::kClassification, {}, 2 * image_bytes);
  for (int64_t i = 0; i < 5; ++i) ds->get(i);
  EXPECT_EQ(ds->cache().bytes(), 2 * image_bytes);
  ds->get(0);
  ds->get(1);
  EXPECT_EQ(ds->cache().hits(), 2);
  const auto uncached = make(Task::kClassification);
  EXPECT_TRUE(torch::equal(uncached->get(0).input, ds->get(0).input));
  EXPECT_EQ(uncached->cache().bytes(), 0);
}

TEST_F(DatasetFixture, MissingSessionAndUnknownCohortAreReported) {
  table_.add_row({"sub-999", "ses-M000", "AD", "70", "single"}, "t.tsv", 7);
  try {
    make(Task::kClassification);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sub-999"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t.tsv' line 7"), std::string::npos) << msg;
  }
  table_ = table_.filter([](int64_t r) { return r < 5; });
  table_.set_column("cohort", "ADNI");
  EXPECT_THROW(make(Task::kClassification), ConfigError);
}

TEST_F(DatasetFixture, NoLabelsGivesMinusOne) {
  table_ = TsvTable({"participant_id", "session_id"}, "p.tsv");
  table_.add_row({"sub-101", "ses-M000"});
  DatasetOptions o;
  o.no_labels = true;
  const auto ds = std::make_shared<CapsDataset>(source_, table_, o);
  EXPECT_EQ(make_batch(*ds, {0}).labels[0].item<int64_t>(), -1);
  EXPECT_EQ(ds->table().at(0, "cohort"), "single");
}

// Size reduction after MinMax over the whole image (ClinicaDL's order): the brightest voxel lies
// outside the window, so the reduced sample's maximum stays below 1.
TEST(CapsDatasetTest, SizeReductionFollowsMinMaxOverTheWholeImage) {
  TempDir dir;
  StoreSpec spec;
  spec.images = torch::rand({2, 1, 40, 50, 45});
  spec.images.index_put_({0, 0, 0, 0, 0}, 10.0f);  // outside D 4:164:2
  spec.participants = {"sub-01", "sub-02"};
  spec.sessions = {"ses-M000", "ses-M000"};
  write_store(dir.file("r.h5"), spec);
  auto source = std::make_shared<DataSource>(DataSource::open(dir.file("r.h5")));
  TsvTable table({"participant_id", "session_id", "diagnosis"}, "t.tsv");
  table.add_row({"sub-01", "ses-M000", "CN"});
  table.add_row({"sub-02", "ses-M000", "AD"});
  DatasetOptions o;
  o.size_reduction_factor = 2;
  const auto ds = std::make_shared<CapsDataset>(source, table, o);
  EXPECT_EQ(ds->input_shape(), (std::vector<int64_t>{1, 18, 21, 19}));
  const torch::Tensor sample = ds->get(0).input;
  EXPECT_TRUE(torch::equal(sample, reduce_size(minmax_normalize(spec.images[0]), 2)));
  EXPECT_LT(sample.max().item<float>(), 0.2f);
  o.mode.mode = Mode::kPatch;
  EXPECT_THROW(CapsDataset(source, table, o), ConfigError);
}

TEST(CapsDatasetTest, Float16StoreWithNanIsCachedConvertedAndCleaned) {
  TempDir dir;
  StoreSpec spec = arange_spec(2, 3, 4, 5);
  spec.images = spec.images / 100.0;
  spec.images[1][0][0][0][0] = NAN;
  spec.float16 = true;
  write_store(dir.file("h.h5"), spec);
  auto source = std::make_shared<DataSource>(DataSource::open(dir.file("h.h5")));
  TsvTable table({"participant_id", "session_id", "diagnosis"}, "t.tsv");
  for (int i = 0; i < 2; ++i) table.add_row({spec.participants[i], "ses-M000", "CN"});
  DatasetOptions o;
  o.cache_bytes = 1 << 20;
  const auto ds = std::make_shared<CapsDataset>(source, table, o);
  const torch::Tensor first = ds->get(0).input;
  EXPECT_TRUE(
      torch::allclose(first, minmax_normalize(spec.images[0].to(torch::kHalf).to(torch::kFloat))));
  EXPECT_EQ(ds->cache().bytes(), 2 * 3 * 4 * 5);  // kept as float16
  const torch::Tensor second = ds->get(1).input;
  EXPECT_TRUE(torch::isfinite(second).all().item<bool>());
  EXPECT_EQ(second.min().item<float>(), 0.0f);
  EXPECT_EQ(second.max().item<float>(), 1.0f);
  EXPECT_EQ(second[0][0][0][0].item<float>(), 0.0f);  // the NaN became 0, the minimum
}

TEST_F(DatasetFixture, ThreeSimulatedRanksTrainEqualBatchesAndEvaluateEverySampleOnce) {
  ModeConfig mode;
  mode.mode = Mode::kSlice;
  mode.slice_direction = 2;
  mode.slice_rgb = false;
  const auto ds = make(Task::kClassification, mode);  // 5 images x 6 slices = 30 samples
  std::vector<int64_t> train_batches, gathered;
  for (int rank = 0; rank < 3; ++rank) {
    ShardPlanOptions o;
    o.rank = rank;
    o.world_size = 3;
    o.batch_size = 4;
    const ShardPlan plan(ds->num_images(), ds->parts_per_image(), o);
    std::vector<std::vector<int64_t>> mine;
    for (const auto& update : plan.train_updates(3)) {
      for (const auto& m : update.micro_batches) mine.push_back(m);
    }
    BatchLoader train(ds, mine, LoaderOptions{4, 2, nullptr, {}, 1});
    Batch b;
    int64_t n = 0;
    while (train.next(b)) {
      EXPECT_EQ(b.size(), static_cast<int64_t>(mine[static_cast<size_t>(n)].size()));
      ++n;
    }
    train_batches.push_back(n);
    BatchLoader eval(ds, plan.eval_indices(), LoaderOptions{4, 2, nullptr, {}, 1});
    while (eval.next(b)) {
      for (const auto& m : b.meta) gathered.push_back(m.sample_index);
    }
  }
  // Updates of 12, 12 and 6 samples: 3 + 3 + 2 micro-batches of at most 4, shared by 3 ranks.
  EXPECT_EQ(std::accumulate(train_batches.begin(), train_batches.end(), int64_t{0}), 8);
  for (const auto n : train_batches) EXPECT_TRUE(n == 2 || n == 3) << n;
  std::vector<int64_t> expected(30);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(gathered, expected);
}

TEST_F(DatasetFixture, WeightsForTheWeightedSampler) {
  const auto ds = make(Task::kClassification);
  const auto w = ds->sampler_weights();
  EXPECT_DOUBLE_EQ(w[0], 1.0 / 3);  // CN: 3 images
  EXPECT_DOUBLE_EQ(w[1], 0.5);      // AD: 2 images
  EXPECT_EQ(make(Task::kRegression)->sampler_weights().size(), 5u);
}

}  // namespace
}  // namespace cdl::data
