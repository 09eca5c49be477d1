# Imports the pinned ONNX Runtime that scripts/bootstrap.sh laid out in the user
# cache (third_party/onnxruntime.lock): its headers for the onnx engine, and the
# library's path, which the engine opens at run time (never linked: processes
# that serve only language models do not map it) and the jar carries.

file(STRINGS "${PROJECT_SOURCE_DIR}/third_party/onnxruntime.lock" _ort_lock REGEX "^[A-Z_0-9]+=")
foreach(_line IN LISTS _ort_lock)
  string(REGEX MATCH "^([A-Z_0-9]+)=(.*)$" _ "${_line}")
  set(LOCK_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
set(RESIDENT_ORT_HOME "${_cache}/onnxruntime/${LOCK_ORT_VERSION}-api${LOCK_ORT_HEADERS_API}"
    CACHE PATH "ONNX Runtime library and headers (laid out by scripts/bootstrap.sh)")
set(RESIDENT_ORT_LIBRARY "${RESIDENT_ORT_HOME}/lib/libonnxruntime.so.1")
if(NOT EXISTS "${RESIDENT_ORT_HOME}/include/onnxruntime_cxx_api.h" OR NOT EXISTS "${RESIDENT_ORT_LIBRARY}")
  message(FATAL_ERROR "ONNX Runtime ${LOCK_ORT_VERSION} is not laid out in ${RESIDENT_ORT_HOME}. "
    "Run: scripts/bootstrap.sh")
endif()
set(RESIDENT_ORT_VERSION "${LOCK_ORT_VERSION}")
add_library(onnxruntime::headers INTERFACE IMPORTED)
target_include_directories(onnxruntime::headers SYSTEM INTERFACE "${RESIDENT_ORT_HOME}/include")
target_link_libraries(onnxruntime::headers INTERFACE dl)
file(GLOB RESIDENT_ORT_LICENSES "${RESIDENT_ORT_HOME}/licenses/*")
