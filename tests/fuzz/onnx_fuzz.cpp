// Fuzz target: the ONNX loader (protobuf decoding, initializers, attributes, shape inference).
// Any input must load or throw rm::Error; anything else is a bug.
#include <cstddef>
#include <cstdint>

#include "rm/error.hpp"
#include "rm/onnx_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        rm::Graph g = rm::load_onnx_bytes(data, size, "fuzz.onnx");
        (void)g;
    } catch (const rm::Error&) {
    }
    return 0;
}
