#include "replay/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void rp_rules_init(rp_rules *r)
{
    memset(r, 0, sizeof *r);
}

static void free_regexes(regex_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        regfree(&list[i]);
    free(list);
}

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void rp_rules_free(rp_rules *r)
{
    for (size_t i = 0; i < r->edit_count; i++) {
        free(r->edits[i].name);
        free(r->edits[i].value);
    }
    free(r->edits);
    for (size_t i = 0; i < r->rewrite_count; i++) {
        regfree(&r->rewrites[i].re);
        free(r->rewrites[i].replacement);
    }
    free(r->rewrites);
    free_strings(r->include_methods, r->include_method_count);
    free_strings(r->exclude_methods, r->exclude_method_count);
    free_regexes(r->include_paths, r->include_path_count);
    free_regexes(r->exclude_paths, r->exclude_path_count);
    memset(r, 0, sizeof *r);
}

/* RFC 9110 token characters, which a header name or method consists of. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_token(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

static int is_framing(const char *name, size_t len)
{
    return (len == 14 && strncasecmp(name, "Content-Length", 14) == 0) ||
           (len == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0);
}

static int add_edit(rp_rules *r, const char *name, size_t name_len, const char *value,
                    char *err, size_t errlen)
{
    /* A later edit of the same name replaces the earlier one. */
    for (size_t i = 0; i < r->edit_count; i++) {
        rp_header_edit *e = &r->edits[i];
        if (strlen(e->name) != name_len || strncasecmp(e->name, name, name_len) != 0)
            continue;
        char *copy = value ? strdup(value) : NULL;
        if (value != NULL && copy == NULL)
            goto oom;
        free(e->value);
        e->value = copy;
        return 0;
    }
    if (r->edit_count >= RP_RULES_MAX_EDITS) {
        snprintf(err, errlen, "too many header edits at '%.*s': at most %d headers can be "
                 "set or removed", (int)name_len, name, RP_RULES_MAX_EDITS);
        return -1;
    }

    rp_header_edit *grown = realloc(r->edits, (r->edit_count + 1) * sizeof *grown);
    if (grown == NULL)
        goto oom;
    r->edits = grown;
    rp_header_edit *e = &r->edits[r->edit_count];
    e->name = strndup(name, name_len);
    e->value = value ? strdup(value) : NULL;
    if (e->name == NULL || (value != NULL && e->value == NULL)) {
        free(e->name);
        free(e->value);
        goto oom;
    }
    r->edit_count++;
    return 0;
oom:
    snprintf(err, errlen, "out of memory storing header '%.*s'", (int)name_len, name);
    return -1;
}

int rp_rules_set_header(rp_rules *r, const char *spec, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    if (colon == NULL || !is_token(spec, (size_t)(colon - spec))) {
        snprintf(err, errlen, "'%s' is not a header line of the form 'Name: value'", spec);
        return -1;
    }
    size_t name_len = (size_t)(colon - spec);
    if (is_framing(spec, name_len)) {
        snprintf(err, errlen, "'%.*s' cannot be set: replay writes it from the body it sends",
                 (int)name_len, spec);
        return -1;
    }
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (strpbrk(value, "\r\n") != NULL) {
        snprintf(err, errlen, "the value of header '%.*s' contains a line break",
                 (int)name_len, spec);
        return -1;
    }
    return add_edit(r, spec, name_len, value, err, errlen);
}

int rp_rules_remove_header(rp_rules *r, const char *name, char *err, size_t errlen)
{
    size_t len = strlen(name);
    if (!is_token(name, len)) {
        snprintf(err, errlen, "'%s' is not a header name", name);
        return -1;
    }
    if (is_framing(name, len)) {
        snprintf(err, errlen, "'%s' cannot be removed: replay writes it from the body it sends",
                 name);
        return -1;
    }
    return add_edit(r, name, len, NULL, err, errlen);
}

/* Compiles pattern into re; fills err on failure. */
static int compile(regex_t *re, const char *pattern, char *err, size_t errlen)
{
    int rc = regcomp(re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char why[128];
        regerror(rc, re, why, sizeof why);
        snprintf(err, errlen, "'%s' is not a valid POSIX extended regular expression: %s",
                 pattern, why);
        return -1;
    }
    return 0;
}

