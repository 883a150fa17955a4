// Implementation of DataSource: single .h5 or cohort TSV of .h5 containers.
#include "cdl/data/data_source.hpp"

#include <filesystem>

#include "cdl/core/error.hpp"
#include "cdl/core/input_size.hpp"
#include "cdl/core/tsv_table.hpp"

namespace cdl::data {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Resolves a path listed in a TSV: as given if it exists, else relative to the TSV's folder.
std::string resolve_listed_path(const std::string& listed, const std::string& tsv_path) {
  const fs::path p(listed);
  if (p.is_absolute() || fs::exists(p)) return listed;
  const fs::path beside = fs::path(tsv_path).parent_path() / p;
  return fs::exists(beside) ? beside.string() : listed;
}

}  // namespace

DataSource DataSource::open(const std::string& data_path) {
  if (!ends_with(data_path, ".tsv")) {
    return DataSource({{kSingleCohort, std::make_shared<ImageStore>(data_path)}}, false);
  }
  const TsvTable table = TsvTable::read(data_path);
  table.require_columns({"cohort", "path"});
  std::vector<std::pair<std::string, std::shared_ptr<ImageStore>>> stores;
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    const std::string path = resolve_listed_path(table.at(r, "path"), data_path);
    stores.emplace_back(table.at(r, "cohort"), std::make_shared<ImageStore>(path));
  }
  if (stores.empty()) {
    CDL_THROW(ConfigError, "cohort TSV '", data_path, "' lists no cohort; expected one row per ",
              "cohort with columns cohort, path (path = the cohort's .h5 file)");
  }
  return DataSource(std::move(stores), true);
}

DataSource::DataSource(std::vector<std::pair<std::string, std::shared_ptr<ImageStore>>> stores,
                       bool multi_cohort)
    : stores_(std::move(stores)), multi_cohort_(multi_cohort) {
  CDL_CHECK(!stores_.empty(), "a DataSource needs at least one store");
  for (const auto& [cohort, store] : stores_) {
    if (store->sample_shape() != first()->sample_shape()) {
      CDL_THROW(DataError, "cohort '", cohort, "' (", store->path(), ") has images of shape ",
                format_shape(store->sample_shape()), " but cohort '", stores_.front().first, "' (",
                first()->path(), ") has ", format_shape(first()->sample_shape()),
                "\nhint: convert every cohort with the same preprocessing");
    }
  }
}

std::vector<std::string> DataSource::cohorts() const {
  std::vector<std::string> names;
  for (const auto& entry : stores_) names.push_back(entry.first);
  return names;
}

const std::shared_ptr<ImageStore>& DataSource::store(const std::string& cohort) const {
  for (const auto& entry : stores_) {
    if (entry.first == cohort) return entry.second;
  }
  std::string known;
  for (const auto& entry : stores_) known += (known.empty() ? "" : ", ") + entry.first;
  CDL_THROW(ConfigError, "no image file for cohort '", cohort, "' (cohorts in DATA: ", known, ")",
            "\nhint: DATA and TSV_DIR must both be single-cohort or both cohort TSVs listing the ",
            "same cohort names");
}

}  // namespace cdl::data
