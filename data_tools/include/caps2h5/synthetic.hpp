// `caps2h5 synthetic`: a small but real CAPS whose AD and CN images differ in a learnable way.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace cdl::data_tools {

/// Options of `caps2h5 synthetic`.
struct SyntheticOptions {
  std::string output_dir;
  int subjects = 10;
  int sessions = 1;                            ///< ses-M000, ses-M006, ...
  std::array<int64_t, 3> size{169, 208, 179};  ///< D x H x W (NIfTI X x Y x Z)
  uint64_t seed = 0;
  int threads = 0;  ///< 0 = automatic
  bool overwrite = false;
};

/// Writes <output_dir>/subjects/sub-XXX/ses-MYYY/t1_linear/*_T1w.nii.gz (t1-linear cropped
/// naming), <output_dir>/labels.tsv (participant_id, session_id, diagnosis, age, sex) and
/// left/right hippocampus box masks under masks/tpl-MNI152NLin2009cSym/. AD images have darker
/// hippocampi and larger ventricles; atrophy also grows with age. Deterministic for a seed.
/// Throws ConfigError on bad options or an existing non-empty output without `overwrite`.
void make_synthetic_caps(const SyntheticOptions& options);

/// Parses "DxHxW" (e.g. "169x208x179"); throws ConfigError naming the value otherwise.
std::array<int64_t, 3> parse_size(const std::string& text);

}  // namespace cdl::data_tools
