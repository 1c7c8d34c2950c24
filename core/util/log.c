#include "util/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The only process-wide mutable state of the logger: the level, set once at
 * start and read with relaxed atomics. */
static atomic_int min_level = AF_LOG_LEVEL_INFO;

static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void
af_log_set_level(int level)
{
    atomic_store_explicit(&min_level, level, memory_order_relaxed);
}

void
af_logv(int level, const char *where, const char *fmt, va_list ap)
{
    if (level < atomic_load_explicit(&min_level, memory_order_relaxed))
        return;
    if (level < 0 || level > AF_LOG_LEVEL_ERROR)
        level = AF_LOG_LEVEL_ERROR;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* One fprintf per line so concurrent workers do not interleave. */
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%s] %s\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
            tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level],
            where ? where : "adfunnel", msg);
}

void
af_log(int level, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    af_logv(level, where, fmt, ap);
    va_end(ap);
}
