// CAPS traversal: subjects/<participant>/<session>/**/<pattern>, case-insensitive like ClinicaDL.
#include "caps2h5/caps_scanner.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "cdl/core/bids_id.hpp"
#include "cdl/core/error.hpp"

namespace cdl::data_tools {
namespace fs = std::filesystem;
namespace {

/// Sorted names of the sub-directories of `dir` starting with `prefix`.
std::vector<std::string> list_dirs(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// True when `path` (relative to the session folder) matches `pattern`, ignoring case; a
/// directory part of the pattern must match the file's parent folder(s).
bool matches(const fs::path& relative, const std::string& pattern) {
  const fs::path pat(pattern);
  if (fnmatch(pat.filename().c_str(), relative.filename().c_str(), FNM_CASEFOLD) != 0) return false;
  if (!pat.has_parent_path()) return true;
  const std::string parent = relative.parent_path().string();
  const std::string wanted = pat.parent_path().string();
  return fnmatch(("*" + wanted).c_str(), parent.c_str(), FNM_CASEFOLD) == 0;
}

/// All files under `root` matching `pattern`, sorted.
std::vector<std::string> find_files(const fs::path& root, const std::string& pattern) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (matches(fs::relative(it->path(), root), pattern)) found.push_back(it->path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

/// ClinicaDL's rule: several runs -> the latest run; any other multiple match is an error.
std::string pick_one(const std::vector<std::string>& files, std::string* problem) {
  if (files.size() == 1) return files[0];
  const bool all_runs = std::all_of(files.begin(), files.end(), [](const std::string& f) {
    return fs::path(f).filename().string().find("_run-") != std::string::npos;
  });
  if (all_runs) return files.back();  // sorted: the highest run number comes last
  *problem = "several files match: ";
  for (const auto& f : files) *problem += "'" + f + "' ";
  return "";
}

/// Adds a problem per id of `pairs` that is not a BIDS label: ids become CAPS paths, and one
/// such as "../../x" would read outside the CAPS folder.
void check_ids(const std::vector<std::pair<std::string, std::string>>& pairs,
               const std::string& origin, std::vector<std::string>* problems) {
  for (const auto& [participant, session] : pairs) {
    const auto problem = session_ids_problem(participant, session);
    if (!problem.empty()) problems->push_back(origin + ": " + problem);
  }
}

/// (participant, session) pairs to convert: from the TSV, or every session folder.
std::vector<std::pair<std::string, std::string>> wanted_sessions(
    const ScanRequest& request, std::vector<std::string>* problems) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (request.sessions == nullptr) {
    const fs::path subjects = fs::path(request.caps_dir) / "subjects";
    if (!fs::is_directory(subjects)) {
      problems->push_back("'" + subjects.string() + "' is not a directory: not a CAPS folder");
    }
    for (const auto& p : list_dirs(subjects, "sub-")) {
      for (const auto& s : list_dirs(subjects / p, "ses-")) pairs.emplace_back(p, s);
    }
    check_ids(pairs, "folder", problems);
    return pairs;
  }
  const TsvTable& tsv = *request.sessions;
  const int pc = tsv.column_index("participant_id");
  const int sc = tsv.column_index("session_id");
  const int cc = (tsv.has_column("cohort") ? tsv.column_index("cohort") : -1);
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t r = 0; r < tsv.rows().size(); ++r) {
    const auto& row = tsv.rows()[r];
    if (cc >= 0 && row[size_t(cc)] != request.cohort) continue;
    std::pair<std::string, std::string> key{row[size_t(pc)], row[size_t(sc)]};
    if (!seen.insert(key).second) {
      problems->push_back("'" + tsv.source() + "' row " + std::to_string(r + 2) + ": duplicate (" +
                          key.first + ", " + key.second + ")");
      continue;
    }
    pairs.push_back(key);
  }
  check_ids(pairs, "'" + tsv.source() + "'", problems);
  return pairs;
}

}  // namespace

ScanResult scan_caps(const ScanRequest& request) {
  ScanResult result;
  const auto pairs = wanted_sessions(request, &result.problems);
  std::string pattern = request.preprocessing.pattern();
  std::string sub_folder;
  if (request.from_tensors) {
    pattern = fs::path(pattern).filename().string();
    const auto dot = pattern.find(".nii");
    pattern = (dot == std::string::npos ? pattern : pattern.substr(0, dot)) + ".pt";
    sub_folder = "deeplearning_prepare_data/image_based/" + request.preprocessing.modality_folder();
  }
  for (const auto& [participant, session] : pairs) {
    const fs::path root =
        fs::path(request.caps_dir) / "subjects" / participant / session / sub_folder;
    const std::vector<std::string> files = find_files(root, pattern);
    const std::string where = "[" + request.cohort + "] " + participant + " " + session;
    if (files.empty()) {
      result.problems.push_back(where + ": no file matching '" + pattern + "' under '" +
                                root.string() + "'");
      continue;
    }
    std::string problem;
    const std::string path = pick_one(files, &problem);
    if (!problem.empty()) {
      result.problems.push_back(where + ": " + problem);
      continue;
    }
    result.images.push_back({request.cohort, participant, session, path});
  }
  return result;
}

std::map<std::string, std::string> find_masks(const std::string& caps_dir,
                                              const PreprocessingOptions& preprocessing) {
  std::map<std::string, std::string> masks;
  const std::string tpl = preprocessing.mask_template();
  if (tpl.empty()) return masks;
  const fs::path dir = fs::path(caps_dir) / "masks" / ("tpl-" + tpl);
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (fnmatch("*res-1x1x1*_roi-*_mask.nii*", name.c_str(), 0) != 0) continue;
    const bool cropped = name.find("_desc-Crop_") != std::string::npos;
    if (cropped == preprocessing.use_uncropped_image) continue;
    files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  for (const auto& name : files) {
    const size_t start = name.rfind("_roi-") + 5;
    const std::string roi = name.substr(start, name.rfind("_mask") - start);
    masks.emplace(roi, (dir / name).string());  // emplace keeps the smallest name per ROI
  }
  return masks;
}

}  // namespace cdl::data_tools
