// Creation of a MAPS folder: destination checks, maps.json, environment.txt, information.log and
// the groups/ tables of each split (reference section 7). Main rank only, except the checks.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "cdl/config/train_config.hpp"
#include "cdl/data/split_data.hpp"
#include "cdl/maps/maps_claim.hpp"
#include "cdl/maps/maps_layout.hpp"
#include "cdl/model/network.hpp"

namespace cdl::maps {

/// True when `inner` is `outer` or lies below it (both made absolute, links resolved).
bool lies_within(const std::string& inner, const std::string& outer);

/// Not collective, deterministic: throws ConfigError when `maps_dir` is a file, or an existing
/// non-empty folder and `overwrite` is false (existing output is never silently replaced). With
/// `overwrite`, a non-empty folder must be a MAPS (hold maps.json) and hold none of `inputs`
/// (DATA, TSV_DIR, the config file): --overwrite never deletes what this program did not write.
void check_maps_destination(const std::string& maps_dir, bool overwrite,
                            const std::vector<std::string>& inputs = {});

/// maps.json content: ClinicaDL's keys in ClinicaDL's order and value types (reference 7.2:
/// transfer_path and data_augmentation false when unused, split [] for every split), its full
/// preprocessing_dict (the conversion's dict stored in the .h5, `conversion_preprocessing`, with
/// this run's mode keys), then the options of ours and "engine" (version, ranks, back end).
nlohmann::ordered_json maps_json(const config::TrainConfig& config, const data::SplitData& data,
                                 const std::string& conversion_preprocessing, int world_size,
                                 const std::string& comm_backend);

/// Main rank, with the MAPS claimed (MapsClaim): writes maps.json, environment.txt and
/// information.log into `layout` (the staging folder of a new MAPS, see MapsStaging), naming
/// `final_root` as the MAPS path.
void create_maps(const MapsLayout& layout, const nlohmann::ordered_json& json,
                 model::Network& network, const InputSize& input_size,
                 const std::string& final_root);

/// A new MAPS is written under a temporary name, MAPS_DIR.partial, claimed there, and renamed to
/// MAPS_DIR only when its first split starts training: an error before that (a source model that
/// does not fit, a full disk) leaves no MAPS_DIR, and an --overwrite replaces the old MAPS only
/// then. A staging folder left by a job that died is taken over (its lock is stale) and cleared.
/// Main rank only.
class MapsStaging {
 public:
  /// Claims (and clears) MAPS_DIR.partial. Throws ConfigError when another job holds it.
  MapsStaging(std::string maps_dir, bool overwrite);
  /// Removes the staging folder if it was never promoted (this job wrote all of it).
  ~MapsStaging();
  MapsStaging(const MapsStaging&) = delete;
  MapsStaging& operator=(const MapsStaging&) = delete;

  /// Where the MAPS is now: the staging folder, then MAPS_DIR once promoted.
  const std::string& root() const { return promoted_ ? maps_dir_ : stage_; }
  /// Renames the staging folder to MAPS_DIR (after deleting an old MAPS under --overwrite, unless
  /// a live job holds it). Idempotent. Throws ConfigError when MAPS_DIR appeared meanwhile.
  void promote();

 private:
  std::string maps_dir_;
  std::string stage_;
  bool overwrite_;
  bool promoted_ = false;
  std::unique_ptr<MapsClaim> claim_;
};

/// Main rank: groups/train+validation.tsv (accumulated over splits) and
/// groups/{train,validation}/split-<k>/{data.tsv,maps.json}.
void write_split_groups(const MapsLayout& layout, int split, const data::SplitData& data,
                        const config::TrainConfig& config);

}  // namespace cdl::maps
