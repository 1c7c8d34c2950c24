/*
 * af_errno.h -- error codes shared by the host and plugins.
 *
 * Functions return 0 (AF_OK) on success and a negative AF_E* code on failure.
 * The list is an X-macro so the enum and the names/messages come from one
 * place (the libuv pattern).  af_strerror() and af_err_name() are inline so a
 * plugin can call them without linking against the host.
 */
#ifndef ADFUNNEL_AF_ERRNO_H
#define ADFUNNEL_AF_ERRNO_H

#define AF_ERRNO_MAP(XX)                                                       \
    XX(EINVAL, -1, "invalid argument")                                         \
    XX(ENOMEM, -2, "out of memory")                                            \
    XX(ENOENT, -3, "not found")                                                \
    XX(EIO, -4, "input/output error")                                          \
    XX(ECORRUPT, -5, "corrupt or truncated data")                              \
    XX(EMISMATCH, -6, "version or fingerprint mismatch")                       \
    XX(ETIMEDOUT, -7, "deadline exceeded")                                     \
    XX(ELIMIT, -8, "limit exceeded")                                           \
    XX(EPLUGIN, -9, "plugin failure")                                          \
    XX(EEXIST, -10, "already exists")                                          \
    XX(EBUSY, -11, "resource busy")                                            \
    XX(ENOTSUP, -12, "not supported")

enum af_status {
    AF_OK = 0,
#define AF__ERR_ENUM(name, code, msg) AF_##name = (code),
    AF_ERRNO_MAP(AF__ERR_ENUM)
#undef AF__ERR_ENUM
};

static inline const char *
af_strerror(int code)
{
    switch (code) {
    case AF_OK: return "success";
#define AF__ERR_MSG(name, c, msg) case (c): return msg;
    AF_ERRNO_MAP(AF__ERR_MSG)
#undef AF__ERR_MSG
    default: return "unknown error";
    }
}

static inline const char *
af_err_name(int code)
{
    switch (code) {
    case AF_OK: return "AF_OK";
#define AF__ERR_NAME(name, c, msg) case (c): return "AF_" #name;
    AF_ERRNO_MAP(AF__ERR_NAME)
#undef AF__ERR_NAME
    default: return "AF_UNKNOWN";
    }
}

#endif
