#pragma once
// The window's lifetime: GLFW's process-wide init/terminate with the one window, and the ImGui
// context with its GLFW backend, each torn down in the right order by its owner.
struct GLFWwindow;

namespace rmvk::ui {

class Window {
  public:
    // Throws VulkanError (one line) when there is no display or no window can be made.
    Window(int width, int height);
    ~Window();
    Window(const Window&) = delete;
    Window& operator=(const Window&) = delete;
    GLFWwindow* get() const { return window_; }

  private:
    GLFWwindow* window_ = nullptr;
};

class ImGuiSession {
  public:
    explicit ImGuiSession(GLFWwindow* window);
    ~ImGuiSession();
    ImGuiSession(const ImGuiSession&) = delete;
    ImGuiSession& operator=(const ImGuiSession&) = delete;
};

}  // namespace rmvk::ui
