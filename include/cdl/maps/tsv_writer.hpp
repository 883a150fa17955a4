// The MAPS's growing TSVs: one row appended at a time to a table written atomically (training
// logs), and the columns of training.tsv. The table itself is core/tsv_table.hpp.
#pragma once

#include <string>
#include <vector>

#include "cdl/core/tsv_table.hpp"

namespace cdl::maps {

/// Appends one row to `path`, creating it with `header` when absent, by rewriting the whole file
/// atomically (a crash leaves either the old or the new file). Throws DataError when an existing
/// file has a different header.
void append_tsv_row(const std::string& path, const std::vector<std::string>& header,
                    const std::vector<TsvCell>& row);

/// Columns of training.tsv (reference 7.3): epoch, iteration, time, then "<m>_train" for each
/// task metric followed by loss_train, then the same with "_valid".
std::vector<std::string> training_tsv_header(const std::vector<std::string>& metric_names);

/// A metric or time cell of a training log as a number: NaN for pandas' missing value (an empty
/// cell) and for text that is not a number.
double log_number(const std::string& text);

/// An integer cell (epoch, iteration) of a training log. Throws DataError naming `column`, the
/// text seen and `where` (a file and line) when it is not an integer.
int64_t log_integer(const std::string& text, const std::string& column,
                    const std::string& where = "");

}  // namespace cdl::maps
