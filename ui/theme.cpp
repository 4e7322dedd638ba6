#include "ui/theme.hpp"

namespace rmvk::ui::theme {

ImU32 op_color(rm::Op op) {
    switch (op) {
        case rm::Op::Conv:
            return rgb(46, 94, 168);
        case rm::Op::BatchNormalization:
            return rgb(118, 78, 160);
        case rm::Op::Relu:
        case rm::Op::Clip:
        case rm::Op::PRelu:
        case rm::Op::Max:
        case rm::Op::Min:
            return rgb(44, 128, 84);
        case rm::Op::Add:
        case rm::Op::Mul:
            return rgb(186, 110, 34);
        case rm::Op::MaxPool:
        case rm::Op::AveragePool:
        case rm::Op::GlobalAveragePool:
        case rm::Op::ReduceMean:
            return rgb(30, 128, 138);
        case rm::Op::Gemm:
        case rm::Op::MatMul:
            return rgb(168, 58, 72);
        case rm::Op::Softmax:
            return rgb(150, 138, 44);
        default:
            return rgb(92, 96, 106);
    }
}

void apply_style() {
    ImGui::StyleColorsDark();
    ImGuiStyle& s = ImGui::GetStyle();
    s.WindowRounding = 0;
    s.ChildRounding = 4;
    s.FrameRounding = 4;
    s.GrabRounding = 4;
    s.PopupRounding = 4;
    s.TabRounding = 4;
    s.FramePadding = {7, 4};
    s.ItemSpacing = {8, 6};
    s.WindowPadding = {8, 8};
    s.ScrollbarSize = 12;
    ImVec4* c = s.Colors;
    c[ImGuiCol_WindowBg] = kBackground;
    c[ImGuiCol_ChildBg] = {0, 0, 0, 0};  // see kBackground
    c[ImGuiCol_PopupBg] = {0.13f, 0.14f, 0.16f, 0.98f};
    c[ImGuiCol_MenuBarBg] = {0.14f, 0.15f, 0.175f, 1};
    c[ImGuiCol_Border] = {0.22f, 0.24f, 0.28f, 1};
    c[ImGuiCol_FrameBg] = {0.18f, 0.19f, 0.22f, 1};
    c[ImGuiCol_FrameBgHovered] = {0.24f, 0.26f, 0.31f, 1};
    c[ImGuiCol_Header] = {0.22f, 0.32f, 0.48f, 1};
    c[ImGuiCol_HeaderHovered] = {0.27f, 0.40f, 0.60f, 1};
    c[ImGuiCol_Button] = {0.20f, 0.26f, 0.36f, 1};
    c[ImGuiCol_ButtonHovered] = {0.26f, 0.36f, 0.52f, 1};
    c[ImGuiCol_Tab] = {0.16f, 0.18f, 0.22f, 1};
    c[ImGuiCol_TabActive] = {0.24f, 0.34f, 0.50f, 1};
    c[ImGuiCol_TabHovered] = {0.30f, 0.42f, 0.62f, 1};
    c[ImGuiCol_TitleBgActive] = {0.16f, 0.22f, 0.32f, 1};
    c[ImGuiCol_PlotHistogram] = {0.38f, 0.62f, 0.94f, 1};
    c[ImGuiCol_TableHeaderBg] = {0.16f, 0.18f, 0.22f, 1};
}

}  // namespace rmvk::ui::theme
