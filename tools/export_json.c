/* JSON Lines and HAR 1.2 export. */
#include "tools/export.h"

#include <stdio.h>

#include "formats/headers.h"
#include "tools/cli.h"

/* Record flags and their names in JSON, HAS_RESPONSE aside: the
 * "response" member stands for it. */
static const struct { uint32_t bit; const char *name; } flag_names[] = {
    { RP_REC_CHUNKED, "chunked" }, { RP_REC_TRUNCATED, "truncated" },
    { RP_REC_UPGRADE, "upgrade" }, { RP_REC_CONNECT, "connect" },
    { RP_REC_RESP_TRUNCATED, "response_truncated" }, { RP_REC_REDACTED, "redacted" },
};

/* Writes v as a JSON integer, or as a decimal string above 2^63 - 1,
 * which many JSON parsers (jansson among them) cannot read as a number. */
static void put_u64(rp_out *o, uint64_t v)
{
    if (v > (uint64_t)INT64_MAX) {
        rp_out_char(o, '"');
        rp_out_u64(o, v);
        rp_out_char(o, '"');
    } else {
        rp_out_u64(o, v);
    }
}

static void put_time(rp_export *x, uint64_t ns, int digits)
{
    /* gmtime and strftime cost more than the rest of a record, so the
     * seconds part is formatted once per second. */
    uint64_t sec = ns / 1000000000u;
    if (x->time_text[0] == '\0' || sec != x->time_sec) {
        rp_format_time(sec * 1000000000u, 3, x->time_text);
        x->time_sec = sec;
    }
    char frac[16];
    uint64_t f = ns % 1000000000u;
    if (digits == 3)
        f /= 1000000u;
    for (int i = digits - 1; i >= 0; i--) {
        frac[i] = (char)('0' + f % 10);
        f /= 10;
    }
    rp_out_char(x->out, '"');
    rp_out_bytes(x->out, x->time_text, 20);    /* "YYYY-MM-DDTHH:MM:SS." */
    rp_out_bytes(x->out, frac, (size_t)digits);
    rp_out_lit(x->out, "Z\"");
}

/* Writes "key":"text" when value is UTF-8, else "key_base64":"...". */
static void put_text_member(rp_out *o, const char *key, const void *value, size_t len)
{
    rp_out_char(o, '"');
    rp_out_str(o, key);
    rp_out_lit(o, "\":");
    size_t mark = o->len;
    if (rp_out_json_utf8(o, value, len) == 0)
        return;
    o->len = mark - 2;      /* rp_out_json_utf8 wrote nothing */
    rp_out_lit(o, "_base64\":");
    rp_out_json_base64(o, value, len);
}

/* Writes the headers as [name, value] pairs when every line is "Name:
 * value" with CRLF and one space after the colon, because then the pairs
 * give the bytes back exactly. Otherwise it writes one string,
 * "headers_raw" (or "headers_raw_base64"). The pairs are written in one
 * pass and rolled back at the first line that does not fit, so the whole
 * section must stay in the buffer: room for its worst case is made first. */
static void put_headers(rp_out *o, const rp_record *rec)
{
    size_t room = 6 * (size_t)rec->headers_len + 16 * 4096;
    if (rec->headers_len <= 65536) {
        rp_out_room(o, room);
        size_t mark = o->len;
        rp_out_lit(o, ",\"headers\":[");
        rp_header_iter it;
        rp_header h;
        rp_header_iter_init(&it, rec->headers, rec->headers_len);
        int ok = 1;
        for (int first = 1; ok && rp_header_next(&it, &h); first = 0) {
            ok = h.crlf && h.has_colon && h.name_len > 0 && h.line_len >= h.name_len + 2 &&
                 h.line[h.name_len + 1] == ' ';
            if (!ok)
                break;
            if (!first)
                rp_out_char(o, ',');
            rp_out_char(o, '[');
            /* The value as stored, after ": ", untrimmed. */
            ok = rp_out_json_utf8(o, h.name, h.name_len) == 0;
            rp_out_char(o, ',');
            ok = ok && rp_out_json_utf8(o, h.name + h.name_len + 2,
                                        h.line_len - h.name_len - 2) == 0;
            rp_out_char(o, ']');
        }
        if (ok) {
            rp_out_char(o, ']');
            return;
        }
        o->len = mark;
    }
    rp_out_char(o, ',');
    put_text_member(o, "headers_raw", rec->headers, rec->headers_len);
}

