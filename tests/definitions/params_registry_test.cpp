#include <gtest/gtest.h>

#include "core/errors.h"
#include "definitions/params.h"
#include "definitions/registry.h"

namespace wrsec::definitions {
namespace {

TEST(Params, TypedGettersParseStrictly) {
  Params p(std::map<std::string, std::string>{
      {"a", "0.25"}, {"n", "12"}, {"f", "true"}, {"l", "1,2,4"}});
  EXPECT_DOUBLE_EQ(p.get_double("a", 0), 0.25);
  EXPECT_EQ(p.get_int("n", 0), 12);
  EXPECT_TRUE(p.get_bool("f", false));
  EXPECT_EQ(p.get_doubles("l", {}), (std::vector<double>{1, 2, 4}));
  EXPECT_EQ(p.get_int("missing", 7), 7);
  EXPECT_NO_THROW(p.reject_unused("test"));
}

TEST(Params, MalformedValuesNameTheKey) {
  Params p(std::map<std::string, std::string>{
      {"x", "0.5abc"}, {"n", "1.5"}, {"b", "maybe"}, {"z", "nan"}});
  try {
    (void)p.get_double("x", 0);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos);
  }
  EXPECT_THROW((void)p.get_int("n", 0), InvalidArgument);
  EXPECT_THROW((void)p.get_bool("b", false), InvalidArgument);
  EXPECT_THROW((void)p.get_double("z", 0), InvalidArgument);
}

TEST(Params, UnusedKeyIsRejectedByName) {
  Params p(std::map<std::string, std::string>{{"p0", "0.1"}, {"p00", "0.2"}});
  (void)p.get_double("p0", 0);
  try {
    p.reject_unused("game 'g'");
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), "unknown parameter 'p00' for game 'g'");
  }
}

TEST(Params, CanonicalIsSortedAndAssignmentsParse) {
  Params p;
  p.set("b", "2");
  p.set("a", "1");
  EXPECT_EQ(p.canonical(), "a=1,b=2");
  EXPECT_EQ(parse_assignment("k=v=w"), (std::pair<std::string, std::string>{"k", "v=w"}));
  EXPECT_THROW(parse_assignment("novalue"), InvalidArgument);
  EXPECT_THROW(parse_assignment("=x"), InvalidArgument);
}

struct Thing {
  virtual ~Thing() = default;
  int value = 0;
};

TEST(Registry, CreatesRejectsUnknownAndDuplicates) {
  Registry<Thing> r("thing");
  r.add("one", "the first", [](const Params& p) {
    auto t = std::make_unique<Thing>();
    t->value = static_cast<int>(p.get_int("v", 1));
    return t;
  });
  EXPECT_THROW(r.add("one", "again", [](const Params&) { return std::make_unique<Thing>(); }),
               LogicError);
  EXPECT_EQ(r.create("one", Params(std::map<std::string, std::string>{{"v", "5"}}))->value, 5);
  try {
    (void)r.create("two", Params());
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), "unknown thing 'two' (known: one)");
  }
  EXPECT_THROW((void)r.create("one", Params(std::map<std::string, std::string>{{"w", "5"}})),
               InvalidArgument);
  ASSERT_EQ(r.entries().size(), 1u);
  EXPECT_EQ(r.entries()[0]->description, "the first");
}

}  // namespace
}  // namespace wrsec::definitions
