// Throughput counters against hand-computed rates.
#include "cdl/train/throughput.hpp"

#include <gtest/gtest.h>

namespace cdl::train {
namespace {

TEST(ThroughputTest, RatesOverAllEpochsAndWithoutTheFirst) {
  Throughput throughput;
  EXPECT_EQ(throughput.samples_per_second(), 0.0);
  throughput.add_epoch(100, 10.0, 1.0);  // warm-up: 10 samples/s
  EXPECT_DOUBLE_EQ(throughput.samples_per_second(), 10.0);
  EXPECT_DOUBLE_EQ(throughput.steady_samples_per_second(), 10.0);  // one epoch: the same
  throughput.add_epoch(100, 4.0, 0.0);
  throughput.add_epoch(100, 6.0, 1.0);
  EXPECT_DOUBLE_EQ(throughput.samples_per_second(), 300.0 / 20.0);
  EXPECT_DOUBLE_EQ(throughput.steady_samples_per_second(), 200.0 / 10.0);
  EXPECT_DOUBLE_EQ(throughput.data_wait_fraction(), 2.0 / 20.0);
  EXPECT_DOUBLE_EQ(throughput.seconds(), 20.0);
}

}  // namespace
}  // namespace cdl::train