static void put_flags(rp_out *o, uint32_t flags)
{
    rp_out_lit(o, ",\"flags\":[");
    int first = 1;
    flags &= ~RP_REC_HAS_RESPONSE;
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
        if (!(flags & flag_names[i].bit))
            continue;
        if (!first)
            rp_out_char(o, ',');
        rp_out_char(o, '"');
        rp_out_str(o, flag_names[i].name);
        rp_out_char(o, '"');
        flags &= ~flag_names[i].bit;
        first = 0;
    }
    for (int bit = 0; bit < 32; bit++) {     /* bits of a newer version */
        if (!(flags & (1u << bit)))
            continue;
        char name[16];
        snprintf(name, sizeof name, "%s\"0x%x\"", first ? "" : ",", 1u << bit);
        rp_out_str(o, name);
        first = 0;
    }
    rp_out_char(o, ']');
}

void rp_export_jsonl(rp_export *x, const rp_record *rec)
{
    rp_out *o = x->out;
    rp_out_lit(o, "{\"ts_ns\":");
    put_u64(o, rec->ts_ns);
    rp_out_lit(o, ",\"time\":");
    put_time(x, rec->ts_ns, 9);
    rp_out_lit(o, ",\"conn_id\":");
    put_u64(o, rec->conn_id);
    rp_out_char(o, ',');
    put_text_member(o, "method", rec->method, rec->method_len);
    rp_out_char(o, ',');
    put_text_member(o, "target", rec->target, rec->target_len);
    rp_out_lit(o, ",\"version\":\"");
    rp_out_u64(o, rec->http_major);
    rp_out_char(o, '.');
    rp_out_u64(o, rec->http_minor);
    rp_out_char(o, '"');
    put_headers(o, rec);
    rp_out_char(o, ',');
    put_text_member(o, "body", rec->body, rec->body_len);
    put_flags(o, rec->flags);
    if (rec->flags & RP_REC_HAS_RESPONSE) {
        rp_out_lit(o, ",\"response\":{\"status\":");
        rp_out_u64(o, rec->resp_status);
        rp_out_lit(o, ",\"ttfb_ns\":");
        put_u64(o, rec->resp_ttfb_ns);
        rp_out_lit(o, ",\"ttlb_ns\":");
        put_u64(o, rec->resp_ttlb_ns);
        rp_out_lit(o, ",\"bytes\":");
        put_u64(o, rec->resp_bytes);
        rp_out_char(o, '}');
    }
    rp_out_lit(o, "}\n");
    x->written++;
}

/* ---- HAR ---- */

void rp_export_har_begin(rp_export *x, const rp_trace_info *info)
{
    rp_out *o = x->out;
    const char *version = RP_VERSION_STRING + sizeof "reprise";
    rp_out_lit(o, "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"reprise\",\"version\":");
    rp_out_json_lossy(o, version, strlen(version));
    rp_out_lit(o, "},\"comment\":");
    char note[512];
    snprintf(note, sizeof note, "exported from a reprise trace of %s", info->source);
    rp_out_json_lossy(o, note, strlen(note));
    rp_out_lit(o, ",\"pages\":[],\"entries\":[");
}

static void put_ms(rp_out *o, uint64_t ns)
{
    char t[32];
    snprintf(t, sizeof t, "%.3f", (double)ns / 1e6);
    rp_out_str(o, t);
}

static void put_name_value(rp_out *o, const char *name, size_t nlen, const char *value,
                           size_t vlen)
{
    rp_out_lit(o, "{\"name\":");
    rp_out_json_lossy(o, name, nlen);
    rp_out_lit(o, ",\"value\":");
    rp_out_json_lossy(o, value, vlen);
    rp_out_char(o, '}');
}

/* Query parameters as they appear in the target, not percent-decoded. */
static void put_query(rp_out *o, const rp_record *rec)
{
    rp_out_lit(o, ",\"queryString\":[");
    const char *q = memchr(rec->target, '?', rec->target_len);
    const char *end = rec->target + rec->target_len;
    const char *hash = q ? memchr(q, '#', (size_t)(end - q)) : NULL;
    if (hash != NULL)
        end = hash;
    for (int first = 1; q != NULL && q < end; first = 0) {
        const char *p = q + 1;
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (!first)
            rp_out_char(o, ',');
        if (eq != NULL)
            put_name_value(o, p, (size_t)(eq - p), eq + 1, (size_t)(stop - eq - 1));
        else
            put_name_value(o, p, (size_t)(stop - p), "", 0);
        q = amp;
    }
    rp_out_char(o, ']');
}

