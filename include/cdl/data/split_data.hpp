// SplitData: the training and validation sets of one split, as the trainer, the evaluation and
// the MAPS writers see them. experiment/split_loading.hpp builds them from the options.
#pragma once

#include <memory>

#include "cdl/data/caps_dataset.hpp"

namespace cdl::data {

/// The two sets of one split.
struct SplitData {
  std::shared_ptr<const CapsDataset> train;
  std::shared_ptr<const CapsDataset> validation;
};

}  // namespace cdl::data
