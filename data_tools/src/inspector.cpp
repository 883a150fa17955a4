// Inspection and validation.
#include "caps2h5/inspector.hpp"

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "caps2h5/h5_image_reader.hpp"
#include "cdl/core/bids_id.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/tsv_table.hpp"
#include "cdl/h5/container_format.hpp"

namespace cdl::data_tools {
namespace fs = std::filesystem;
namespace fmt = h5::format;
namespace {

std::string join_shape(const std::vector<int64_t>& shape) {
  std::string text;
  for (int64_t d : shape) text += (text.empty() ? "" : " x ") + std::to_string(d);
  return "[" + text + "]";
}

/// Containers named by `path`: itself, or the `path` column of a cohorts TSV.
std::vector<std::string> containers(const std::string& path) {
  if (path.size() < 4 || path.substr(path.size() - 4) != ".tsv") return {path};
  const TsvTable table = TsvTable::read(path);
  const int pc = table.column_index("path");
  std::vector<std::string> files;
  for (const auto& row : table.rows()) files.push_back(row[size_t(pc)]);
  return files;
}

void inspect_one(const std::string& path, std::map<std::string, int64_t>& per_cohort,
                 std::ostream& out) {
  const H5ImageReader reader(path);
  out << path << "\n  attributes:\n";
  for (const auto& name : reader.attribute_names()) {
    const bool is_int = name == fmt::kAttrFormatVersion;
    out << "    " << name << " = "
        << (is_int ? std::to_string(reader.int_attribute(name)) : reader.string_attribute(name))
        << "\n";
  }
  const auto shape = reader.shape(fmt::kImages);
  out << "  " << fmt::kImages << ": " << reader.dtype(fmt::kImages) << " " << join_shape(shape)
      << ", filters " << reader.filters(fmt::kImages) << "\n";
  for (const char* name : {fmt::kParticipantId, fmt::kSessionId}) {
    out << "  " << name << ": " << reader.dtype(name) << " " << join_shape(reader.shape(name))
        << "\n";
  }
  for (const auto& roi : reader.mask_names()) {
    const std::string name = std::string(fmt::kMasksGroup) + "/" + roi;
    out << "  " << name << ": " << reader.dtype(name) << " " << join_shape(reader.shape(name))
        << "\n";
  }
  const auto participants = reader.read_strings(fmt::kParticipantId);
  out << "  participants: "
      << std::set<std::string>(participants.begin(), participants.end()).size()
      << ", sessions: " << participants.size() << "\n";
  per_cohort[reader.string_attribute(fmt::kAttrCohort)] += shape.empty() ? 0 : shape[0];
}

void check_attributes(const H5ImageReader& r, std::vector<std::string>& problems) {
  if (!r.has_attribute(fmt::kAttrFormat) ||
      r.string_attribute(fmt::kAttrFormat) != fmt::kFormatName) {
    problems.push_back(std::string("root attribute 'format' is missing or not '") +
                       fmt::kFormatName + "'");
  } else if (!r.has_attribute(fmt::kAttrFormatVersion) ||
             r.int_attribute(fmt::kAttrFormatVersion) != fmt::kFormatVersion) {
    problems.push_back("format_version is not " + std::to_string(fmt::kFormatVersion) +
                       "; hint: regenerate the file with this version of caps2h5 convert");
  }
  for (const char* name :
       {fmt::kAttrPreprocessing, fmt::kAttrCohort, fmt::kAttrCreatedBy, fmt::kAttrSource}) {
    if (!r.has_attribute(name))
      problems.push_back(std::string("root attribute '") + name + "' is missing");
  }
  if (r.has_attribute(fmt::kAttrPreprocessing) &&
      !nlohmann::json::accept(r.string_attribute(fmt::kAttrPreprocessing))) {
    problems.push_back("root attribute 'preprocessing' is not valid JSON");
  }
}

/// Shapes of /images, the id datasets and the masks; returns N (or -1 if /images is unusable).
int64_t check_shapes(const H5ImageReader& r, std::vector<std::string>& problems) {
  if (!r.exists(fmt::kImages)) {
    problems.push_back(std::string("dataset ") + fmt::kImages + " is missing");
    return -1;
  }
  const auto shape = r.shape(fmt::kImages);
  const std::string dtype = r.dtype(fmt::kImages);
  if (shape.size() != 5)
    problems.push_back("/images has shape " + join_shape(shape) + ", expected [N, C, D, H, W]");
  if (dtype != "float32" && dtype != "float16")
    problems.push_back("/images has dtype " + dtype + ", expected float32 or float16");
  if (shape.size() != 5) return -1;
  const auto coverage = r.coverage(fmt::kImages);
  if (!coverage.complete()) {
    problems.push_back("/images: only " + std::to_string(coverage.written) + " of its " +
                       std::to_string(coverage.needed) +
                       " chunks were ever written (a conversion that did not finish?)");
  }
  for (const char* name : {fmt::kParticipantId, fmt::kSessionId}) {
    if (!r.exists(name)) {
      problems.push_back(std::string("dataset ") + name + " is missing");
    } else if (r.shape(name) != std::vector<int64_t>{shape[0]}) {
      problems.push_back(std::string(name) + " has shape " + join_shape(r.shape(name)) +
                         ", expected [" + std::to_string(shape[0]) + "]");
    }
  }
  const std::vector<int64_t> spatial{shape[2], shape[3], shape[4]};
  for (const auto& roi : r.mask_names()) {
    const std::string name = std::string(fmt::kMasksGroup) + "/" + roi;
    if (r.shape(name) != spatial || r.dtype(name) != "uint8") {
      problems.push_back(name + " is " + r.dtype(name) + " " + join_shape(r.shape(name)) +
                         ", expected uint8 " + join_shape(spatial));
    }
  }
  return shape[0];
}

void check_values(const H5ImageReader& r, int64_t n, const std::vector<std::string>& ids,
                  std::vector<std::string>& problems) {
  for (int64_t i = 0; i < n; ++i) {
    int64_t nan = 0, inf = 0;
    std::vector<float> image;
    try {
      image = r.read_image(i);
    } catch (const DataError& e) {  // e.g. a checksum mismatch: report it and check the others
      problems.push_back("image " + std::to_string(i) + " (" + ids[size_t(i)] + "): " + e.what());
      continue;
    }
    for (float v : image) {
      nan += std::isnan(v) ? 1 : 0;
      inf += std::isinf(v) ? 1 : 0;
    }
    if (nan + inf > 0) {
      problems.push_back("image " + std::to_string(i) + " (" + ids[size_t(i)] + ") has " +
                         std::to_string(nan) + " NaN and " + std::to_string(inf) + " Inf values");
    }
  }
}

/// Every (participant, session) of every TSV under `tsv_dir` must be in the file.
void check_split_tree(const std::string& tsv_dir, const std::string& cohort,
                      const std::set<std::string>& present, std::vector<std::string>& problems) {
  if (!fs::is_directory(tsv_dir)) {
    problems.push_back("--tsv_dir '" + tsv_dir + "' is not a directory");
    return;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(tsv_dir)) {
    if (e.is_regular_file() && e.path().extension() == ".tsv") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const TsvTable t = TsvTable::read(file.string());
    const int pc = (t.has_column("participant_id") ? t.column_index("participant_id") : -1),
              sc = (t.has_column("session_id") ? t.column_index("session_id") : -1);
    const int cc = (t.has_column("cohort") ? t.column_index("cohort") : -1);
    if (pc < 0 || sc < 0) continue;
    for (size_t row = 0; row < t.rows().size(); ++row) {
      const auto& cells = t.rows()[row];
      if (cc >= 0 && cells[size_t(cc)] != cohort) continue;
      const std::string id = cells[size_t(pc)] + " " + cells[size_t(sc)];
      if (present.count(id) == 0) {
        problems.push_back(file.string() + " line " + std::to_string(row + 2) + ": " + id +
                           " is not in the file");
      }
    }
  }
}

}  // namespace

void inspect(const std::string& path, std::ostream& out) {
  std::map<std::string, int64_t> per_cohort;
  for (const auto& file : containers(path)) inspect_one(file, per_cohort, out);
  out << "images per cohort:";
  for (const auto& [cohort, count] : per_cohort) out << " " << cohort << "=" << count;
  out << "\n";
}

std::vector<std::string> validate(const std::string& path, const std::string& tsv_dir) {
  std::vector<std::string> problems;
  try {
    const H5ImageReader r(path);
    check_attributes(r, problems);
    const int64_t n = check_shapes(r, problems);
    if (n < 0 || !r.exists(fmt::kParticipantId) || !r.exists(fmt::kSessionId)) return problems;
    const auto participants = r.read_strings(fmt::kParticipantId);
    const auto sessions = r.read_strings(fmt::kSessionId);
    std::vector<std::string> ids;
    std::set<std::string> present;
    for (size_t i = 0; i < participants.size() && i < sessions.size(); ++i) {
      const auto problem = session_ids_problem(participants[i], sessions[i]);
      if (!problem.empty()) problems.push_back("index " + std::to_string(i) + ": " + problem);
      ids.push_back(participants[i] + " " + sessions[i]);
      if (!present.insert(ids.back()).second) {
        problems.push_back("duplicate (participant_id, session_id) at index " + std::to_string(i) +
                           ": " + ids.back());
      }
    }
    if (int64_t(ids.size()) == n) check_values(r, n, ids, problems);
    if (!tsv_dir.empty()) {
      const std::string cohort =
          r.has_attribute(fmt::kAttrCohort) ? r.string_attribute(fmt::kAttrCohort) : "single";
      check_split_tree(tsv_dir, cohort, present, problems);
    }
  } catch (const Error& e) {
    problems.emplace_back(e.what());
  }
  return problems;
}

}  // namespace cdl::data_tools