static void put_har_request(rp_export *x, const rp_record *rec)
{
    rp_out *o = x->out;
    rp_out_lit(o, "\"request\":{\"method\":");
    rp_out_json_lossy(o, rec->method, rec->method_len);
    rp_out_lit(o, ",\"url\":");
    size_t url_len = rp_export_url(x, rec);
    rp_out_json_lossy(o, x->scratch, url_len);
    char v[32];
    snprintf(v, sizeof v, ",\"httpVersion\":\"HTTP/%u.%u\"", rec->http_major, rec->http_minor);
    rp_out_str(o, v);
    rp_out_lit(o, ",\"cookies\":[],\"headers\":[");
    rp_header_iter it;
    rp_header h;
    rp_header_iter_init(&it, rec->headers, rec->headers_len);
    for (int first = 1; rp_header_next(&it, &h); first = 0) {
        if (!first)
            rp_out_char(o, ',');
        put_name_value(o, h.name, h.name_len, h.value, h.value_len);
    }
    rp_out_char(o, ']');
    put_query(o, rec);
    if (rec->body_len > 0) {
        const char *ct;
        size_t ct_len = rp_headers_find(rec->headers, rec->headers_len, "content-type", &ct);
        rp_out_lit(o, ",\"postData\":{\"mimeType\":");
        rp_out_json_lossy(o, ct ? ct : "", ct_len);
        rp_out_lit(o, ",\"text\":");
        if (rp_out_json_utf8(o, rec->body, rec->body_len) != 0) {
            /* HAR has no encoding member for postData: the text is
             * lossy and _base64 keeps the exact bytes. */
            rp_out_json_lossy(o, rec->body, rec->body_len);
            rp_out_lit(o, ",\"_base64\":");
            rp_out_json_base64(o, rec->body, rec->body_len);
        }
        rp_out_char(o, '}');
    }
    rp_out_lit(o, ",\"headersSize\":-1,\"bodySize\":");
    rp_out_u64(o, rec->body_len);
    rp_out_char(o, '}');
}

void rp_export_har(rp_export *x, const rp_record *rec)
{
    rp_out *o = x->out;
    int resp = (rec->flags & RP_REC_HAS_RESPONSE) != 0;
    if (x->written > 0)
        rp_out_char(o, ',');
    rp_out_lit(o, "\n{\"startedDateTime\":");
    put_time(x, rec->ts_ns, 3);
    rp_out_lit(o, ",\"time\":");
    put_ms(o, resp ? rec->resp_ttlb_ns : 0);
    rp_out_char(o, ',');
    put_har_request(x, rec);

    char v[96];
    snprintf(v, sizeof v, ",\"response\":{\"status\":%u,\"statusText\":\"\",\"httpVersion\":"
             "\"HTTP/%u.%u\"", resp ? rec->resp_status : 0, rec->http_major, rec->http_minor);
    rp_out_str(o, v);
    rp_out_lit(o, ",\"cookies\":[],\"headers\":[],\"content\":{\"size\":0,\"mimeType\":\"\"},"
               "\"redirectURL\":\"\",\"headersSize\":-1,\"bodySize\":-1,\"_transferSize\":");
    if (resp)
        rp_out_u64(o, rec->resp_bytes);
    else
        rp_out_lit(o, "-1");
    rp_out_lit(o, "},\"cache\":{},\"timings\":{\"send\":0,\"wait\":");
    put_ms(o, resp ? rec->resp_ttfb_ns : 0);
    rp_out_lit(o, ",\"receive\":");
    put_ms(o, resp && rec->resp_ttlb_ns > rec->resp_ttfb_ns ? rec->resp_ttlb_ns - rec->resp_ttfb_ns : 0);
    rp_out_lit(o, "},\"connection\":\"");
    rp_out_u64(o, rec->conn_id);
    rp_out_lit(o, "\",\"_ts_ns\":");
    put_u64(o, rec->ts_ns);
    rp_out_lit(o, ",\"_flags\":");
    rp_out_u64(o, rec->flags);
    rp_out_char(o, '}');
    x->written++;
}

void rp_export_har_end(rp_export *x)
{
    rp_out_lit(x->out, "\n]}}\n");
}
