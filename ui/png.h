// PNG files of screenshots (stb_image_write from Debian's libstb).
#pragma once
#include <string>

#include "core/result.h"
#include "ui/renderer.h"

namespace moe::ui {

Status writePng(const std::string& path, const Screenshot& shot);

}  // namespace moe::ui