int rp_rules_add_rewrite(rp_rules *r, const char *spec, char *err, size_t errlen)
{
    size_t len = strlen(spec);
    char *pattern = malloc(len + 1);
    if (pattern == NULL) {
        snprintf(err, errlen, "out of memory storing rewrite '%s'", spec);
        return -1;
    }
    /* Copies REGEX up to the first unescaped '=', turning "\=" into '='. */
    size_t i = 0, n = 0;
    for (; i < len && spec[i] != '='; i++) {
        if (spec[i] == '\\' && i + 1 < len && spec[i + 1] == '=')
            i++;
        pattern[n++] = spec[i];
    }
    pattern[n] = '\0';
    if (i == len || n == 0) {
        snprintf(err, errlen, "'%s' is not of the form 'REGEX=REPLACEMENT'", spec);
        free(pattern);
        return -1;
    }

    rp_path_rewrite *grown = realloc(r->rewrites, (r->rewrite_count + 1) * sizeof *grown);
    if (grown == NULL) {
        snprintf(err, errlen, "out of memory storing rewrite '%s'", spec);
        free(pattern);
        return -1;
    }
    r->rewrites = grown;
    rp_path_rewrite *w = &r->rewrites[r->rewrite_count];
    int rc = compile(&w->re, pattern, err, errlen);
    free(pattern);
    if (rc != 0)
        return -1;
    w->replacement = strdup(spec + i + 1);
    if (w->replacement == NULL) {
        regfree(&w->re);
        snprintf(err, errlen, "out of memory storing rewrite '%s'", spec);
        return -1;
    }
    r->rewrite_count++;
    return 0;
}

int rp_rules_add_methods(rp_rules *r, int exclude, const char *list, char *err, size_t errlen)
{
    char ***names = exclude ? &r->exclude_methods : &r->include_methods;
    size_t *count = exclude ? &r->exclude_method_count : &r->include_method_count;

    /* Checks the whole list first, so that a bad one adds nothing. */
    const char *p = list;
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!is_token(p, len)) {
            snprintf(err, errlen, "'%s' is not a comma-separated list of methods such as GET,POST",
                     list);
            return -1;
        }
        p = comma ? comma + 1 : NULL;
    } while (p != NULL);

    p = list;
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char **grown = realloc(*names, (*count + 1) * sizeof *grown);
        if (grown == NULL || (grown[*count] = strndup(p, len)) == NULL) {
            if (grown != NULL)
                *names = grown;
            snprintf(err, errlen, "out of memory storing methods '%s'", list);
            return -1;
        }
        *names = grown;
        (*count)++;
        p = comma ? comma + 1 : NULL;
    } while (p != NULL);
    return 0;
}

int rp_rules_add_path_filter(rp_rules *r, int exclude, const char *regex, char *err, size_t errlen)
{
    regex_t **list = exclude ? &r->exclude_paths : &r->include_paths;
    size_t *count = exclude ? &r->exclude_path_count : &r->include_path_count;
    regex_t *grown = realloc(*list, (*count + 1) * sizeof *grown);
    if (grown == NULL) {
        snprintf(err, errlen, "out of memory storing path filter '%s'", regex);
        return -1;
    }
    *list = grown;
    if (compile(&grown[*count], regex, err, errlen) != 0)
        return -1;
    (*count)++;
    return 0;
}

int rp_rules_has_filters(const rp_rules *r)
{
    return r->include_method_count || r->exclude_method_count ||
           r->include_path_count || r->exclude_path_count;
}

static int method_listed(char *const *names, size_t n, const char *m, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], m, len) == 0)
            return 1;
    return 0;
}

