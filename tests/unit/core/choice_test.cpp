// Choice enums: names read, written and listed from the one table beside each enum.
#include "cdl/core/choice.hpp"

#include <gtest/gtest.h>

#include <string>

namespace cdl {
namespace {

enum class Fruit { kApple, kPear, kPlum };
constexpr std::array<ChoiceName<Fruit>, 4> choice_names(Fruit) {
  return {{{Fruit::kApple, "apple"},
           {Fruit::kPear, "pear"},
           {Fruit::kPear, "Pear"},  // an alias: read, never written
           {Fruit::kPlum, ""}}};
}

TEST(Choice, NamesReadBackAsTheirValues) {
  for (const auto value : {Fruit::kApple, Fruit::kPear, Fruit::kPlum}) {
    EXPECT_EQ(parse_choice<Fruit>(choice_name(value)), value);
  }
  EXPECT_EQ(choice_name(Fruit::kPear), "pear");
  EXPECT_EQ(parse_choice<Fruit>("Pear"), Fruit::kPear);
  EXPECT_EQ(parse_choice<Fruit>(""), Fruit::kPlum);
}

TEST(Choice, SpellingIsExact) {
  EXPECT_FALSE(parse_choice<Fruit>("APPLE").has_value());
  EXPECT_FALSE(parse_choice<Fruit>("apple ").has_value());
  EXPECT_FALSE(parse_choice<Fruit>("app").has_value());
}

TEST(Choice, MessagesListEveryName) {
  EXPECT_EQ(choice_list<Fruit>(), "apple, pear, Pear or \"\"");
  try {
    parse_choice_or_throw<Fruit>("kiwi", "--fruit");
    FAIL() << "kiwi is not a fruit here";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()), "--fruit 'kiwi' is not one of apple, pear, Pear or \"\"");
  }
  EXPECT_EQ(parse_choice_or_throw<Fruit>("pear", "--fruit"), Fruit::kPear);
}

TEST(Choice, AValueWithoutANameSaysSo) {
  EXPECT_EQ(choice_name(static_cast<Fruit>(7)), "<unnamed value 7>");
}

}  // namespace
}  // namespace cdl
