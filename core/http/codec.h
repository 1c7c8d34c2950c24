/*
 * codec.h -- the wire formats of POST /v1/rank: JSON (jansson) and protobuf
 * (nanopb, schema include/adfunnel/adfunnel.proto).
 *
 * The codecs translate between bytes and the format-independent types of
 * engine/rank_types.h.  They know nothing about HTTP or libevent, so they can
 * be unit-tested and fuzzed on plain buffers.  All functions are thread-safe
 * (no shared state) and never abort on bad input: every failure comes back as
 * a negative AF_E* code with a one-line, human-readable reason in `err`.
 *
 * Request semantics (both formats):
 *   - `surface` is required, 1..AF_SURFACE_MAX-1 bytes;
 *   - `request_id` is optional, at most AF_REQUEST_ID_MAX-1 printable ASCII
 *     characters (it is echoed in the X-Request-Id header);
 *   - user fields that are given set their AF_USER_HAS_* bit; the others are
 *     -1 (id: 0) and are filled by the engine from the user store (protobuf
 *     cannot tell an empty repeated field from an absent one, so there an
 *     empty interests/history list counts as "not given");
 *   - user.geo 0..31, age_band/device/gender 0..7, interests 0..63 (at most
 *     AF_MAX_INTERESTS values), history at most AF_MAX_HISTORY ad ids;
 *   - context.hour 0..23 and context.day_of_week 0..6, -1 when not given;
 *     context.position is always 0 (the serving default).
 */
#ifndef AF_CORE_HTTP_CODEC_H
#define AF_CORE_HTTP_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "engine/rank_types.h"

struct af_buf;
struct af_arena;

/* Valid ranges of the request's user and context fields. */
#define AF_REQ_MAX_GEO 31
#define AF_REQ_MAX_SMALL 7 /* age_band, device, gender */
#define AF_REQ_MAX_INTEREST 63
#define AF_REQ_MAX_HOUR 23
#define AF_REQ_MAX_DAY 6

/* Reset a request to "nothing given": empty strings, no user_has bits, user
 * and context fields -1, position 0.  Both decoders start from this. */
void af_rank_req_init(struct af_rank_req *req);

/* Check the fields a decoder filled (ranges, surface present, request id
 * characters).  Returns 0 or AF_EINVAL with the reason in err. */
int af_rank_req_validate(const struct af_rank_req *req, char *err,
                         size_t errlen);

/* Range check shared by the decoders: 0 when lo <= v <= hi, else AF_EINVAL
 * with "<field> must be in lo..hi (got v)" in err. */
int af_req_check_int(const char *field, long long v, long long lo,
                     long long hi, char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* ## JSON                                                                 */
/* ---------------------------------------------------------------------- */

/*
 * Decode a JSON RankRequest (see README "API").  `body` is borrowed and need
 * not be NUL-terminated.  Unknown keys at any level are rejected (so typos do
 * not silently fall back to defaults); `null` for an optional field means
 * "not given".  Syntax errors report jansson's line:column.
 * Returns 0, or AF_EINVAL with the reason in err (err may be NULL).
 */
int af_json_decode_rank(const char *body, size_t len, struct af_rank_req *out,
                        char *err, size_t errlen);

/*
 * Append the JSON RankResponse of `r` to `out` (stages only when `explain`).
 * Floats are written with the fewest digits that read back to the same
 * float; non-finite values become null.  `r` is borrowed.
 * Returns 0 or AF_ENOMEM (out->oom set).
 */
int af_json_encode_rank(const struct af_rank_resp *r, int explain,
                        struct af_buf *out);

/* Append {"error": msg} (msg escaped) to out.  Returns 0 or AF_ENOMEM. */
int af_json_encode_error(const char *msg, struct af_buf *out);

/* Append `s` as a JSON string literal (quotes included, control characters
 * and invalid UTF-8 escaped/replaced) to out.  Returns 0 or AF_ENOMEM. */
int af_json_append_string(struct af_buf *out, const char *s);

/*
 * Route jansson's allocations made by af_json_decode_rank on the calling
 * thread to `arena` (NULL: back to malloc).  Call once per worker thread;
 * the arena must outlive every decode on that thread and is reset by the
 * caller between requests.  Needs af_json_install_allocator() once per
 * process before any thread uses jansson.
 */
void af_json_use_arena(struct af_arena *arena);

/*
 * Install the jansson allocator that honours af_json_use_arena (process-wide,
 * idempotent, thread-safe).  Threads without an arena, and everything outside
 * af_json_decode_rank, keep using malloc/free, so other jansson users in the
 * process are unaffected.
 */
void af_json_install_allocator(void);

/* ---------------------------------------------------------------------- */
/* ## Protobuf                                                             */
/* ---------------------------------------------------------------------- */

/* Upper bound of an encoded RankResponse / Error (nanopb static sizes). */
size_t af_pb_rank_max_size(void);
size_t af_pb_error_max_size(void);

/*
 * Decode a protobuf RankRequest.  `body` is borrowed.  Same semantics and
 * error messages as the JSON decoder where they apply; wire-format errors
 * are reported as "invalid protobuf: <nanopb reason>".
 * Returns 0, or AF_EINVAL with the reason in err.
 */
int af_pb_decode_rank(const uint8_t *body, size_t len, struct af_rank_req *out,
                      char *err, size_t errlen);

/*
 * Encode `r` as a RankResponse into buf[0..cap) and set *len.  Strings longer
 * than the schema's max_size are truncated at a UTF-8 boundary; more ads,
 * models or stages than the schema holds are cut.  Stages only when explain.
 * Returns 0, or AF_ELIMIT when cap is too small.
 */
int af_pb_encode_rank(const struct af_rank_resp *r, int explain, uint8_t *buf,
                      size_t cap, size_t *len);

/* Encode an Error message (msg truncated to the schema size).
 * Returns 0 or AF_ELIMIT. */
int af_pb_encode_error(const char *msg, uint8_t *buf, size_t cap, size_t *len);

/*
 * Decode a RankResponse produced by af_pb_encode_rank back into `out`, with
 * strings and arrays allocated from `arena` (used by tests and tools; not on
 * the serving path).  Returns 0, AF_EINVAL (err says why) or AF_ENOMEM.
 */
int af_pb_decode_rank_resp(const uint8_t *body, size_t len,
                           struct af_arena *arena, struct af_rank_resp *out,
                           char *err, size_t errlen);

#endif
