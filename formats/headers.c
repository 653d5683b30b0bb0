#include "formats/headers.h"

#include <string.h>
#include <strings.h>

int rp_header_next(rp_header_iter *it, rp_header *h)
{
    if (it->p >= it->end)
        return 0;
    const char *start = it->p;
    const char *nl = memchr(start, '\n', (size_t)(it->end - start));
    const char *stop = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;

    h->crlf = nl != NULL && stop > start && stop[-1] == '\r';
    if (h->crlf)
        stop--;
    h->line = start;
    h->line_len = (size_t)(stop - start);

    const char *colon = memchr(start, ':', h->line_len);
    h->has_colon = colon != NULL;
    h->name = start;
    h->name_len = colon ? (size_t)(colon - start) : h->line_len;
    const char *v = colon ? colon + 1 : stop;
    const char *e = stop;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    h->value = v;
    h->value_len = (size_t)(e - v);
    return 1;
}

size_t rp_headers_find(const char *headers, size_t len, const char *name,
                       const char **value)
{
    size_t n = strlen(name);
    rp_header_iter it;
    rp_header h;
    rp_header_iter_init(&it, headers, len);
    while (rp_header_next(&it, &h)) {
        if (h.has_colon && h.name_len == n && strncasecmp(h.name, name, n) == 0) {
            *value = h.value;
            return h.value_len;
        }
    }
    *value = NULL;
    return 0;
}
