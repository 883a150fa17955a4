// The registry of architectures keyed by ClinicaDL's class names ("Conv5_FC3", "resnet18", ...).
// Built-in architectures are registered in one explicit list (builtin_models.cpp).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cdl/model/network.hpp"

namespace cdl::model {

using NetworkFactory = std::function<NetworkPtr(const NetworkOptions&)>;

/// What list_models prints about an architecture, and how to build it.
struct ArchitectureInfo {
  std::string name;                ///< registry key = ClinicaDL class name
  std::string description;         ///< one paragraph
  std::vector<std::string> tasks;  ///< "classification", "regression", "reconstruction"
  std::string dimension;           ///< "2D", "3D" or "2D or 3D"
  std::string example_input;       ///< e.g. "1@169x208x179"
  NetworkFactory factory;
};

/// Name -> architecture table. Not thread-safe for writes; reads are safe once filled.
class ModelRegistry {
 public:
  /// Adds an architecture. Throws InternalError on a duplicate name.
  void add(ArchitectureInfo info);
  /// The entry of `name`. Throws ConfigError listing the known names if it is unknown.
  const ArchitectureInfo& get(const std::string& name) const;
  /// Builds `name` for `options`. Throws ConfigError for unknown names or unfit inputs.
  NetworkPtr create(const std::string& name, const NetworkOptions& options) const;
  /// All names in ASCII order (as ClinicaDL's list_models prints them).
  std::vector<std::string> names() const;
  /// True when `name` is registered.
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

 private:
  std::map<std::string, ArchitectureInfo> entries_;
};

/// Registers every built-in architecture into `registry`.
void register_builtin_models(ModelRegistry& registry);

/// The process-wide registry holding the built-in architectures.
const ModelRegistry& builtin_registry();

/// The default architecture of a task: Conv5_FC3 (classification, regression) or AE_Conv5_FC3.
std::string default_architecture(const std::string& task);

}  // namespace cdl::model
