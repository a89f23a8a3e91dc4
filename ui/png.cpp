// PNG writing.
#include "ui/png.h"

#include <stb_image_write.h>

namespace moe::ui {

Status writePng(const std::string& path, const Screenshot& shot) {
    if (shot.width == 0 || shot.height == 0 || shot.rgba.size() != size_t(shot.width) * shot.height * 4)
        return makeError("screenshot: no image was read back");
    if (!stbi_write_png(path.c_str(), int(shot.width), int(shot.height), 4, shot.rgba.data(), int(shot.width * 4)))
        return makeError("cannot write " + path);
    return {};
}

}  // namespace moe::ui
