/*
 * codec_req.c -- what both request decoders share: the "nothing given"
 * request and the checks on the decoded fields, so JSON and protobuf accept
 * and reject exactly the same requests with the same messages.
 */
#include "http/codec.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "adfunnel/af_errno.h"

void
af_rank_req_init(struct af_rank_req *req)
{
    /* memset, not an initializer: the decoders' outputs are compared with
     * memcmp in tests, so padding must be equal too. */
    memset(req, 0, sizeof *req);
    req->user.geo = -1;
    req->user.age_band = -1;
    req->user.device = -1;
    req->user.gender = -1;
    req->context.hour = -1;
    req->context.day_of_week = -1;
    req->context.position = 0;
}

int
af_req_check_int(const char *field, long long v, long long lo, long long hi,
                 char *err, size_t errlen)
{
    if (v >= lo && v <= hi)
        return AF_OK;
    if (!err || !errlen)
        return AF_EINVAL;
    if (lo == 0 && hi == LLONG_MAX)
        snprintf(err, errlen, "%s must be a non-negative integer (got %lld)",
                 field, v);
    else
        snprintf(err, errlen, "%s must be in %lld..%lld (got %lld)", field, lo,
                 hi, v);
    return AF_EINVAL;
}

/* Printable ASCII without spaces: safe in a header, a log line and a metric
 * label without escaping. */
static int
is_token(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static int
fail(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return AF_EINVAL;
}

static int
validate_user(const struct af_rank_req *req, char *err, size_t errlen)
{
    const struct af_user *u = &req->user;
    int rc = AF_OK;
    if (req->user_has & AF_USER_HAS_GEO)
        rc = af_req_check_int("user.geo", u->geo, 0, AF_REQ_MAX_GEO, err,
                              errlen);
    if (rc == AF_OK && (req->user_has & AF_USER_HAS_AGE))
        rc = af_req_check_int("user.age_band", u->age_band, 0,
                              AF_REQ_MAX_SMALL, err, errlen);
    if (rc == AF_OK && (req->user_has & AF_USER_HAS_DEVICE))
        rc = af_req_check_int("user.device", u->device, 0, AF_REQ_MAX_SMALL,
                              err, errlen);
    if (rc == AF_OK && (req->user_has & AF_USER_HAS_GENDER))
        rc = af_req_check_int("user.gender", u->gender, 0, AF_REQ_MAX_SMALL,
                              err, errlen);
    if (rc == AF_OK && u->n_history > AF_MAX_HISTORY)
        rc = af_req_check_int("number of user.history entries", u->n_history,
                              0, AF_MAX_HISTORY, err, errlen);
    return rc;
}

int
af_rank_req_validate(const struct af_rank_req *req, char *err, size_t errlen)
{
    if (req->surface[0] == '\0')
        return fail(err, errlen, "missing \"surface\" (the ad surface to rank "
                                 "for, e.g. \"home_feed\")");
    if (!is_token(req->surface))
        return fail(err, errlen, "surface must be printable ASCII without "
                                 "spaces");
    if (!is_token(req->request_id))
        return fail(err, errlen, "request_id must be printable ASCII without "
                                 "spaces");
    int rc = validate_user(req, err, errlen);
    if (rc != AF_OK)
        return rc;
    if (req->context.hour != -1) {
        rc = af_req_check_int("context.hour", req->context.hour, 0,
                              AF_REQ_MAX_HOUR, err, errlen);
        if (rc != AF_OK)
            return rc;
    }
    if (req->context.day_of_week != -1)
        rc = af_req_check_int("context.day_of_week", req->context.day_of_week,
                              0, AF_REQ_MAX_DAY, err, errlen);
    return rc;
}
