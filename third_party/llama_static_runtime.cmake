# Included into llama.cpp's configure by scripts/bootstrap.sh
# (CMAKE_PROJECT_INCLUDE). The libraries Resident ships (libllama, libggml,
# libggml-base and the CPU plug-ins) link the C++ runtime in, hidden, so an
# executor with an older libstdc++ than the build machine's can load them,
# and bind their calls to their own inline C++ code (-Bsymbolic-functions),
# so a C++ program that defines the same functions cannot interpose them and
# free with its runtime what theirs allocated. They talk to each other and to
# Resident through C APIs only.
#
# llama.cpp's tools and their helper libraries (llama-common, ...) pass C++
# objects between each other, so they must share one runtime: they keep the
# system's libstdc++.
if(NOT COMMAND resident_static_runtime)
  function(resident_static_runtime)
    get_property(_cpu DIRECTORY "${CMAKE_SOURCE_DIR}/ggml/src" PROPERTY BUILDSYSTEM_TARGETS)
    list(FILTER _cpu INCLUDE REGEX "^ggml-cpu")
    foreach(_t IN ITEMS llama ggml ggml-base ${_cpu})
      if(TARGET ${_t})
        set_property(TARGET ${_t} APPEND PROPERTY LINK_OPTIONS
          -static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL -Wl,-Bsymbolic-functions)
      endif()
    endforeach()
  endfunction()
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL resident_static_runtime)
endif()
