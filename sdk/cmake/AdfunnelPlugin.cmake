# adfunnel_add_plugin(<name> SOURCES <files...> [LIBRARIES <libs...>])
#
# Builds plugin <name> as a shared object `<name>.so` against the adfunnel ABI
# headers only: hidden visibility (only af_plugin_entry is exported) and
# --no-undefined, so a plugin that reaches for a host symbol fails to link
# instead of failing at load time.
function(adfunnel_add_plugin name)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX "" OUTPUT_NAME ${name}
    C_VISIBILITY_PRESET hidden)
  if(P_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
  elseif(AF_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${AF_PLUGIN_OUTPUT_DIR})
  endif()
  target_include_directories(${name} PRIVATE ${ADFUNNEL_INCLUDE_DIR})
  # Sanitizer runtimes are provided by the host executable.
  if(NOT AF_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  target_link_libraries(${name} PRIVATE m ${P_LIBRARIES})
endfunction()
