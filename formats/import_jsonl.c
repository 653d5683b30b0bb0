/* Import of JSON Lines as reprise export writes them: one object per
 * line, each member as docs/trace-tools.md lists it. The round trip
 * export, import gives back the same records, byte for byte. */
#include "formats/import_impl.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct jsonl {
    struct import_run *x;
    struct rec_builder b;
    uint8_t *tmp;             /* base64 decoding */
    size_t tmp_cap;
};

/* Reads an unsigned 64-bit member: a JSON integer, or a decimal string
 * for values above 2^63 - 1, which JSON parsers differ on. */
static int get_u64(json_t *o, const char *key, uint64_t *v, int required)
{
    json_t *j = json_object_get(o, key);
    if (j == NULL)
        return required ? -1 : 0;
    if (json_is_integer(j) && json_integer_value(j) >= 0) {
        *v = (uint64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        if (s[0] >= '0' && s[0] <= '9') {
            unsigned long long x = strtoull(s, &end, 10);
            if (*end == '\0') {
                *v = x;
                return 0;
            }
        }
    }
    return -1;
}

/* Sets field from "key" (UTF-8 text) or "key_base64". Returns NULL or
 * what is wrong. */
static const char *get_bytes(struct jsonl *j, json_t *o, const char *key, int field,
                             int required)
{
    char b64key[64];
    snprintf(b64key, sizeof b64key, "%s_base64", key);
    json_t *text = json_object_get(o, key), *b64 = json_object_get(o, b64key);
    if (text != NULL) {
        if (!json_is_string(text))
            return "a member is not a string";
        rb_set(&j->b, field, json_string_value(text), json_string_length(text));
        return NULL;
    }
    if (b64 != NULL) {
        if (!json_is_string(b64))
            return "a member is not a string";
        size_t n = json_string_length(b64);
        if (n / 4 * 3 + 3 > j->tmp_cap) {
            uint8_t *t = realloc(j->tmp, n / 4 * 3 + 3);
            if (t == NULL)
                return "out of memory";
            j->tmp = t;
            j->tmp_cap = n / 4 * 3 + 3;
        }
        long len = rp_import_base64_decode(json_string_value(b64), n, j->tmp);
        if (len < 0)
            return "a _base64 member is not valid base64";
        rb_set(&j->b, field, j->tmp, (size_t)len);
        return NULL;
    }
    rb_set(&j->b, field, NULL, 0);
    return required ? "a required member is missing" : NULL;
}

static const char *get_headers(struct jsonl *j, json_t *o)
{
    json_t *list = json_object_get(o, "headers");
    if (list == NULL)
        return get_bytes(j, o, "headers_raw", RB_HEADERS, 0);
    if (!json_is_array(list))
        return "\"headers\" is not an array";
    rb_set(&j->b, RB_HEADERS, NULL, 0);
    size_t i;
    json_t *pair;
    json_array_foreach(list, i, pair) {
        json_t *name = json_array_get(pair, 0), *value = json_array_get(pair, 1);
        if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_string(name) ||
            !json_is_string(value))
            return "a header is not a [name, value] pair of strings";
        rb_append(&j->b, RB_HEADERS, json_string_value(name), json_string_length(name));
        rb_append(&j->b, RB_HEADERS, ": ", 2);
        rb_append(&j->b, RB_HEADERS, json_string_value(value), json_string_length(value));
        rb_append(&j->b, RB_HEADERS, "\r\n", 2);
    }
    return NULL;
}

static const struct { uint32_t bit; const char *name; } flag_names[] = {
    { RP_REC_CHUNKED, "chunked" }, { RP_REC_TRUNCATED, "truncated" },
    { RP_REC_UPGRADE, "upgrade" }, { RP_REC_CONNECT, "connect" },
    { RP_REC_RESP_TRUNCATED, "response_truncated" }, { RP_REC_REDACTED, "redacted" },
};

static const char *get_flags(json_t *o, uint32_t *flags)
{
    json_t *list = json_object_get(o, "flags"), *f;
    size_t i;
    *flags = 0;
    if (list == NULL)
        return NULL;
    if (!json_is_array(list))
        return "\"flags\" is not an array";
    json_array_foreach(list, i, f) {
        const char *name = json_string_value(f);
        if (name == NULL)
            return "a flag is not a string";
        size_t k;
        for (k = 0; k < sizeof flag_names / sizeof flag_names[0]; k++)
            if (strcmp(name, flag_names[k].name) == 0)
                break;
        if (k < sizeof flag_names / sizeof flag_names[0]) {
            *flags |= flag_names[k].bit;
            continue;
        }
        /* A flag of a newer version, written by its value. */
        char *end;
        unsigned long v = strtoul(name, &end, 16);
        if (strncmp(name, "0x", 2) != 0 || *end != '\0' || v == 0 || v > UINT32_MAX)
            return "a flag name is not known";
        *flags |= (uint32_t)v;
    }
    return NULL;
}

