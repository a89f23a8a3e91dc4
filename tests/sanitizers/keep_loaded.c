/* Preloaded by the sanitize stage of scripts/test.sh (LD_PRELOAD): dlclose does nothing, so the
 * libraries that the Vulkan loader and GLFW open at run time (the driver, its LLVM, the
 * validation layer, X11 helpers) stay mapped until LeakSanitizer's check at exit, and leaks
 * inside them are reported with their library's name (and suppressed by lsan.supp) instead of
 * as "<unknown module>", which no suppression can match. */
int dlclose(void* handle) {
    (void)handle;
    return 0;
}
