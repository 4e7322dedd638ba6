#pragma once
// A small in-app file browser (modal): folders, then files with the wanted extensions.
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace rmvk::ui {

class FileBrowser {
  public:
    enum class Purpose { None, Model, Image, Report };
    void open(Purpose purpose, std::string title, std::vector<std::string> extensions,
              std::string start_dir);
    // Draws while open; returns the chosen file once.
    std::optional<std::string> draw();
    Purpose purpose() const { return purpose_; }
    void close() {
        purpose_ = Purpose::None;
        script_.clear();
    }

    // Scripted use (tests): walks `relative` one folder or file per frame from where the
    // browser is, picking each entry as a double-click would. A name not listed stops the walk
    // with script_error().
    void script_pick(const std::string& relative);
    bool scripted() const { return !script_.empty(); }
    const std::string& script_error() const { return script_error_; }
    void clear_script_error() { script_error_.clear(); }

    // The last listing.
    const std::string& dir() const { return dir_; }
    const std::vector<std::string>& dirs() const { return dirs_; }
    const std::vector<std::string>& files() const { return files_; }

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
    std::deque<std::string> script_;
    std::string script_error_;
};

}  // namespace rmvk::ui
