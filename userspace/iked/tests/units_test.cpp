#include <gtest/gtest.h>
TEST(Units, Placeholder) {}