static int any_matches(const regex_t *list, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (regexec(&list[i], text, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

size_t rp_rules_origin_target(const char *t, size_t len, char *out, size_t outlen)
{
    const char *rest = t;
    size_t rest_len = len;
    const char *glue = "";

    size_t i = 0;
    while (i < len && t[i] != ':' && t[i] != '/' && t[i] != '?')
        i++;
    if (i > 0 && i + 2 < len && t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/') {
        size_t p = i + 3;
        while (p < len && t[p] != '/' && t[p] != '?')
            p++;
        rest = t + p;
        rest_len = len - p;
        if (rest_len == 0 || rest[0] == '?')
            glue = "/";
    } else if (!(len == 1 && t[0] == '*') && (len == 0 || t[0] != '/')) {
        glue = "/";
    }

    size_t glue_len = strlen(glue), need = glue_len + rest_len;
    if (need + 1 <= outlen) {
        memcpy(out, glue, glue_len);
        memcpy(out + glue_len, rest, rest_len);
        out[need] = '\0';
    }
    return need;
}

int rp_rules_accept(const rp_rules *r, const rp_record *rec)
{
    if (r->include_method_count &&
        !method_listed(r->include_methods, r->include_method_count, rec->method, rec->method_len))
        return 0;
    if (method_listed(r->exclude_methods, r->exclude_method_count, rec->method, rec->method_len))
        return 0;
    if (r->include_path_count == 0 && r->exclude_path_count == 0)
        return 1;

    /* regexec needs a NUL-terminated string. */
    size_t len = rp_rules_origin_target(rec->target, rec->target_len, NULL, 0);
    char small[2048];
    char *text = len < sizeof small ? small : malloc(len + 1);
    if (text == NULL)
        return 0;
    rp_rules_origin_target(rec->target, rec->target_len, text, len + 1);
    int ok = (r->include_path_count == 0 ||
              any_matches(r->include_paths, r->include_path_count, text)) &&
             !any_matches(r->exclude_paths, r->exclude_path_count, text);
    if (text != small)
        free(text);
    return ok;
}

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *grown = realloc(*buf, n);
    if (grown == NULL)
        return -1;
    *buf = grown;
    *cap = n;
    return 0;
}

/* Appends replacement to out at *used, expanding \0 to \9 from in. */
static int expand(const char *in, const regmatch_t *m, const char *replacement,
                  char **out, size_t *cap, size_t *used)
{
    for (const char *p = replacement; *p != '\0'; p++) {
        const char *piece = p;
        size_t len = 1;
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '9') {
            const regmatch_t *g = &m[p[1] - '0'];
            piece = g->rm_so >= 0 ? in + g->rm_so : "";
            len = g->rm_so >= 0 ? (size_t)(g->rm_eo - g->rm_so) : 0;
            p++;
        } else if (p[0] == '\\' && p[1] == '\\') {
            p++;
        }
        if (reserve(out, cap, *used + len + 1) != 0)
            return -1;
        memcpy(*out + *used, piece, len);
        *used += len;
    }
    return 0;
}

/* Replaces the first match of w in the NUL-terminated in; writes the
 * result to *out. Returns its length, or -1 when out of memory. */
static long rewrite_one(const rp_path_rewrite *w, const char *in, char **out, size_t *cap)
{
    regmatch_t m[10];
    size_t in_len = strlen(in), used = 0;
    if (regexec(&w->re, in, 10, m, 0) != 0) {
        if (reserve(out, cap, in_len + 1) != 0)
            return -1;
        memcpy(*out, in, in_len + 1);
        return (long)in_len;
    }
    size_t head = (size_t)m[0].rm_so, tail = in_len - (size_t)m[0].rm_eo;
    if (reserve(out, cap, head + 1) != 0)
        return -1;
    memcpy(*out, in, head);
    used = head;
    if (expand(in, m, w->replacement, out, cap, &used) != 0 ||
        reserve(out, cap, used + tail + 1) != 0)
        return -1;
    memcpy(*out + used, in + m[0].rm_eo, tail);
    used += tail;
    (*out)[used] = '\0';
    return (long)used;
}

long rp_rules_rewrite(const rp_rules *r, const char *in, char **out, size_t *cap)
{
    long len = (long)strlen(in);
    if (reserve(out, cap, (size_t)len + 1) != 0)
        return -1;
    memmove(*out, in, (size_t)len + 1);
    char *tmp = NULL;
    size_t tmp_cap = 0;
    for (size_t i = 0; i < r->rewrite_count; i++) {
        len = rewrite_one(&r->rewrites[i], *out, &tmp, &tmp_cap);
        if (len < 0)
            break;
        char *swap = *out;
        size_t swap_cap = *cap;
        *out = tmp;
        *cap = tmp_cap;
        tmp = swap;
        tmp_cap = swap_cap;
    }
    free(tmp);
    return len;
}

int rp_method_is_mutating(const char *m, size_t len)
{
    return (len == 4 && memcmp(m, "POST", 4) == 0) || (len == 3 && memcmp(m, "PUT", 3) == 0) ||
           (len == 5 && memcmp(m, "PATCH", 5) == 0) || (len == 6 && memcmp(m, "DELETE", 6) == 0);
}

void rp_rules_set_target(rp_rules *r, const rp_target *t)
{
    int v6 = strchr(t->host, ':') != NULL;
    snprintf(r->host, sizeof r->host, "%s%s%s:%u", v6 ? "[" : "", t->host, v6 ? "]" : "",
             (unsigned)t->port);
    snprintf(r->base_path, sizeof r->base_path, "%s", t->base_path);
}
