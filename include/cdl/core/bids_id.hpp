// Participant and session identifiers as BIDS defines them ("sub-<label>", "ses-<label>", a label
// being ASCII letters and digits): checked wherever ids enter (conversion, validation, training and
// prediction TSVs, HDF5 files), since they become folder and file names (CAPS paths, saved
// tensors) and a crafted id such as "../../x" would reach outside its folder. LibTorch-free.
#pragma once

#include <string>

namespace cdl {

/// The id kinds, with their BIDS prefix.
enum class BidsEntity { kParticipant, kSession };

/// "" when `id` is "<prefix>-" followed by 1 to 128 ASCII letters or digits (prefix "sub" for
/// participants, "ses" for sessions); otherwise what is wrong, naming the column and the value
/// (printable), e.g. "participant_id '../../x' is not a BIDS label; expected 'sub-' followed by
/// letters and digits only".
std::string bids_id_problem(const std::string& id, BidsEntity entity);

/// "" when both ids of a session are BIDS labels; otherwise what is wrong with each, joined by
/// "; " (the check every reader of (participant_id, session_id) pairs makes).
std::string session_ids_problem(const std::string& participant_id, const std::string& session_id);

}  // namespace cdl
