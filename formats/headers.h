/* Request header sections as traces store them: "Name: value" lines,
 * each ending in CRLF (a bare LF is accepted too), in capture order. */
#ifndef RP_HEADERS_H
#define RP_HEADERS_H

#include <stddef.h>

typedef struct rp_header {
    const char *line;         /* the whole line, without its line ending */
    size_t line_len;
    const char *name;         /* bytes before the first ':' (the whole line
                                 when it has none) */
    size_t name_len;
    const char *value;        /* after the ':', spaces and tabs trimmed on
                                 both sides; empty when there is no ':' */
    size_t value_len;
    int crlf;                 /* the line ended in CRLF */
    int has_colon;
} rp_header;

typedef struct rp_header_iter {
    const char *p, *end;
} rp_header_iter;

static inline void rp_header_iter_init(rp_header_iter *it, const char *headers, size_t len)
{
    it->p = headers;
    it->end = headers + len;
}

/* Fills h with the next line. Returns 1, or 0 after the last one. A last
 * line without a line ending is returned too, with crlf 0. */
int rp_header_next(rp_header_iter *it, rp_header *h);

/* Finds the first header named name (ASCII case-insensitive). Returns its
 * trimmed value's length and sets *value, or returns 0 with *value NULL
 * when there is none. */
size_t rp_headers_find(const char *headers, size_t len, const char *name,
                       const char **value);

#endif
