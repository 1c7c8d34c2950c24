# find_package(adfunnel) -- the adfunnel plugin SDK.
#
# Provides ADFUNNEL_INCLUDE_DIR and the function adfunnel_add_plugin(); see
# AdfunnelPlugin.cmake next to this file.
get_filename_component(_af_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(ADFUNNEL_INCLUDE_DIR "${_af_prefix}/include")
set(ADFUNNEL_PLUGIN_DIR "${_af_prefix}/lib/adfunnel/plugins")
include("${CMAKE_CURRENT_LIST_DIR}/AdfunnelPlugin.cmake")
unset(_af_prefix)
