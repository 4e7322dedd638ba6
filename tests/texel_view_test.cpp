// Buffer and texel view sizes that keep lavapipe from compiling a pipeline again for each
// layer (kTexelViewSlack, app/engine/context_impl.hpp).
#include <doctest/doctest.h>

#include <bit>

#include "app/engine/context_impl.hpp"

using namespace rmvk;

TEST_CASE("a buffer's size is never a power of two and has the slack past its contents") {
    for (uint64_t bytes :
         {0ull, 4ull, 256ull, 768ull, 1000ull, 65536ull - 256, 1ull << 20, (1ull << 30) - 256}) {
        CAPTURE(bytes);
        const uint64_t size = buffer_create_size(bytes);
        CHECK_FALSE(std::has_single_bit(size));
        CHECK(size >= bytes + kTexelViewSlack);
        CHECK(size <= bytes + kTexelViewSlack + 16);
    }
}

TEST_CASE("every texel view's range has bits 8-15 set, within the slack and the texel limit") {
    const uint64_t max_texels = 1ull << 27;
    for (uint64_t range : {4ull, 16ull, 256ull, 4096ull, 16384ull, 65536ull, 65536ull + 16,
                           3ull << 16, 802816ull, 1ull << 24}) {
        CAPTURE(range);
        const uint64_t view = texel_view_range(range, 4, max_texels);
        CHECK(view >= range);
        CHECK(view <= range + kTexelViewSlack);
        CHECK(((view >> 8) & 0xff) != 0);
        CHECK((view - range) % 16 == 0);  // whole RGBA texels more
    }
    CHECK(texel_view_range(65536, 4, 65536 / 4) == 65536);  // no room left under the limit
    CHECK(texel_view_range(VK_WHOLE_SIZE, 4, max_texels) == VK_WHOLE_SIZE);
}
