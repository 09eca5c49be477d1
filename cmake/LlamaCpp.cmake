# Imports the llama.cpp build that scripts/bootstrap.sh made in the user cache
# as the target llama::llama. RESIDENT_LLAMA_HOME is the pinned release's
# folder; RESIDENT_LLAMA_FLAVOR picks its build: portable (the one that ships
# and is measured) or tsan. Both are shared libraries with the CPU backend as
# plug-ins (libggml-cpu-<variant>.so) that the engine chooses from at run time.

file(STRINGS "${PROJECT_SOURCE_DIR}/third_party/llama.cpp.lock" _lock REGEX "^[A-Z_0-9]+=")
foreach(_line IN LISTS _lock)
  string(REGEX MATCH "^([A-Z_0-9]+)=(.*)$" _ "${_line}")
  set(LOCK_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
string(SUBSTRING "${LOCK_LLAMA_CPP_COMMIT}" 0 8 _short)

if(DEFINED ENV{RESIDENT_CACHE_DIR})
  set(_cache "$ENV{RESIDENT_CACHE_DIR}")
elseif(DEFINED ENV{XDG_CACHE_HOME})
  set(_cache "$ENV{XDG_CACHE_HOME}/resident")
else()
  set(_cache "$ENV{HOME}/.cache/resident")
endif()
set(RESIDENT_LLAMA_HOME "${_cache}/llama.cpp/${LOCK_LLAMA_CPP_VERSION}-${_short}"
    CACHE PATH "llama.cpp source and builds (made by scripts/bootstrap.sh)")
set(RESIDENT_LLAMA_FLAVOR "portable" CACHE STRING "llama.cpp build to link: portable or tsan")
set(RESIDENT_LLAMA_VERSION "${LOCK_LLAMA_CPP_VERSION}")

set(_src "${RESIDENT_LLAMA_HOME}/src")
set(_bld "${RESIDENT_LLAMA_HOME}/build-${RESIDENT_LLAMA_FLAVOR}")
set(_bootstrap_part core)
if(RESIDENT_LLAMA_FLAVOR STREQUAL "tsan")
  set(_bootstrap_part tsan)
endif()
set(_libs "${_bld}/bin/libllama.so" "${_bld}/bin/libggml.so" "${_bld}/bin/libggml-base.so")
foreach(_lib IN LISTS _libs)
  if(NOT EXISTS "${_lib}")
    message(FATAL_ERROR "llama.cpp ${LOCK_LLAMA_CPP_TAG} (${RESIDENT_LLAMA_FLAVOR}) is not built: "
      "missing ${_lib}. Run: scripts/bootstrap.sh ${_bootstrap_part}")
  endif()
endforeach()

find_package(Threads REQUIRED)
add_library(llama::llama INTERFACE IMPORTED)
target_link_libraries(llama::llama INTERFACE ${_libs} Threads::Threads m dl)
# The shared libraries a program needs beside it (the jar carries them): the
# libraries under their SONAMEs, which the loader looks for, and the CPU
# backend plug-ins.
file(GLOB RESIDENT_LLAMA_BACKENDS "${_bld}/bin/libggml-cpu-*.so")
set(RESIDENT_LLAMA_RUNTIME ${RESIDENT_LLAMA_BACKENDS})
foreach(_soname libllama.so.0 libggml.so.0 libggml-base.so.0)
  if(NOT EXISTS "${_bld}/bin/${_soname}")
    message(FATAL_ERROR "llama.cpp's build has no ${_bld}/bin/${_soname}: "
      "did the pinned release change its SONAMEs?")
  endif()
  list(APPEND RESIDENT_LLAMA_RUNTIME "${_bld}/bin/${_soname}")
endforeach()
target_include_directories(llama::llama SYSTEM INTERFACE "${_src}/include" "${_src}/ggml/include")
set(RESIDENT_LLAMA_BIN "${_bld}/bin")
