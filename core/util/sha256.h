/* sha256.h -- hex SHA-256 of a file or buffer (OpenSSL's libcrypto). */
#ifndef AF_CORE_SHA256_H
#define AF_CORE_SHA256_H

#include <stddef.h>

/* Write 64 hex digits + NUL into hex[65].  0 or a negative AF_E*. */
int af_sha256_file(const char *path, char hex[65]);
void af_sha256_buf(const void *data, size_t len, char hex[65]);

#endif
