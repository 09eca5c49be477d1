/* Forced into every llama.cpp translation unit by scripts/bootstrap.sh.
 *
 * GCC before 13 declares its AMX tile intrinsics with too little of the
 * memory they touch: _tile_loadconfig tells the compiler it reads 8 bytes of
 * the 64-byte configuration, and _tile_loadd / _tile_stream_loadd that they
 * read no memory at all. The optimiser then moves or drops the stores that
 * fill those buffers, and ggml's AMX kernels (the sapphirerapids CPU variant)
 * load a half-written tile configuration: SIGSEGV in ldtilecfg or SIGILL in
 * the next tile instruction, on machines whose AMX works (seen on a Sapphire
 * Rapids VM with GCC 12.2). GCC 13 fixed the declarations; for older
 * compilers these macros replace them with ones that say what they read.
 * Only code compiled for AMX (-mamx-tile) sees any of this. */
#if defined(__x86_64__) && defined(__AMX_TILE__) && defined(__GNUC__) && !defined(__clang__) && \
    __GNUC__ < 13
#include <immintrin.h>

static inline __attribute__((always_inline)) void resident_tile_loadconfig(const void* config) {
    __asm__ volatile("ldtilecfg\t%0" ::"m"(*(const unsigned char(*)[64])config));
}
static inline __attribute__((always_inline)) void resident_tile_storeconfig(void* config) {
    __asm__ volatile("sttilecfg\t%0" : "=m"(*(unsigned char(*)[64])config));
}
#define _tile_loadconfig resident_tile_loadconfig
#define _tile_storeconfig resident_tile_storeconfig

#undef _tile_loadd_internal
#define _tile_loadd_internal(dst, base, stride)                                   \
    __asm__ volatile("{tileloadd\t(%0,%1,1), %%tmm" #dst "|tileloadd\t%%tmm" #dst \
                     ", [%0+%1*1]}" ::"r"((const void*)(base)),                   \
                     "r"((long)(stride))                                          \
                     : "memory")
#undef _tile_stream_loadd_internal
#define _tile_stream_loadd_internal(dst, base, stride)                                \
    __asm__ volatile("{tileloaddt1\t(%0,%1,1), %%tmm" #dst "|tileloaddt1\t%%tmm" #dst \
                     ", [%0+%1*1]}" ::"r"((const void*)(base)),                       \
                     "r"((long)(stride))                                              \
                     : "memory")
#endif
