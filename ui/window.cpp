#include "ui/window.hpp"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <imgui.h>

#include <cstdio>

#include "app/vulkan/vulkan_error.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

Window::Window(int width, int height) {
    glfwSetErrorCallback(
        [](int, const char* message) { std::fprintf(stderr, "rmvk gui: GLFW: %s\n", message); });
    if (!glfwInit())
        throw VulkanError("cannot open a window: no display (set DISPLAY, or run under xvfb-run)");
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    window_ = glfwCreateWindow(width, height, "rmvk - residual vs plain (RM)", nullptr, nullptr);
    if (!window_) {
        glfwTerminate();
        throw VulkanError("cannot create a window on this display");
    }
}

Window::~Window() {
    glfwDestroyWindow(window_);
    glfwTerminate();
}

ImGuiSession::ImGuiSession(GLFWwindow* window) {
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;  // layout is fixed; no files written beside the user's
    theme::apply_style();
    ImGui_ImplGlfw_InitForVulkan(window, true);
}

ImGuiSession::~ImGuiSession() {
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
}

}  // namespace rmvk::ui
