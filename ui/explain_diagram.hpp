#pragma once
// The Explain tab's small drawings: the block at one RM step as a row of boxes with its
// shortcut, and a histogram of one conv's weight values, original (folded) against plain.
#include <cstdint>
#include <vector>

#include "rm/explain_block.hpp"

namespace rmvk::ui {

// Draws the block as it is at `step` (0-based) across `width` pixels at the cursor.
void draw_block_diagram(const rm::BlockExplanation& e, int step, float width);

struct WeightHistogram {
    float lo = 0, hi = 0;
    std::vector<int64_t> original, plain;  // counts per bin
    int64_t plain_total = 0, plain_zeros = 0;
};

// Bins over [-m, m], m the largest |value| of either weight. The plain weight's zeros (most of
// it) are counted without materialising it: dense size minus the values its structure holds.
WeightHistogram weight_histogram(const rm::ExplainedConv& original, const rm::ExplainedConv& plain,
                                 int bins);
void draw_histogram(const WeightHistogram& h, float width, float height);

}  // namespace rmvk::ui
