// File patterns and preprocessing dicts as ClinicaDL 1.6 writes them.
#include "caps2h5/preprocessing.hpp"

#include <set>
#include <vector>

#include "cdl/core/error.hpp"

namespace cdl::data_tools {
namespace {
const char* const kMni = "MNI152NLin2009cSym";
}

void PreprocessingOptions::validate() const {
  std::vector<std::string> problems;
  if (preprocessing != "t1-linear" && preprocessing != "pet-linear" && preprocessing != "custom") {
    problems.push_back("--preprocessing '" + preprocessing +
                       "' is not supported; expected t1-linear, pet-linear or custom");
  }
  if (preprocessing == "pet-linear" && tracer.empty()) {
    problems.push_back("--tracer is required with --preprocessing pet-linear (e.g. 18FFDG)");
  }
  static const std::set<std::string> regions{"pons", "cerebellumPons", "pons2", "cerebellumPons2"};
  if (preprocessing == "pet-linear" && regions.count(suvr_reference_region) == 0) {
    problems.push_back("--suvr_reference_region '" + suvr_reference_region +
                       "' is invalid with pet-linear; expected pons, cerebellumPons, pons2 or "
                       "cerebellumPons2");
  }
  if (preprocessing == "custom" && custom_suffix.empty()) {
    problems.push_back(
        "--custom_suffix is required with --preprocessing custom "
        "(e.g. graymatter_space-Ixi549Space_modulated-off_probability.nii.gz)");
  }
  if (problems.empty()) return;
  std::string message = "invalid preprocessing options:";
  for (const auto& p : problems) message += "\n  - " + p;
  throw ConfigError(message);
}

std::string PreprocessingOptions::pattern() const {
  const std::string crop = use_uncropped_image ? "" : "_desc-Crop";
  if (preprocessing == "t1-linear") {
    return std::string("*space-") + kMni + crop + "_res-1x1x1_T1w.nii.gz";
  }
  if (preprocessing == "pet-linear") {
    return "pet_linear/*_trc-" + tracer + "_space-" + kMni + crop + "_res-1x1x1_suvr-" +
           suvr_reference_region + "_pet.nii.gz";
  }
  return "*" + custom_suffix;
}

nlohmann::ordered_json PreprocessingOptions::file_type() const {
  std::string description = "Custom suffix";
  if (preprocessing == "t1-linear") {
    description = use_uncropped_image
                      ? "T1W Image registered using t1-linear"
                      : "T1W Image registered using t1-linear and cropped (matrix size "
                        "169\u00d7208\u00d7179, 1 mm isotropic voxels)";
  } else if (preprocessing == "pet-linear") {
    description = "";
  }
  return {{"pattern", pattern()}, {"description", description}, {"needed_pipeline", preprocessing}};
}

nlohmann::ordered_json PreprocessingOptions::preprocessing_dict() const {
  nlohmann::ordered_json dict = {{"preprocessing", preprocessing},
                                 {"mode", "image"},
                                 {"use_uncropped_image", use_uncropped_image},
                                 {"prepare_dl", false},
                                 {"extract_json", "extract_caps2h5.json"},
                                 {"file_type", file_type()}};
  if (preprocessing == "pet-linear") {
    dict["tracer"] = tracer;
    dict["suvr_reference_region"] = suvr_reference_region;
  } else if (preprocessing == "custom") {
    dict["use_uncropped_image"] = nullptr;
    dict["custom_suffix"] = custom_suffix;
  }
  return dict;
}

std::string PreprocessingOptions::modality_folder() const {
  if (preprocessing == "t1-linear") return "t1_linear";
  if (preprocessing == "pet-linear") return "pet_linear";
  return "custom";
}

std::string PreprocessingOptions::mask_template() const {
  return preprocessing == "custom" ? "" : kMni;
}

}  // namespace cdl::data_tools
