// CapsDataset: the samples of one set (a split table over the image stores): labels, mode, parts,
// NaN removal and MinMax normalisation, with an in-memory image cache. Named after ClinicaDL's.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cdl/core/tsv_table.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/image_cache.hpp"
#include "cdl/data/label_code.hpp"
#include "cdl/data/part_extractor.hpp"

namespace cdl::data {

/// Options of a CapsDataset.
struct DatasetOptions {
  Task task = Task::kClassification;
  std::string label_column;  ///< "" = default_label_column(task)
  LabelCode label_code;      ///< classification; empty = LabelCode::from_table(this table)
  ModeConfig mode;           ///< image / patch / slice / roi options
  bool normalize = true;     ///< MinMax per sample (per part outside image mode; reference 4.13)
  bool transform = true;     ///< NaN removal + MinMax here; false: raw samples (done on a GPU)
  int64_t fixed_part = -1;   ///< >= 0 (multi-network): one sample per image, this part
  int64_t cache_bytes = 0;   ///< image cache budget in bytes (0 = no cache)
  bool no_labels = false;    ///< predict --no_labels: labels not read, every label is -1
  /// 2..5: ClinicaDL's SizeReduction of each image after MinMax (image mode); 0: none.
  int64_t size_reduction_factor = 0;
};

/// Identity of one sample, carried through batches to the prediction TSVs.
struct SampleMeta {
  std::string participant_id;
  std::string session_id;
  std::string cohort;
  int64_t part_id = 0;       ///< the `<mode>_id` value (absolute slice index in slice mode)
  int64_t image_index = 0;   ///< row of the set's table
  int64_t sample_index = 0;  ///< dataset index = image_index * parts_per_image + part
};

/// One sample: input [C, ...] float32, label (int64 scalar | float32 [1] | undefined for
/// reconstruction) and identity.
struct Sample {
  torch::Tensor input;
  torch::Tensor label;
  SampleMeta meta;
};

/// The samples of one table. Thread-safe for concurrent get() (HDF5 reads are serialised).
class CapsDataset {
 public:
  /// Resolves every row (cohort, participant_id, session_id) to an image of `source` and reads
  /// every label. Throws DataError listing sessions absent from the stores, ConfigError for
  /// missing/invalid labels (naming file, line and column) or a mode that does not fit the images.
  CapsDataset(std::shared_ptr<const DataSource> source, TsvTable table, DatasetOptions options);

  /// Number of images (table rows).
  int64_t num_images() const { return table_.num_rows(); }
  /// Samples per image (1 when fixed_part is set).
  int64_t parts_per_image() const;
  /// Number of samples = num_images() * parts_per_image().
  int64_t size() const { return num_images() * parts_per_image(); }
  /// Sample `index` (0 <= index < size()), normalised if requested.
  Sample get(int64_t index) const;
  /// Like get(), but writes the input into `out` (float32 of shape input_shape_of(index), e.g. a
  /// slot of a batch tensor) instead of allocating; the returned sample's input is `out`.
  Sample get_into(int64_t index, torch::Tensor out) const;
  /// Shape of the input of sample `index` (differs from input_shape() only for cropped ROIs).
  std::vector<int64_t> input_shape_of(int64_t index) const;
  /// Identity of sample `index` without reading the image.
  SampleMeta meta(int64_t index) const;
  /// Image `image_index` as float32 [C, D, H, W], through the cache.
  torch::Tensor load_image(int64_t image_index) const;

  /// The table (with its cohort column).
  const TsvTable& table() const { return table_; }
  /// The options (label_code filled in for classification).
  const DatasetOptions& options() const { return options_; }
  /// The task.
  Task task() const { return options_.task; }
  /// The label code (classification; empty otherwise).
  const LabelCode& label_code() const { return options_.label_code; }
  /// Class code of every image (classification; all -1 with no_labels; empty otherwise).
  const std::vector<int64_t>& class_codes() const { return codes_; }
  /// Float target of every image (regression; all -1 with no_labels; empty otherwise).
  const std::vector<float>& targets() const { return targets_; }
  /// Weights for the weighted sampler: class balance (classification) or 5 regression bins.
  /// Throws ConfigError for reconstruction (ClinicaDL allows only "random" there).
  std::vector<double> sampler_weights() const;
  /// The part extractor (part shapes and ids).
  const PartExtractor& extractor() const { return *extractor_; }
  /// Shape of one input sample {C, ...} (the network's input_size), after any size reduction.
  std::vector<int64_t> input_shape() const;
  /// The image cache.
  const ImageCache& cache() const { return cache_; }

 private:
  void check_ids() const;  // participant and session ids are BIDS labels (they become paths)
  void resolve_rows();
  void read_labels();
  std::map<std::string, torch::Tensor> read_masks() const;
  torch::Tensor read_uncached(int64_t image_index) const;

  std::shared_ptr<const DataSource> source_;
  TsvTable table_;
  DatasetOptions options_;
  std::vector<const ImageStore*> stores_;  // per row
  std::vector<int64_t> store_rows_;        // per row
  std::vector<int64_t> codes_;
  std::vector<float> targets_;
  std::unique_ptr<PartExtractor> extractor_;
  mutable ImageCache cache_;
  mutable std::atomic<bool> warned_nan_{false};
  // The last image read, so consecutive parts of one image (patch/slice/roi evaluation order)
  // are read once even without the cache.
  mutable std::mutex last_mutex_;
  mutable int64_t last_index_ = -1;
  mutable torch::Tensor last_image_;
};

}  // namespace cdl::data
