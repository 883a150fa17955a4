// ClinicaDL's preprocessing description (reference 6.1-6.2): which NIfTI files to pick in a CAPS
// and the preprocessing dict stored with the images.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cdl::data_tools {

/// The `--preprocessing` family of options of `caps2h5 convert`.
struct PreprocessingOptions {
  std::string preprocessing = "t1-linear";  ///< t1-linear | pet-linear | custom
  bool use_uncropped_image = false;
  std::string tracer;                 ///< pet-linear only
  std::string suvr_reference_region;  ///< pet-linear only
  std::string custom_suffix;          ///< custom only

  /// Throws ConfigError listing every invalid or missing option at once.
  void validate() const;
  /// ClinicaDL's `file_type` dict: {pattern, description, needed_pipeline}.
  nlohmann::ordered_json file_type() const;
  /// ClinicaDL's preprocessing dict for image mode (stored as the `preprocessing` attribute).
  nlohmann::ordered_json preprocessing_dict() const;
  /// File name glob (may contain one directory part, e.g. "pet_linear/*_pet.nii.gz").
  std::string pattern() const;
  /// Folder under deeplearning_prepare_data/image_based/ (t1_linear, pet_linear, custom).
  std::string modality_folder() const;
  /// Template folder name for ROI masks, empty when masks do not apply (custom).
  std::string mask_template() const;
};

}  // namespace cdl::data_tools
