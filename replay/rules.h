/* What a replay changes in the captured requests, and which ones it
 * sends: header edits, request-target rewriting and filters by method and
 * request-target.
 *
 * Filters and rewrites see the captured request-target in origin form
 * ("/p?q"): an absolute-form target ("http://host/p?q") is reduced to its
 * path and query first. Regular expressions are POSIX extended (regcomp
 * with REG_EXTENDED). Setup functions return 0, or -1 with err naming the
 * argument and what is wrong with it.
 */
#ifndef RP_RULES_H
#define RP_RULES_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"
#include "replay/target.h"

#define RP_RULES_MAX_EDITS 32     /* distinct header names set or removed */

typedef struct rp_header_edit {
    char *name;
    char *value;             /* NULL removes every line of that name */
} rp_header_edit;

typedef struct rp_path_rewrite {
    regex_t re;
    char *replacement;       /* \0 is the match, \1 to \9 its groups */
} rp_path_rewrite;

typedef struct rp_rules {
    int keep_host;           /* send the captured Host header */
    char host[300];          /* Host value otherwise, e.g. "127.0.0.1:8080" */
    char base_path[1024];    /* "" or "/a/b", prepended to every target */

    rp_header_edit *edits;   /* in the order given */
    size_t edit_count;
    rp_path_rewrite *rewrites;   /* applied one after another */
    size_t rewrite_count;

    char **include_methods;  /* empty: every method */
    size_t include_method_count;
    char **exclude_methods;
    size_t exclude_method_count;
    regex_t *include_paths;  /* empty: every target; else any must match */
    size_t include_path_count;
    regex_t *exclude_paths;  /* none may match */
    size_t exclude_path_count;
} rp_rules;

void rp_rules_init(rp_rules *r);
void rp_rules_free(rp_rules *r);

/* Sets the Host value and base path that requests get from target t:
 * "host:port", with brackets around an IPv6 address. */
void rp_rules_set_target(rp_rules *r, const rp_target *t);

/* Adds "Name: value": the value replaces every captured line of that name
 * (sent once, at the first one's place) or is added after the captured
 * lines. A Host edit replaces the Host sent. Content-Length and
 * Transfer-Encoding are rejected, because replay frames the body itself. */
int rp_rules_set_header(rp_rules *r, const char *spec, char *err, size_t errlen);

/* Removes every line named name from the requests (Host included). */
int rp_rules_remove_header(rp_rules *r, const char *name, char *err, size_t errlen);

/* Adds "REGEX=REPLACEMENT". The first '=' not preceded by a backslash
 * splits the two; "\=" in REGEX stands for '='. The first match in the
 * request-target is replaced. */
int rp_rules_add_rewrite(rp_rules *r, const char *spec, char *err, size_t errlen);

/* Adds a comma-separated list of methods to the include or exclude list.
 * Methods compare case-sensitively, as HTTP defines them. */
int rp_rules_add_methods(rp_rules *r, int exclude, const char *list,
                         char *err, size_t errlen);

/* Adds a request-target regular expression to the include or exclude list. */
int rp_rules_add_path_filter(rp_rules *r, int exclude, const char *regex,
                             char *err, size_t errlen);

int rp_rules_has_filters(const rp_rules *r);

/* Nonzero when rec passes the filters. */
int rp_rules_accept(const rp_rules *r, const rp_record *rec);

/* Writes the origin form of a captured request-target into out (outlen
 * bytes, NUL-terminated) and returns its length, or the length it would
 * need when outlen is too small. An absolute-form target ("http://h/p?q")
 * becomes its path and query ("/p?q", "/" when empty), "*" stays as is,
 * and any other target that does not start with '/' gets one. */
size_t rp_rules_origin_target(const char *target, size_t len, char *out, size_t outlen);

/* Applies the rewrites to the NUL-terminated in and writes the result to
 * *out (grown with realloc, *cap bytes). Returns the result's length, or
 * -1 when out of memory. */
long rp_rules_rewrite(const rp_rules *r, const char *in, char **out, size_t *cap);

/* Nonzero when method is POST, PUT, PATCH or DELETE: a request that
 * changes the target's state. */
int rp_method_is_mutating(const char *method, size_t len);

#endif
