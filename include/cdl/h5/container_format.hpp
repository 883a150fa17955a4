// The on-disk HDF5 container of clinicadl-hpc (format version 1): dataset paths, attribute names
// and the version, shared by the writer (caps2h5) and the reader (the trainer), so the two can
// never drift. The full specification is in data_tools/README.md.
#pragma once

namespace cdl::h5::format {

/// Value of the root attribute `format`.
inline constexpr const char* kFormatName = "clinicadl-hpc";
/// Value of the root attribute `format_version`; bump on any incompatible change.
inline constexpr int kFormatVersion = 1;

// Root attributes.
inline constexpr const char* kAttrFormat = "format";                 ///< string
inline constexpr const char* kAttrFormatVersion = "format_version";  ///< int32
inline constexpr const char* kAttrPreprocessing = "preprocessing";   ///< JSON string
inline constexpr const char* kAttrCohort = "cohort";                 ///< string
inline constexpr const char* kAttrCreatedBy = "created_by";          ///< string, tool + version
inline constexpr const char* kAttrSource = "source";                 ///< string, CAPS path

// Datasets.
/// float32 or float16 [N, C, D, H, W], chunked one image per chunk.
inline constexpr const char* kImages = "/images";
/// Variable-length UTF-8 strings [N], e.g. "sub-001".
inline constexpr const char* kParticipantId = "/participant_id";
/// Variable-length UTF-8 strings [N], e.g. "ses-M000".
inline constexpr const char* kSessionId = "/session_id";
/// Group of uint8 [D, H, W] ROI masks, one dataset per ROI name (roi mode).
inline constexpr const char* kMasksGroup = "/masks";

}  // namespace cdl::h5::format
