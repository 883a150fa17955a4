// Implementation of the architecture registry.
#include "cdl/model/model_registry.hpp"

#include "cdl/core/error.hpp"

namespace cdl::model {

void ModelRegistry::add(ArchitectureInfo info) {
  CDL_CHECK(!contains(info.name), "architecture registered twice: ", info.name);
  entries_.emplace(info.name, std::move(info));
}

const ArchitectureInfo& ModelRegistry::get(const std::string& name) const {
  auto found = entries_.find(name);
  if (found != entries_.end()) return found->second;
  std::string known;
  for (const auto& entry : entries_) known += (known.empty() ? "" : ", ") + entry.first;
  CDL_THROW(ConfigError, "unknown architecture '", name, "'; known architectures: ", known,
            "\n  hint: names are case-sensitive, see `clinicadl-hpc list_models`");
}

NetworkPtr ModelRegistry::create(const std::string& name, const NetworkOptions& options) const {
  return get(name).factory(options);
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> result;
  for (const auto& entry : entries_) result.push_back(entry.first);
  return result;  // std::map keeps byte-wise (ASCII) order
}

const ModelRegistry& builtin_registry() {
  static const ModelRegistry registry = [] {
    ModelRegistry r;
    register_builtin_models(r);
    return r;
  }();
  return registry;
}

std::string default_architecture(const std::string& task) {
  return task == "reconstruction" ? "AE_Conv5_FC3" : "Conv5_FC3";
}

}  // namespace cdl::model
