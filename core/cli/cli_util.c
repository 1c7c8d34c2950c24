#include "cli/cli_util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *
af_cli_default_plugin_dir(char *buf, size_t n)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(buf, n, "plugins");
        return buf;
    }
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* Build tree: build/plugins next to build/adfunnel.  Installed:
     * PREFIX/lib/adfunnel/plugins next to PREFIX/bin. */
    snprintf(buf, n, "%s/plugins", exe);
    if (access(buf, F_OK) != 0)
        snprintf(buf, n, "%s/../lib/adfunnel/plugins", exe);
    return buf;
}
