#pragma once
// A small in-app file browser (modal): folders, then files with the wanted extensions.
#include <optional>
#include <string>
#include <vector>

namespace rmvk::ui {

class FileBrowser {
public:
    enum class Purpose { None, Model, Image, Report };
    void open(Purpose purpose, std::string title, std::vector<std::string> extensions, std::string start_dir);
    // Draws while open; returns the chosen file once.
    std::optional<std::string> draw();
    Purpose purpose() const { return purpose_; }
    void close() { purpose_ = Purpose::None; }

private:
    void list();

    Purpose purpose_ = Purpose::None;
    bool want_open_ = false;
    std::string title_;
    std::vector<std::string> extensions_;
    std::string dir_;
    std::vector<std::string> dirs_, files_;
    char path_[1024] = {};
    int selected_ = -1;
};

}  // namespace rmvk::ui
