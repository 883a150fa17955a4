// The DATA argument of `clinicadl-hpc train`: one .h5 container (cohort "single") or, multi-cohort,
// a TSV with columns `cohort` and `path` naming one .h5 per cohort.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cdl/data/image_store.hpp"

namespace cdl::data {

/// Cohort name given to the rows and the store of a single-cohort run (ClinicaDL's "single").
inline constexpr const char* kSingleCohort = "single";

/// The image stores of a run, keyed by cohort name, in the order they were listed.
class DataSource {
 public:
  /// Opens `data_path`: a `.tsv` (multi-cohort: columns cohort, path; relative paths are tried
  /// against the working directory, then the TSV's folder) or one `.h5` (cohort "single").
  /// Throws ConfigError for a malformed TSV, DataError for unreadable or mismatching stores
  /// (all stores must have the same sample shape).
  static DataSource open(const std::string& data_path);
  /// A source over stores already opened, in cohort order.
  explicit DataSource(std::vector<std::pair<std::string, std::shared_ptr<ImageStore>>> stores,
                      bool multi_cohort);

  /// True when DATA was a cohort TSV.
  bool multi_cohort() const { return multi_cohort_; }
  /// Cohort names in listing order.
  std::vector<std::string> cohorts() const;
  /// The store of `cohort`; throws ConfigError naming the cohort and the cohorts known.
  const std::shared_ptr<ImageStore>& store(const std::string& cohort) const;
  /// The first store (ClinicaDL takes ROI masks and the part count from the first cohort).
  const std::shared_ptr<ImageStore>& first() const { return stores_.front().second; }
  /// Sample shape {C, D, H, W} shared by all stores.
  const std::vector<int64_t>& sample_shape() const { return first()->sample_shape(); }

 private:
  std::vector<std::pair<std::string, std::shared_ptr<ImageStore>>> stores_;
  bool multi_cohort_ = false;
};

}  // namespace cdl::data
