/* Import of web server access logs in the common or combined format,
 * as nginx and Apache write them by default:
 *
 *   127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "ref" "agent"
 *
 * A log line records the method, the target, the HTTP version and the
 * time (to the second), and no headers or body. The requests imported
 * carry just those, with no Host header and no response. Each becomes its own
 * connection. Servers log a request when it ends, so lines are only
 * roughly in time order; rp_import_order puts them back in order. */
#include "formats/import_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Parses "10/Oct/2000:13:55:36 -0700". */
static int parse_log_time(const char *s, size_t n, uint64_t *ns)
{
    char mon[4];
    int d, y, h, mi, sec, off, used = 0;
    char text[40];
    if (n >= sizeof text)
        return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    if (sscanf(text, "%2d/%3s/%4d:%2d:%2d:%2d %d%n", &d, mon, &y, &h, &mi, &sec, &off,
               &used) != 7 || text[used] != '\0')
        return -1;
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, months[i]) == 0)
            m = i;
    int oh = abs(off) / 100, om = abs(off) % 100;
    if (m < 0 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = m, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = sec };
    time_t t = timegm(&tm);
    long offset = (off < 0 ? -1 : 1) * (long)(oh * 3600 + om * 60);
    if (t == (time_t)-1 || t - offset < 0)
        return -1;
    *ns = (uint64_t)(t - offset) * 1000000000u;
    return 0;
}

/* Finds the quoted request field from q (just after its opening quote):
 * nginx writes a quote inside it as \x22, Apache as \". Returns the
 * closing quote or NULL. */
static const char *request_end(const char *q, const char *end)
{
    for (const char *p = q; p < end; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        else if (*p == '"')
            return p;
    }
    return NULL;
}

/* Undoes the escapes servers write in the request field: \xHH (nginx,
 * Apache), \" and \\ (Apache). Returns the length written to out, which
 * has room for n bytes. */
static size_t unescape(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' && isxdigit((unsigned char)p[i + 2]) &&
            isxdigit((unsigned char)p[i + 3])) {
            char hex[3] = { p[i + 2], p[i + 3], 0 };
            out[o++] = (char)strtol(hex, NULL, 16);
            i += 3;
        } else if (p[i] == '\\' && i + 1 < n && (p[i + 1] == '"' || p[i + 1] == '\\')) {
            out[o++] = p[++i];
        } else {
            out[o++] = p[i];
        }
    }
    return o;
}

static const char *parse_line(const char *line, size_t len, struct rec_builder *b,
                              rp_record *rec)
{
    const char *end = line + len;
    const char *open = memchr(line, '[', len);
    const char *close = open ? memchr(open, ']', (size_t)(end - open)) : NULL;
    if (close == NULL || end - close < 3 || close[1] != ' ' || close[2] != '"')
        return "it is not in the common or combined log format";
    if (parse_log_time(open + 1, (size_t)(close - open - 1), &rec->ts_ns) != 0)
        return "its time is not like [10/Oct/2000:13:55:36 -0700]";

    const char *field = close + 3;
    const char *field_end = request_end(field, end);
    if (field_end == NULL)
        return "its request field has no closing quote";
    if (field_end == field || (field_end - field == 1 && field[0] == '-'))
        return "the server logged no request line (\"-\")";
    /* The unescaped field goes to the end of b, past the fields set. */
    rb_reset(b);
    rb_set(b, RB_BODY, field, (size_t)(field_end - field));
    if (b->oom)
        return "out of memory";
    char *req = (char *)b->p + b->off[RB_BODY];
    const char *req_end = req + unescape(field, (size_t)(field_end - field), req);
    for (const char *p = req; p < req_end && *p != ' '; p++)
        if (*p < 'A' || *p > 'Z')
            return "its request field does not start with a method in capitals (a TLS or "
                   "binary probe?)";
    const char *sp1 = memchr(req, ' ', (size_t)(req_end - req));
    const char *sp2 = sp1 ? memrchr(sp1 + 1, ' ', (size_t)(req_end - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp1 == req)
        return "its request field is not \"METHOD TARGET HTTP/x.y\"";
    const char *target_end = req_end;
    rec->http_major = 1;
    rec->http_minor = 0;
    if (sp2 != NULL && req_end - sp2 == 9 && memcmp(sp2 + 1, "HTTP/", 5) == 0) {
        rec->http_major = (uint8_t)(sp2[6] - '0');
        rec->http_minor = (uint8_t)(sp2[8] - '0');
        target_end = sp2;
        if (rec->http_major > 9 || rec->http_minor > 9)
            return "its request field has an invalid HTTP version";
    }
    if (target_end <= sp1 + 1)
        return "its request field has no target";
    /* Method and target are slices of the unescaped field: set them by
     * offset, as rb_set would copy from a buffer it may move. */
    size_t base = b->off[RB_BODY];
    b->off[RB_METHOD] = base;
    b->n[RB_METHOD] = (size_t)(sp1 - req);
    b->off[RB_TARGET] = base + (size_t)(sp1 + 1 - req);
    b->n[RB_TARGET] = (size_t)(target_end - sp1 - 1);
    b->n[RB_BODY] = 0;
    rb_finish(b, rec);
    return NULL;
}

int rp_import_access_log(struct import_run *x)
{
    struct line_reader lr = { .f = x->f };
    struct rec_builder b = { 0 };
    int rc = 0;
    for (;;) {
        char *line;
        size_t len;
        int too_long, last;
        int got = rp_line_next(&lr, &line, &len, &too_long, &last);
        if (got < 0) {
            rc = rp_import_io_error(x);
            break;
        }
        if (got == 0)
            break;
        x->st->items++;
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
            len--;
        if (len == 0 && !too_long) {
            x->st->ignored++;
            continue;
        }
        rp_record rec;
        memset(&rec, 0, sizeof rec);
        const char *why = too_long ? "the line is too long" : parse_line(line, len, &b, &rec);
        if (why != NULL) {
            rp_import_skip(x, lr.lineno, "%s%s", why,
                           last ? " (the file ends inside this line: truncated?)" : "");
            continue;
        }
        rec.conn_id = lr.lineno;
        if ((rc = rp_import_emit(x, &rec)) != 0)
            break;
    }
    rp_line_free(&lr);
    rb_free(&b);
    return rc;
}
