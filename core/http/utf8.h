/*
 * utf8.h -- UTF-8 validation for the codecs.  Strings echoed back to clients
 * (error messages quoting the request, names from plugins) must be valid
 * UTF-8 in both JSON and protobuf, whatever bytes the request carried.
 */
#ifndef AF_CORE_HTTP_UTF8_H
#define AF_CORE_HTTP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length (1..4) of the well-formed UTF-8 sequence at s[0..n), or 0 when the
 * bytes there are not one (overlong forms, surrogates and code points above
 * U+10FFFF are rejected, as RFC 3629 requires).  n must be >= 1.
 */
static inline size_t
af_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

/*
 * Copy src into dst[0..cap) as valid UTF-8: invalid bytes become '?', and the
 * copy is cut at a character boundary so it fits with its NUL.  Returns the
 * bytes written (without the NUL).  cap must be >= 1.
 */
static inline size_t
af_utf8_copy(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    if (src) {
        const unsigned char *s = (const unsigned char *)src;
        size_t n = 0;
        while (s[n])
            n++;
        size_t i = 0;
        while (i < n) {
            size_t l = af_utf8_seq_len(s + i, n - i);
            size_t w = l ? l : 1;
            if (o + w >= cap)
                break;
            if (l) {
                for (size_t k = 0; k < l; k++)
                    dst[o++] = (char)s[i + k];
            } else {
                dst[o++] = '?';
            }
            i += w;
        }
    }
    dst[o] = '\0';
    return o;
}

#endif
