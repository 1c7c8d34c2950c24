/*
 * token.h -- bearer tokens of the admin API.
 *
 * The token file holds one token per line, either "ID:TOKEN" or just
 * "TOKEN" (its id is then "token<line>"); blank lines and lines starting
 * with '#' are ignored.  Tokens are at least 16 printable, non-space
 * characters.  The id -- never the token -- is what the audit log records
 * as "who".  The file must not be readable or writable by others, nor
 * writable by its group (chmod 600), like an ssh key.
 *
 * Only SHA-256 digests of the tokens are kept in memory, and a presented
 * token is compared with every stored digest with CRYPTO_memcmp, so the
 * time taken depends neither on how many leading characters match nor on
 * which token matched.
 */
#ifndef AF_CORE_ADMIN_TOKEN_H
#define AF_CORE_ADMIN_TOKEN_H

#include <stddef.h>

#define AF_TOKEN_MIN_LEN 16
#define AF_TOKEN_MAX_LEN 256
#define AF_TOKEN_ID_MAX 64

typedef struct af_tokens af_tokens;

/* Load and check the token file.  NULL with "file: reason" in err. */
af_tokens *af_tokens_load(const char *file, char *err, size_t errlen);
void af_tokens_free(af_tokens *t);

/* The id of the token `presented` (len bytes), or NULL when it matches
 * none.  The returned string is owned by t. */
const char *af_tokens_check(const af_tokens *t, const char *presented,
                            size_t len);

/* The first token of a token file (for `adfunnel ctl`), or the one with id
 * `id` when not NULL.  Writes it into out[n]; 0 or a negative AF_E* with
 * the reason in err. */
int af_tokens_read_one(const char *file, const char *id, char *out, size_t n,
                       char *err, size_t errlen);

#endif
