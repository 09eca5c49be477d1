# Imports the llama.cpp build that scripts/bootstrap.sh made in the user cache
# as the target llama::llama. RESIDENT_LLAMA_HOME is the pinned release's
# folder; RESIDENT_LLAMA_FLAVOR picks its build (release, tsan).

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
set(RESIDENT_LLAMA_FLAVOR "release" CACHE STRING "llama.cpp build to link: release or tsan")
set(RESIDENT_LLAMA_VERSION "${LOCK_LLAMA_CPP_VERSION}")

set(_src "${RESIDENT_LLAMA_HOME}/src")
set(_bld "${RESIDENT_LLAMA_HOME}/build-${RESIDENT_LLAMA_FLAVOR}")
set(_libs
  "${_bld}/src/libllama.a"
  "${_bld}/ggml/src/libggml.a"
  "${_bld}/ggml/src/libggml-cpu.a"
  "${_bld}/ggml/src/libggml-base.a")
foreach(_lib IN LISTS _libs)
  if(NOT EXISTS "${_lib}")
    message(FATAL_ERROR "llama.cpp ${LOCK_LLAMA_CPP_TAG} (${RESIDENT_LLAMA_FLAVOR}) is not built: "
      "missing ${_lib}. Run: scripts/bootstrap.sh ${RESIDENT_LLAMA_FLAVOR}")
  endif()
endforeach()

find_package(Threads REQUIRED)
add_library(llama::llama INTERFACE IMPORTED)
# Static archives that refer to each other: link them as a group.
target_link_libraries(llama::llama INTERFACE
  "-Wl,--start-group" ${_libs} "-Wl,--end-group" Threads::Threads m dl)
target_include_directories(llama::llama SYSTEM INTERFACE "${_src}/include" "${_src}/ggml/include")
set(RESIDENT_LLAMA_BIN "${_bld}/bin")
