// Fuzz target: rm::read_npy (the --input .npy of run/bench/eval and the GUI's input picker).
// Any file must load or throw rm::Error; a loaded tensor must hold as many values as its shape.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rm/error.hpp"
#include "rm/npy.hpp"
#include "tests/fuzz/fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = rmvk_fuzz::scratch().write("input.npy", data, size);
    try {
        rm::Tensor t = rm::read_npy(path);
        if (static_cast<int64_t>(t.data.size()) != rm::element_count(t.shape)) std::abort();
    } catch (const rm::Error&) {
    }
    return 0;
}
