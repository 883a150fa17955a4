// `caps2h5 convert`: CAPS (or a cohorts TSV) -> HDF5 container(s).
#pragma once

#include <string>
#include <vector>

#include "caps2h5/caps_scanner.hpp"
#include "caps2h5/image_transport.hpp"
#include "caps2h5/preprocessing.hpp"

namespace cdl::data_tools {

/// Options of `caps2h5 convert`.
struct ConvertOptions {
  std::string input;   ///< CAPS folder, or TSV with columns cohort, path
  std::string output;  ///< OUT.h5 (multi-cohort: OUT_<cohort>.h5 + OUT.tsv)
  PreprocessingOptions preprocessing;
  std::string sessions_tsv;   ///< optional participant_id/session_id filter
  bool from_tensors = false;  ///< read image_based/*.pt instead of NIfTI
  bool float16 = false;
  int compression = 0;  ///< 0-9
  int threads = 0;      ///< decoding threads per rank; 0 = automatic
  bool overwrite = false;
  bool progress = true;
};

/// What a conversion did (filled on rank 0).
struct ConvertSummary {
  int64_t images = 0;
  double bytes = 0.0;  ///< float32 bytes of image data
  double seconds = 0.0;
  std::vector<std::string> outputs;
  std::string line;  ///< the printed summary
};

/// One cohort's conversion job.
struct CohortJob {
  std::string cohort;
  std::string caps_dir;
  std::string output;
  std::vector<ImageEntry> images;
};

/// Runs the whole conversion. Collective over `transport`: every rank scans the CAPS the same
/// way, decodes its share (image i goes to rank i % size) and rank 0 writes. Throws ConfigError
/// (bad options, existing output) or DataError (missing/unreadable files, shape mismatch); on
/// failure no output and no .tmp file remain.
ConvertSummary convert(const ConvertOptions& options, ImageTransport& transport);

/// Same, for jobs already planned by plan_conversion() (collective, like the above).
ConvertSummary convert(const ConvertOptions& options, const std::vector<CohortJob>& jobs,
                       ImageTransport& transport);

/// Checks the options and lists the jobs (cohorts, files) without writing anything; every
/// missing file of every cohort is reported in one DataError.
std::vector<CohortJob> plan_conversion(const ConvertOptions& options);

}  // namespace cdl::data_tools
