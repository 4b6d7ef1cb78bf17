#include <cblas.h>

// A spin-wait hint for the engine's helper threads (x86 `pause`): it keeps a spinning core from
// flooding the memory pipeline and lets the sibling hyperthread run.
static inline void snn_spin_hint(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
