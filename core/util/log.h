/*
 * log.h -- the host's log: one line per event on stderr,
 * "2026-11-22T01:02:03.456Z LEVEL [where] message".
 */
#ifndef AF_CORE_LOG_H
#define AF_CORE_LOG_H

#include <stdarg.h>

enum { AF_LOG_LEVEL_DEBUG, AF_LOG_LEVEL_INFO, AF_LOG_LEVEL_WARN, AF_LOG_LEVEL_ERROR };

void af_log(int level, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void af_logv(int level, const char *where, const char *fmt, va_list ap);
/* Lines below this level are not written (default: INFO; AF_LOG=debug). */
void af_log_set_level(int level);

#endif
