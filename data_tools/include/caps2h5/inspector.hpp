// `caps2h5 inspect` and `caps2h5 validate` of HDF5 containers.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace cdl::data_tools {

/// Prints attributes, dataset shapes, dtypes, filters, masks and counts per cohort of a
/// container, or of every container listed in a (cohort, path) TSV.
void inspect(const std::string& path, std::ostream& out);

/// Checks format name/version, attributes, shapes, NaN/Inf, duplicate (participant, session)
/// pairs and, when `tsv_dir` is given, that every session listed in its TSV files is present.
/// Returns every problem found (empty = valid); never throws for a bad file.
std::vector<std::string> validate(const std::string& path, const std::string& tsv_dir = "");

}  // namespace cdl::data_tools