static const char *get_response(json_t *o, rp_record *rec)
{
    json_t *r = json_object_get(o, "response");
    uint64_t status = 0;
    if (r == NULL || json_is_null(r))
        return NULL;
    if (!json_is_object(r) || get_u64(r, "status", &status, 1) != 0 || status > 65535 ||
        get_u64(r, "ttfb_ns", &rec->resp_ttfb_ns, 0) != 0 ||
        get_u64(r, "ttlb_ns", &rec->resp_ttlb_ns, 0) != 0 ||
        get_u64(r, "bytes", &rec->resp_bytes, 0) != 0)
        return "\"response\" is not an object with a status from 0 to 65535 and "
               "non-negative integers";
    rec->resp_status = (uint16_t)status;
    rec->flags |= RP_REC_HAS_RESPONSE;
    return NULL;
}

static const char *get_version(json_t *o, rp_record *rec)
{
    const char *v = json_string_value(json_object_get(o, "version"));
    unsigned major = 1, minor = 1;
    int used = 0;
    if (v != NULL && (sscanf(v, "%u.%u%n", &major, &minor, &used) != 2 || v[used] != '\0' ||
                      major > 255 || minor > 255))
        return "\"version\" is not MAJOR.MINOR";
    rec->http_major = (uint8_t)major;
    rec->http_minor = (uint8_t)minor;
    return NULL;
}

/* Builds rec from one parsed line. Returns NULL or what is wrong. */
static const char *decode(struct jsonl *j, json_t *o, rp_record *rec, uint64_t lineno)
{
    const char *why;
    memset(rec, 0, sizeof *rec);
    rb_reset(&j->b);
    if (!json_is_object(o))
        return "it is not a JSON object";
    if (get_u64(o, "ts_ns", &rec->ts_ns, 0) != 0)
        return "\"ts_ns\" is not a non-negative integer";
    if (json_object_get(o, "ts_ns") == NULL) {
        const char *t = json_string_value(json_object_get(o, "time"));
        if (t == NULL || rp_parse_rfc3339(t, strlen(t), &rec->ts_ns) != 0)
            return "it has neither \"ts_ns\" nor an RFC 3339 \"time\"";
    }
    rec->conn_id = lineno;
    if (get_u64(o, "conn_id", &rec->conn_id, 0) != 0)
        return "\"conn_id\" is not a non-negative integer";
    if ((why = get_bytes(j, o, "method", RB_METHOD, 1)) != NULL ||
        (why = get_bytes(j, o, "target", RB_TARGET, 1)) != NULL ||
        (why = get_headers(j, o)) != NULL || (why = get_bytes(j, o, "body", RB_BODY, 0)) != NULL ||
        (why = get_flags(o, &rec->flags)) != NULL || (why = get_version(o, rec)) != NULL ||
        (why = get_response(o, rec)) != NULL)
        return why;
    if (j->b.oom)
        return "out of memory";
    rb_finish(&j->b, rec);
    return NULL;
}

static int read_lines(struct jsonl *j, struct line_reader *lr)
{
    struct import_run *x = j->x;
    for (;;) {
        char *line;
        size_t len;
        int too_long, last;
        int rc = rp_line_next(lr, &line, &len, &too_long, &last);
        if (rc < 0)
            return rp_import_io_error(x);
        if (rc == 0)
            return 0;
        x->st->items++;
        if (too_long) {
            rp_import_skip(x, lr->lineno, "the line is longer than %u bytes",
                           RP_IMPORT_MAX_ITEM);
            continue;
        }
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
            len--;
        if (len == 0) {
            x->st->ignored++;
            continue;
        }
        json_error_t e;
        json_t *o = json_loadb(line, len, JSON_ALLOW_NUL, &e);
        if (o == NULL) {
            rp_import_skip(x, lr->lineno, "invalid JSON at column %d: %s%s", e.column, e.text,
                           last ? " (the file ends inside this line: truncated?)" : "");
            continue;
        }
        rp_record rec;
        const char *why = decode(j, o, &rec, lr->lineno);
        if (why != NULL) {
            rp_import_skip(x, lr->lineno, "not a request: %s", why);
        } else if ((rc = rp_import_emit(x, &rec)) != 0) {
            json_decref(o);
            return rc;
        }
        json_decref(o);
    }
}

int rp_import_jsonl(struct import_run *x)
{
    struct jsonl j = { .x = x };
    struct line_reader lr = { .f = x->f };
    int rc = read_lines(&j, &lr);
    rp_line_free(&lr);
    rb_free(&j.b);
    free(j.tmp);
    return rc;
}
