/* adfunnel.h -- everything a plugin includes. */
#ifndef ADFUNNEL_ADFUNNEL_H
#define ADFUNNEL_ADFUNNEL_H
#include "af_errno.h"
#include "af_host_api.h"
#include "af_plugin.h"
#include "af_types.h"
#include "af_version.h"
#endif
