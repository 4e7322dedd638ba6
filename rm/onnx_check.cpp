// Checking written ONNX files: ONNX's checker where it knows the opset, rmvk's own structural
// checks beyond that.
#include "rm/onnx_check.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "onnx/checker.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "rm/error.hpp"
#include "rm/onnx_io.hpp"

namespace rm {

namespace {

// Bytes one element of an initializer takes, for the types rmvk writes.
int64_t element_bytes(int32_t type) {
    if (type == onnx::TensorProto::FLOAT) return 4;
    if (type == onnx::TensorProto::INT64) return 8;
    return 0;
}

void check_initializer(const onnx::TensorProto& t, const std::string& dir,
                       const std::string& where) {
    const int64_t bytes_each = element_bytes(t.data_type());
    if (!bytes_each) throw Error(where + " has data type " + std::to_string(t.data_type()));
    int64_t count = 1;
    for (int64_t d : t.dims()) {
        if (d < 0) throw Error(where + " has a negative dimension");
        count *= d;
    }
    int64_t stored = 0;
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
        std::string location;
        int64_t offset = 0;
        stored = -1;
        try {
            for (const auto& kv : t.external_data()) {
                if (kv.key() == "location") location = kv.value();
                if (kv.key() == "offset") offset = std::stoll(kv.value());
                if (kv.key() == "length") stored = std::stoll(kv.value()) / bytes_each;
            }
        } catch (const std::exception&) {
            throw Error(where + " has an unreadable external data offset or length");
        }
        std::error_code ec;
        const auto size = std::filesystem::file_size(std::filesystem::path(dir) / location, ec);
        if (location.empty() || ec || offset + stored * bytes_each > static_cast<int64_t>(size))
            throw Error(where + "'s external data '" + location + "' is missing or too short");
    } else if (t.has_raw_data()) {
        stored = static_cast<int64_t>(t.raw_data().size()) / bytes_each;
    } else {
        stored =
            t.data_type() == onnx::TensorProto::FLOAT ? t.float_data_size() : t.int64_data_size();
    }
    if (stored != count)
        throw Error(where + " holds " + std::to_string(stored) + " values for dimensions of " +
                    std::to_string(count));
}

void check_structure(const onnx::ModelProto& m, const std::string& dir) {
    if (m.ir_version() < 4 || m.ir_version() > 10)
        throw Error("IR version " + std::to_string(m.ir_version()) + " is not one rmvk writes");
    if (m.opset_import_size() != 1 || !m.opset_import(0).domain().empty())
        throw Error("the model must import exactly the ONNX opset");
    const onnx::GraphProto& g = m.graph();
    std::unordered_set<std::string> defined;
    auto define = [&](const std::string& name, const std::string& what) {
        if (name.empty()) throw Error(what + " has no name");
        if (!defined.insert(name).second) throw Error(what + " '" + name + "' is defined twice");
    };
    for (const auto& t : g.initializer()) {
        define(t.name(), "initializer");
        check_initializer(t, dir, "initializer '" + t.name() + "'");
    }
    auto check_value = [](const onnx::ValueInfoProto& v, const std::string& what) {
        if (!v.type().has_tensor_type() || v.type().tensor_type().elem_type() == 0)
            throw Error(what + " '" + v.name() + "' has no tensor element type");
    };
    for (const auto& in : g.input()) {
        check_value(in, "graph input");
        define(in.name(), "graph input");
    }
    const auto& ops = onnx_operator_names();
    std::unordered_set<std::string> node_names;
    for (const auto& n : g.node()) {
        const std::string what = "node '" + n.name() + "' (" + n.op_type() + ")";
        if (!n.domain().empty() || std::find(ops.begin(), ops.end(), n.op_type()) == ops.end())
            throw Error(what + " is not an operator rmvk writes");
        if (!n.name().empty() && !node_names.insert(n.name()).second)
            throw Error(what + ": the node name is used twice");
        for (const auto& in : n.input())
            if (!in.empty() && !defined.count(in))
                throw Error(what + ": input '" + in + "' is not defined before it");
        if (n.output_size() == 0) throw Error(what + " has no output");
        for (const auto& out : n.output())
            if (!out.empty()) define(out, what + ": output");
    }
    for (const auto& out : g.output()) {
        check_value(out, "graph output");
        if (!defined.count(out.name()))
            throw Error("graph output '" + out.name() + "' is never produced");
    }
}

}  // namespace

int onnx_checker_max_opset() {
    return onnx::OpSchemaRegistry::DomainToVersionRange::Instance().LastReleaseVersionMap().at(
        onnx::ONNX_DOMAIN);
}

std::string check_onnx_file(const std::string& path) {
    onnx::ModelProto m;
    {
        std::ifstream f(path, std::ios::binary);
        if (!f || !m.ParseFromIstream(&f)) throw Error(path + ": not a readable ONNX model");
    }
    int64_t opset = 0;
    for (const auto& o : m.opset_import())
        if (o.domain().empty()) opset = o.version();
    const int checker_max = onnx_checker_max_opset();
    if (opset <= checker_max) {
        try {
            onnx::checker::check_model(path);
        } catch (const std::exception& e) {
            throw Error(path + ": ONNX's checker refuses it: " + e.what());
        }
        return "ONNX's checker passed (opset " + std::to_string(opset) + ")";
    }
    std::string dir = std::filesystem::path(path).parent_path().string();
    try {
        check_structure(m, dir.empty() ? "." : dir);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    load_onnx(path);
    return "rmvk's structural checks passed (opset " + std::to_string(opset) +
           "; ONNX's checker here knows opsets up to " + std::to_string(checker_max) + ")";
}

}  // namespace rm
