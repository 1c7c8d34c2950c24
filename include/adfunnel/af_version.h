/*
 * af_version.h -- ABI version and build signature of the adfunnel plugin ABI.
 *
 * A plugin records the values below (through AF_PLUGIN_HEADER in af_plugin.h)
 * when it is compiled; the host compares them with its own when it loads the
 * plugin.  The rules, checked in this order:
 *
 *   - abi_major must equal the host's AF_ABI_MAJOR;
 *   - abi_minor must be <= the host's AF_ABI_MINOR (a plugin built against a
 *     newer header may use host services the host does not have);
 *   - the build signature must match exactly (it encodes the sizes of types
 *     that cross the boundary: a mismatch would corrupt memory silently).
 *
 * Minor versions only ever append fields at the end of structs; every struct
 * that crosses the boundary starts with its own size so either side can tell
 * which fields the other one knows.
 */
#ifndef ADFUNNEL_AF_VERSION_H
#define ADFUNNEL_AF_VERSION_H

#define AF_ABI_MAJOR 1
#define AF_ABI_MINOR 0

#include "af_types.h" /* AF_MAX_FIELDS, AF_MAX_DENSE enter the signature */

#define AF_VERSION_STRING "0.1.0"

/* The one symbol every plugin exports (see af_plugin.h). */
#define AF_ENTRY_SYMBOL "af_plugin_entry"

#define AF__STR2(x) #x
#define AF__STR(x) AF__STR2(x)

/*
 * Build signature: pointer size, score type, candidate index width and the
 * compile-time limits of af_types.h.  Any difference in these changes struct
 * layouts, so the host refuses such a plugin instead of guessing.
 */
#define AF_BUILD_SIGNATURE                                                     \
    "af1"                                                                      \
    "-p" AF__STR(__SIZEOF_POINTER__)                                           \
    "-f4-i4"                                                                   \
    "-mf" AF__STR(AF_MAX_FIELDS)                                               \
    "-md" AF__STR(AF_MAX_DENSE)

#endif
