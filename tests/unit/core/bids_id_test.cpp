// BIDS identifiers: what passes, and the crafted ids that must not become paths.
#include "cdl/core/bids_id.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cdl {
namespace {

TEST(BidsId, LabelsOfLettersAndDigitsPass) {
  for (const char* id : {"sub-001", "sub-ADNI002S0295", "sub-OAS30001", "sub-x"}) {
    EXPECT_EQ(bids_id_problem(id, BidsEntity::kParticipant), "") << id;
  }
  for (const char* id : {"ses-M000", "ses-M006", "ses-1"}) {
    EXPECT_EQ(bids_id_problem(id, BidsEntity::kSession), "") << id;
  }
}

TEST(BidsId, PathsPrefixesAndOddBytesAreNamed) {
  const std::string nul("sub-a\0b", 7);
  const std::vector<std::string> crafted{
      "../../x",  "sub-../x", "sub-a/b", "sub-",  "sub", "",
      "ses-M000", "sub-a_b",  "sub-a b", "sub-é", nul,   "sub-" + std::string(129, 'a')};
  for (const std::string& id : crafted) {
    const auto problem = bids_id_problem(id, BidsEntity::kParticipant);
    EXPECT_NE(problem.find("is not a BIDS label; expected 'sub-'"), std::string::npos) << problem;
    EXPECT_EQ(problem.rfind("participant_id '", 0), 0u) << problem;
  }
  EXPECT_NE(bids_id_problem("sub-001", BidsEntity::kSession).find("session_id 'sub-001'"),
            std::string::npos);
  EXPECT_NE(bids_id_problem(nul, BidsEntity::kParticipant).find("sub-a?b"), std::string::npos);
}

TEST(BidsId, ASessionNamesEachBadIdOnce) {
  EXPECT_EQ(session_ids_problem("sub-001", "ses-M000"), "");
  EXPECT_EQ(session_ids_problem("../x", "ses-M000"),
            bids_id_problem("../x", BidsEntity::kParticipant));
  EXPECT_EQ(session_ids_problem("../x", "ses/.."),
            bids_id_problem("../x", BidsEntity::kParticipant) + "; " +
                bids_id_problem("ses/..", BidsEntity::kSession));
}

}  // namespace
}  // namespace cdl
