/* Endpoint templates; the folding rules are in endpoint.h. */
#include "formats/endpoint.h"

#include <string.h>

/* Output with snprintf-like truncation: len counts every byte offered. */
struct out {
    char *p;
    size_t cap, len;
};

static void emit(struct out *o, const char *s, size_t n)
{
    if (o->len + 1 < o->cap) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->p + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return 0;
    }
    return 1;
}

/* Returns the placeholder for a segment, or NULL to keep it. */
static const char *placeholder(const char *s, size_t n)
{
    if (n == 0)
        return NULL;
    size_t digits = 0, hex = 0;
    for (size_t i = 0; i < n; i++) {
        digits += is_digit(s[i]);
        hex += is_hex(s[i]);
    }
    if (digits == n)
        return "{id}";
    if (hex == n && n >= 8 && digits > 0)
        return "{hex}";
    if (is_uuid(s, n))
        return "{uuid}";
    return NULL;
}

/* Returns where the path of target starts and sets *len to its length,
 * without query or fragment. */
static const char *path_of(const char *target, size_t target_len, size_t *len)
{
    const char *p = target, *end = target + target_len;
    const char *scheme = memchr(target, ':', target_len);

    /* Absolute form: scheme "://" authority path. */
    if (target_len > 0 && target[0] != '/' && scheme != NULL &&
        (size_t)(end - scheme) >= 3 && memcmp(scheme, "://", 3) == 0) {
        const char *slash = memchr(scheme + 3, '/', (size_t)(end - scheme - 3));
        p = slash ? slash : end;
    }
    const char *stop = p;
    while (stop < end && *stop != '?' && *stop != '#')
        stop++;
    *len = (size_t)(stop - p);
    return p;
}

size_t rp_endpoint_normalize_path(const char *target, size_t target_len,
                                  char *out, size_t outlen)
{
    struct out o = { out, outlen, 0 };
    int whole = target_len > 0 && target[0] != '/' && target[0] != '?' && target[0] != '#' &&
                (target_len < 3 || memmem(target, target_len, "://", 3) == NULL);
    if (whole) {
        /* Authority form, asterisk form, or a target we cannot parse. */
        emit(&o, target, target_len);
    } else {
        size_t n;
        const char *p = path_of(target, target_len, &n), *end = p + n;
        if (n == 0)
            emit(&o, "/", 1);
        while (p < end) {
            const char *seg_end = memchr(p, '/', (size_t)(end - p));
            if (seg_end == NULL)
                seg_end = end;
            const char *ph = placeholder(p, (size_t)(seg_end - p));
            if (ph != NULL)
                emit(&o, ph, strlen(ph));
            else
                emit(&o, p, (size_t)(seg_end - p));
            if (seg_end < end)
                emit(&o, "/", 1);
            p = seg_end + 1;
        }
    }
    if (outlen > 0)
        out[o.len < outlen ? o.len : outlen - 1] = '\0';
    return o.len;
}

size_t rp_endpoint_normalize(const char *method, size_t method_len,
                             const char *target, size_t target_len,
                             char *out, size_t outlen)
{
    struct out o = { out, outlen, 0 };
    emit(&o, method, method_len);
    emit(&o, " ", 1);
    size_t used = o.len < outlen ? o.len : (outlen ? outlen - 1 : 0);
    size_t n = rp_endpoint_normalize_path(target, target_len, out + used,
                                          outlen - used);
    return o.len + n;
}
