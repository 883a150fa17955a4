// Finds the images (and ROI masks) of a CAPS folder with ClinicaDL's file name patterns.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "caps2h5/preprocessing.hpp"
#include "cdl/core/tsv_table.hpp"

namespace cdl::data_tools {

/// One image to convert.
struct ImageEntry {
  std::string cohort;
  std::string participant_id;
  std::string session_id;
  std::string path;
};

/// What to look for in one CAPS.
struct ScanRequest {
  std::string caps_dir;
  std::string cohort = "single";
  PreprocessingOptions preprocessing;
  bool from_tensors = false;           ///< read deeplearning_prepare_data/image_based/*.pt
  const TsvTable* sessions = nullptr;  ///< optional (participant_id, session_id[, cohort]) filter
};

/// Images found, and every problem met (missing files, ambiguous matches), never thrown.
struct ScanResult {
  std::vector<ImageEntry> images;
  std::vector<std::string> problems;
};

/// Lists the images of `request` in TSV order (or sorted participant/session order without TSV).
/// Problems are collected so that all of them can be reported at once.
ScanResult scan_caps(const ScanRequest& request);

/// ROI masks of the CAPS (reference 6.3): roi name -> file, for the cropped or uncropped space
/// of `preprocessing`; empty when the masks folder is absent or masks do not apply.
std::map<std::string, std::string> find_masks(const std::string& caps_dir,
                                              const PreprocessingOptions& preprocessing);

}  // namespace cdl::data_tools
