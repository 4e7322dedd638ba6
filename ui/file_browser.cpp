#include "ui/file_browser.hpp"

#include <imgui.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "ui/theme.hpp"

namespace rmvk::ui {

namespace fs = std::filesystem;

void FileBrowser::open(Purpose purpose, std::string title, std::vector<std::string> extensions,
                       std::string start_dir) {
    purpose_ = purpose;
    title_ = std::move(title);
    extensions_ = std::move(extensions);
    std::error_code ec;
    dir_ = fs::is_directory(start_dir, ec) ? fs::absolute(start_dir, ec).lexically_normal().string()
                                           : fs::current_path(ec).string();
    path_[0] = 0;
    selected_ = -1;
    want_open_ = true;
    list();
}

void FileBrowser::script_pick(const std::string& relative) {
    script_.clear();
    for (const auto& part : fs::path(relative))
        if (!part.empty() && part != ".") script_.push_back(part.string());
}

void FileBrowser::list() {
    dirs_.clear();
    files_.clear();
    std::error_code ec;
    for (const auto& e :
         fs::directory_iterator(dir_, fs::directory_options::skip_permission_denied, ec)) {
        std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        if (e.is_directory(ec)) {
            dirs_.push_back(name);
            continue;
        }
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        if (extensions_.empty() ||
            std::find(extensions_.begin(), extensions_.end(), ext) != extensions_.end())
            files_.push_back(name);
    }
    std::sort(dirs_.begin(), dirs_.end());
    std::sort(files_.begin(), files_.end());
}

std::optional<std::string> FileBrowser::draw() {
    std::optional<std::string> chosen;
    if (purpose_ == Purpose::None) return chosen;
    if (want_open_) {
        ImGui::OpenPopup("Open file");
        want_open_ = false;
    }
    ImGui::SetNextWindowSize({720, 480}, ImGuiCond_Appearing);
    bool open = true;
    if (!ImGui::BeginPopupModal("Open file", &open)) {
        if (!open) purpose_ = Purpose::None;
        return chosen;
    }
    ImGui::TextColored(theme::kAccent, "%s", title_.c_str());
    if (ImGui::Button("Up")) {
        dir_ = fs::path(dir_).parent_path().string();
        list();
    }
    ImGui::SameLine();
    ImGui::TextUnformatted(dir_.c_str());
    ImGui::BeginChild("entries", {0, -ImGui::GetFrameHeightWithSpacing() * 1.3f}, true);
    std::string go_into;
    for (const auto& d : dirs_)
        if (ImGui::Selectable(("[dir] " + d).c_str(), false,
                              ImGuiSelectableFlags_AllowDoubleClick) &&
            ImGui::IsMouseDoubleClicked(0))
            go_into = d;
    for (size_t i = 0; i < files_.size(); ++i)
        if (ImGui::Selectable(files_[i].c_str(), selected_ == int(i),
                              ImGuiSelectableFlags_AllowDoubleClick)) {
            selected_ = int(i);
            std::snprintf(path_, sizeof(path_), "%s",
                          (fs::path(dir_) / files_[i]).string().c_str());
            if (ImGui::IsMouseDoubleClicked(0)) chosen = path_;
        }
    ImGui::EndChild();
    if (!script_.empty()) {
        std::string name = script_.front();
        script_.pop_front();
        auto file = std::find(files_.begin(), files_.end(), name);
        if (name == "..") {
            dir_ = fs::path(dir_).parent_path().string();
            list();
        } else if (std::find(dirs_.begin(), dirs_.end(), name) != dirs_.end()) {
            go_into = name;
        } else if (file != files_.end()) {
            selected_ = int(file - files_.begin());
            std::snprintf(path_, sizeof(path_), "%s", (fs::path(dir_) / name).string().c_str());
            chosen = path_;
        } else {
            std::string wanted;
            for (const auto& e : extensions_) wanted += (wanted.empty() ? "" : "/") + e;
            script_error_ = "no folder or " + wanted + " file named '" + name + "' in " + dir_;
            script_.clear();
            purpose_ = Purpose::None;
            ImGui::CloseCurrentPopup();
        }
    }
    if (!go_into.empty()) {
        dir_ = (fs::path(dir_) / go_into).string();
        selected_ = -1;
        list();
    }
    ImGui::SetNextItemWidth(-160);
    bool enter =
        ImGui::InputText("##path", path_, sizeof(path_), ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if ((ImGui::Button("Open") || enter) && path_[0]) chosen = path_;
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) {
        purpose_ = Purpose::None;
        ImGui::CloseCurrentPopup();
    }
    if (chosen) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
    return chosen;
}

}  // namespace rmvk::ui
