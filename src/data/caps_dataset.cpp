// Implementation of CapsDataset: row resolution, labels, part extraction, transforms, cache.
#include "cdl/data/caps_dataset.hpp"

#include "cdl/core/bids_id.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/problems.hpp"
#include "cdl/data/shard_plan.hpp"
#include "cdl/data/transforms.hpp"

namespace cdl::data {

CapsDataset::CapsDataset(std::shared_ptr<const DataSource> source, TsvTable table,
                         DatasetOptions options)
    : source_(std::move(source)),
      table_(std::move(table)),
      options_(std::move(options)),
      cache_(options_.cache_bytes) {
  if (options_.label_column.empty()) options_.label_column = default_label_column(options_.task);
  table_.require_columns({"participant_id", "session_id"});
  if (!table_.has_column("cohort")) table_.set_column("cohort", kSingleCohort);
  check_ids();
  resolve_rows();
  read_labels();
  extractor_ =
      std::make_unique<PartExtractor>(options_.mode, source_->sample_shape(), read_masks());
  if (options_.size_reduction_factor != 0) {
    if (options_.mode.mode != Mode::kImage) {
      CDL_THROW(ConfigError,
                "--size_reduction applies to whole images (--mode image), as "
                "ClinicaDL's windows are those of t1-linear images; --mode is ",
                mode_name(options_.mode.mode));
    }
    reduced_shape(extractor_->part_shape(), options_.size_reduction_factor);  // fits the images
  }
  const int64_t parts = extractor_->parts_per_image();
  if (options_.fixed_part >= parts) {
    CDL_THROW(ConfigError, "network/part ", options_.fixed_part, " requested but the ",
              mode_name(options_.mode.mode), " mode gives ", parts, " parts per image");
  }
}

void CapsDataset::check_ids() const {
  std::vector<std::string> problems;
  for (int64_t r = 0; r < table_.num_rows() && problems.size() < 5; ++r) {
    const auto problem =
        session_ids_problem(table_.at(r, "participant_id"), table_.at(r, "session_id"));
    if (!problem.empty()) problems.push_back(table_.location(r) + ": " + problem);
  }
  throw_if_problems<DataError>(problems, "", " with the ids of TSV '" + table_.source() + "'");
}

void CapsDataset::resolve_rows() {
  std::string missing;
  int64_t n_missing = 0;
  for (int64_t r = 0; r < table_.num_rows(); ++r) {
    const ImageStore* store = source_->store(table_.at(r, "cohort")).get();
    const int64_t row = store->find(table_.at(r, "participant_id"), table_.at(r, "session_id"));
    if (row < 0 && n_missing++ < 5) {
      missing += "\n  " + table_.at(r, "participant_id") + " " + table_.at(r, "session_id") + " (" +
                 table_.location(r) + ", image file " + store->path() + ")";
    }
    stores_.push_back(store);
    store_rows_.push_back(row);
  }
  if (n_missing > 0) {
    CDL_THROW(DataError, n_missing, " session(s) of TSV '", table_.source(),
              "' have no image in the HDF5 file(s), e.g.:", missing,
              "\nhint: convert them with `caps2h5 convert` (same TSV) or remove them from the TSV");
  }
}

void CapsDataset::read_labels() {
  const std::string& column = options_.label_column;
  if (options_.no_labels) {
    if (options_.task == Task::kClassification) codes_.assign(table_.num_rows(), -1);
    if (options_.task == Task::kRegression) targets_.assign(table_.num_rows(), -1.0f);
  } else if (options_.task == Task::kClassification) {
    if (options_.label_code.empty()) options_.label_code = LabelCode::from_table(table_, column);
    codes_ = encode_column(table_, column, options_.label_code);
  } else if (options_.task == Task::kRegression) {
    targets_ = read_float_column(table_, column);
  }
}

std::map<std::string, torch::Tensor> CapsDataset::read_masks() const {
  std::map<std::string, torch::Tensor> masks;
  if (options_.mode.mode != Mode::kRoi) return masks;
  for (const auto& name : options_.mode.roi_list) masks[name] = source_->first()->read_mask(name);
  return masks;
}

int64_t CapsDataset::parts_per_image() const {
  return options_.fixed_part >= 0 ? 1 : extractor_->parts_per_image();
}

SampleMeta CapsDataset::meta(int64_t index) const {
  CDL_CHECK(index >= 0 && index < size(), "sample ", index, " outside [0, ", size(), ")");
  SampleMeta m;
  m.image_index = index / parts_per_image();
  const int64_t part = options_.fixed_part >= 0 ? options_.fixed_part : index % parts_per_image();
  m.part_id = extractor_->part_id(part);
  m.sample_index = index;
  m.participant_id = table_.at(m.image_index, "participant_id");
  m.session_id = table_.at(m.image_index, "session_id");
  m.cohort = table_.at(m.image_index, "cohort");
  return m;
}

torch::Tensor CapsDataset::load_image(int64_t image_index) const {
  torch::Tensor image = cache_.budget() > 0 ? cache_.get(image_index) : torch::Tensor();
  if (!image.defined()) image = read_uncached(image_index);
  return image.scalar_type() == torch::kFloat ? image : image.to(torch::kFloat);
}

torch::Tensor CapsDataset::read_uncached(int64_t image_index) const {
  {
    std::lock_guard<std::mutex> lock(last_mutex_);
    if (image_index == last_index_) return last_image_;
  }
  torch::Tensor image = stores_.at(image_index)->read_stored(store_rows_.at(image_index));
  if (cache_.budget() > 0) cache_.put(image_index, image);
  std::lock_guard<std::mutex> lock(last_mutex_);
  last_index_ = image_index;
  last_image_ = image;
  return image;
}

std::vector<int64_t> CapsDataset::input_shape() const {
  const auto shape = extractor_->part_shape();
  const int64_t factor = options_.size_reduction_factor;
  return factor != 0 ? reduced_shape(shape, factor) : shape;
}

std::vector<int64_t> CapsDataset::input_shape_of(int64_t index) const {
  const int64_t part = options_.fixed_part >= 0 ? options_.fixed_part : index % parts_per_image();
  const auto shape = extractor_->part_shape_of(part);
  const int64_t factor = options_.size_reduction_factor;
  return factor != 0 ? reduced_shape(shape, factor) : shape;
}

Sample CapsDataset::get(int64_t index) const {
  return get_into(index, torch::empty(input_shape_of(index), torch::kFloat));
}

Sample CapsDataset::get_into(int64_t index, torch::Tensor out) const {
  Sample sample;
  sample.meta = meta(index);
  const int64_t part = options_.fixed_part >= 0 ? options_.fixed_part : index % parts_per_image();
  const torch::Tensor x = extractor_->extract(load_image(sample.meta.image_index), part);
  bool had_nan = false;
  if (options_.size_reduction_factor != 0) {
    // MinMax over the whole image, then the windows (ClinicaDL's order); always on the host.
    torch::Tensor whole = torch::empty(x.sizes(), torch::kFloat);
    had_nan = transform_into(x, options_.normalize, whole);
    out.copy_(reduce_size(whole, options_.size_reduction_factor));
  } else if (!options_.transform) {
    out.copy_(x);
  } else {
    had_nan = transform_into(x, options_.normalize, out);
  }
  if (had_nan && !warned_nan_.exchange(true)) {
    log::warn("image ", sample.meta.participant_id, " ", sample.meta.session_id,
              " contains NaN or infinite values: NaN -> 0, +/-inf -> float limits",
              " (warned once per set)");
  }
  sample.input = out;
  if (options_.task == Task::kClassification) {
    sample.label = torch::tensor(codes_[sample.meta.image_index], torch::kLong);
  } else if (options_.task == Task::kRegression) {
    sample.label = torch::tensor({targets_[sample.meta.image_index]}, torch::kFloat);
  }
  return sample;
}

std::vector<double> CapsDataset::sampler_weights() const {
  if (options_.no_labels) {
    CDL_THROW(ConfigError, "the weighted sampler needs labels but no_labels is set",
              "\nhint: use --sampler random");
  }
  if (options_.task == Task::kClassification) return class_balance_weights(codes_);
  if (options_.task == Task::kRegression) return regression_bin_weights(targets_, 5);
  CDL_THROW(ConfigError, "the weighted sampler needs labels but the task is reconstruction",
            "\nhint: use --sampler random");
}

}  // namespace cdl::data
