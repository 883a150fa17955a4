// Implementation of the BIDS identifier check.
#include "cdl/core/bids_id.hpp"

#include <algorithm>

namespace cdl {
namespace {

constexpr size_t kMaxLabelLength = 128;

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// `id` with non-printable bytes shown as '?', cut at 60 characters: safe in a message.
std::string printable(const std::string& id) {
  std::string shown = id.substr(0, 60);
  std::replace_if(
      shown.begin(), shown.end(), [](char c) { return c < 0x20 || c == 0x7f; }, '?');
  return id.size() > 60 ? shown + "..." : shown;
}

}  // namespace

std::string bids_id_problem(const std::string& id, BidsEntity entity) {
  const bool participant = entity == BidsEntity::kParticipant;
  const std::string prefix = participant ? "sub-" : "ses-";
  const bool ok = id.size() > prefix.size() && id.size() <= prefix.size() + kMaxLabelLength &&
                  id.compare(0, prefix.size(), prefix) == 0 &&
                  std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(),
                              is_ascii_alnum);
  if (ok) return "";
  return std::string(participant ? "participant_id" : "session_id") + " '" + printable(id) +
         "' is not a BIDS label; expected '" + prefix + "' followed by 1 to " +
         std::to_string(kMaxLabelLength) + " letters and digits only";
}

std::string session_ids_problem(const std::string& participant_id, const std::string& session_id) {
  const auto participant = bids_id_problem(participant_id, BidsEntity::kParticipant);
  const auto session = bids_id_problem(session_id, BidsEntity::kSession);
  return participant + (participant.empty() || session.empty() ? "" : "; ") + session;
}

}  // namespace cdl
