#pragma once
// The input image as loaded and as the model sees it after preprocessing.
#include <memory>

#include "ui/app_state.hpp"

namespace rmvk::ui {

class Renderer;
class Texture;

class InputPanel {
  public:
    explicit InputPanel(Renderer& renderer);
    ~InputPanel();
    void draw(const AppState& state);

  private:
    Renderer& renderer_;
    const RunSet* shown_ = nullptr;
    std::unique_ptr<Texture> original_, preprocessed_;
};

}  // namespace rmvk::ui
