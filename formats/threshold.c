#include "formats/threshold.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKENS 8

static const char grammar[] =
    "accepted forms (a reprise form fails the run when it is true; a k6 form, as in k6,\n"
    "fails it when it is false):\n"
    "  [endpoint [METHOD] PATH] [response_time|service_time|ttfb] STAT OP VALUE\n"
    "      STAT p50, p95, p99.9..., mean, median, min, max: VALUE a time with a unit\n"
    "           (800us, 250ms, 1.5s, 2m)\n"
    "      STAT error_rate: VALUE a percentage (1%) or a fraction (0.01)\n"
    "      STAT rps: VALUE completed requests per second; STAT requests, failures: a count\n"
    "  [endpoint [METHOD] PATH] [K6METRIC:] p(N)|avg|med|min|max|rate|count OP NUMBER\n"
    "      K6METRIC http_req_duration (service time), http_req_waiting (time to first\n"
    "      byte), http_req_failed (rate), http_reqs (count, rate); times in milliseconds;\n"
    "      without K6METRIC: response time, rate = error rate, count = requests\n"
    "  OP one of < <= > >= == !=\n"
    "examples: 'p95 > 250ms'  'error_rate > 1%'  'endpoint /api/search p99 > 1s'\n"
    "          'endpoint POST /api/orders error_rate > 0.5%'  'rps < 100'  'p(95)<250'\n"
    "          'http_req_failed: rate<0.01'  'avg<200'  'max<1000'";

const char *rp_threshold_grammar(void)
{
    return grammar;
}

/* ---- tokens ---- */

typedef struct tokens {
    char text[MAX_TOKENS][256];
    int count;
} tokens;

static int is_op_char(char c)
{
    return c == '<' || c == '>' || c == '=' || c == '!';
}

/* Splits text into words and operators: "p(95)<250" gives three tokens. */
static int tokenize(const char *text, tokens *tk, char *err, size_t errlen)
{
    tk->count = 0;
    const char *p = text;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        /* A path runs to the next space: it may hold '=' in a query. */
        size_t len = is_op_char(*p) ? strspn(p, "<>=!")
                   : *p == '/' ? strcspn(p, " \t\r\n")
                   : strcspn(p, " \t\r\n<>=!");
        if (tk->count == MAX_TOKENS || len >= sizeof tk->text[0]) {
            snprintf(err, errlen, "'%s' is too long", text);
            return -1;
        }
        memcpy(tk->text[tk->count], p, len);
        tk->text[tk->count][len] = '\0';
        tk->count++;
        p += len;
    }
    return 0;
}

static int parse_op(const char *s, int *op)
{
    static const struct { const char *text; int op; } ops[] = {
        { "<", RP_TH_LT }, { "<=", RP_TH_LE }, { ">", RP_TH_GT }, { ">=", RP_TH_GE },
        { "==", RP_TH_EQ }, { "=", RP_TH_EQ }, { "!=", RP_TH_NE },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(s, ops[i].text) == 0) {
            *op = ops[i].op;
            return 0;
        }
    }
    return -1;
}

static const char *op_text(int op)
{
    static const char *names[] = { "<", "<=", ">", ">=", "==", "!=" };
    return op >= 0 && op <= RP_TH_NE ? names[op] : "?";
}

/* A non-negative finite number at the start of s; *rest points after it. */
static int parse_number(const char *s, double *out, const char **rest)
{
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    *rest = end;
    return 0;
}

/* A time with a unit, in microseconds. */
static int parse_time_us(const char *s, double *out)
{
    static const struct { const char *unit; double us; } units[] = {
        { "ns", 1e-3 }, { "us", 1 }, { "\xc2\xb5s", 1 }, { "ms", 1e3 }, { "s", 1e6 },
        { "m", 60e6 }, { "h", 3600e6 },
    };
    double v;
    const char *unit;
    if (parse_number(s, &v, &unit) != 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].unit) == 0) {
            *out = v * units[i].us;
            return 0;
        }
    }
    return -1;
}

static int parse_plain(const char *s, double *out)
{
    const char *rest;
    return parse_number(s, out, &rest) == 0 && *rest == '\0' ? 0 : -1;
}

/* ---- statistics ---- */

/* Parses "p95", "p99.9" (reprise) or "p(95)" (k6); *k6 is set for the
 * second spelling. */
static int parse_percentile(const char *s, double *p, int *k6)
{
    if (s[0] != 'p')
        return -1;
    const char *rest;
    if (s[1] == '(') {
        if (parse_number(s + 2, p, &rest) != 0 || strcmp(rest, ")") != 0)
            return -1;
        *k6 = 1;
    } else {
        if (parse_number(s + 1, p, &rest) != 0 || *rest != '\0')
            return -1;
        *k6 = 0;
    }
    return *p <= 100 ? 0 : -1;
}

enum { K6_NONE, K6_DURATION, K6_WAITING, K6_FAILED, K6_REQS };

static int parse_k6_metric(const char *s)
{
    static const char *names[] = { NULL, "http_req_duration", "http_req_waiting",
                                   "http_req_failed", "http_reqs" };
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == ':')
        len--;
    for (int m = K6_DURATION; m <= K6_REQS; m++)
        if (strlen(names[m]) == len && strncmp(s, names[m], len) == 0)
            return m;
    return K6_NONE;
}

static int parse_source(const char *s, int *source)
{
    if (strcmp(s, "response_time") == 0)
        *source = RP_TH_RESPONSE_TIME;
    else if (strcmp(s, "service_time") == 0)
        *source = RP_TH_SERVICE_TIME;
    else if (strcmp(s, "ttfb") == 0)
        *source = RP_TH_TTFB;
    else
        return -1;
    return 0;
}

static int is_method(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!isupper((unsigned char)*p) && *p != '-' && *p != '_')
            return 0;
    return s[0] != '\0' && strlen(s) < 16;
}

/* Reads "endpoint [METHOD] PATH" at tokens *i. */
static int parse_scope(const tokens *tk, int *i, rp_threshold *t, char *err, size_t errlen)
{
    if (*i >= tk->count || strcmp(tk->text[*i], "endpoint") != 0)
        return 0;
    (*i)++;
    if (*i < tk->count && is_method(tk->text[*i])) {
        snprintf(t->method, sizeof t->method, "%.15s", tk->text[*i]);
        (*i)++;
    }
    const char *path = *i < tk->count ? tk->text[*i] : "";
    if (path[0] != '/' && path[0] != '*' && strcmp(path, RP_RESULTS_OTHER) != 0) {
        snprintf(err, errlen, "'endpoint' must be followed by a path starting with '/', "
                 "optionally after a method (endpoint GET /api/search), not '%s'", path);
        return -1;
    }
    snprintf(t->endpoint, sizeof t->endpoint, "%s", path);
    (*i)++;
    return 0;
}

/* The k6 form: AGG OP NUMBER under metric (K6_NONE without prefix). */
static int parse_k6(rp_threshold *t, int metric, const char *agg, const char *value,
                    char *err, size_t errlen)
{
    t->k6 = 1;
    double v;
    if (parse_plain(value, &v) != 0) {
        snprintf(err, errlen, "'%s' is k6's spelling, and k6 forms take a plain number "
                 "(times in milliseconds), not '%s': write e.g. p(95)<250 (must hold), or "
                 "a reprise form with a unit, e.g. p95 > 250ms or mean > 200ms (fails when "
                 "true)", agg, value);
        return -1;
    }
    int time_metric = metric == K6_NONE || metric == K6_DURATION || metric == K6_WAITING;
    int k6_pct;
    double p;
    t->source = metric == K6_DURATION ? RP_TH_SERVICE_TIME
              : metric == K6_WAITING ? RP_TH_TTFB : RP_TH_RESPONSE_TIME;
    t->value = v * 1000.0;
    if (time_metric && parse_percentile(agg, &p, &k6_pct) == 0 && k6_pct) {
        t->stat = RP_TH_PERCENTILE;
        t->percentile = p;
    } else if (time_metric && strcmp(agg, "avg") == 0) {
        t->stat = RP_TH_MEAN;
    } else if (time_metric && strcmp(agg, "med") == 0) {
        t->stat = RP_TH_PERCENTILE;
        t->percentile = 50;
    } else if (time_metric && strcmp(agg, "min") == 0) {
        t->stat = RP_TH_MIN;
    } else if (time_metric && strcmp(agg, "max") == 0) {
        t->stat = RP_TH_MAX;
    } else if ((metric == K6_NONE || metric == K6_FAILED) && strcmp(agg, "rate") == 0) {
        t->stat = RP_TH_ERROR_RATE;
        t->value = v;
    } else if (metric == K6_REQS && strcmp(agg, "rate") == 0) {
        t->stat = RP_TH_RPS;
        t->value = v;
    } else if ((metric == K6_NONE || metric == K6_REQS) && strcmp(agg, "count") == 0) {
        t->stat = RP_TH_REQUESTS;
        t->value = v;
    } else if (metric == K6_FAILED && strcmp(agg, "count") == 0) {
        t->stat = RP_TH_FAILURES;
        t->value = v;
    } else {
        snprintf(err, errlen, "'%s' is not an aggregation of %s", agg,
                 metric == K6_FAILED ? "http_req_failed (rate, count)"
                 : metric == K6_REQS ? "http_reqs (count, rate)"
                 : "a k6 trend (p(N), avg, med, min, max)");
        return -1;
    }
    if (t->stat == RP_TH_ERROR_RATE && v > 1) {
        snprintf(err, errlen, "a k6 rate is a fraction from 0 to 1, not %s", value);
        return -1;
    }
    return 0;
}

/* The reprise form: STAT OP VALUE with the source already set. */
static int parse_reprise(rp_threshold *t, const char *stat, const char *value,
                         char *err, size_t errlen)
{
    int k6_pct;
    double p;
    int is_time = 1;
    if (parse_percentile(stat, &p, &k6_pct) == 0 && !k6_pct) {
        t->stat = RP_TH_PERCENTILE;
        t->percentile = p;
    } else if (strcmp(stat, "mean") == 0) {
        t->stat = RP_TH_MEAN;
    } else if (strcmp(stat, "median") == 0) {
        t->stat = RP_TH_PERCENTILE;
        t->percentile = 50;
    } else if (strcmp(stat, "min") == 0) {
        t->stat = RP_TH_MIN;
    } else if (strcmp(stat, "max") == 0) {
        t->stat = RP_TH_MAX;
    } else {
        is_time = 0;
        if (strcmp(stat, "error_rate") == 0)
            t->stat = RP_TH_ERROR_RATE;
        else if (strcmp(stat, "rps") == 0)
            t->stat = RP_TH_RPS;
        else if (strcmp(stat, "requests") == 0)
            t->stat = RP_TH_REQUESTS;
        else if (strcmp(stat, "failures") == 0)
            t->stat = RP_TH_FAILURES;
        else {
            snprintf(err, errlen, "unknown statistic '%s'", stat);
            return -1;
        }
    }

    if (is_time) {
        if (parse_time_us(value, &t->value) != 0) {
            snprintf(err, errlen, "'%s' is not a time with a unit; write e.g. 250ms, 1.5s "
                     "or 800us", value);
            return -1;
        }
        return 0;
    }
    if (t->stat == RP_TH_ERROR_RATE) {
        size_t len = strlen(value);
        int percent = len > 0 && value[len - 1] == '%';
        char number[64];
        snprintf(number, sizeof number, "%.*s", (int)(percent ? len - 1 : len), value);
        if (parse_plain(number, &t->value) != 0 || (percent ? t->value > 100 : t->value > 1)) {
            snprintf(err, errlen, "'%s' is not an error rate: write a percentage from 0%% to "
                     "100%% (1%%) or a fraction from 0 to 1 (0.01)", value);
            return -1;
        }
        if (percent)
            t->value /= 100.0;
        return 0;
    }
    const char *v = value;
    char number[64];
    if (t->stat == RP_TH_RPS && strlen(value) > 2 && strcmp(value + strlen(value) - 2, "/s") == 0) {
        snprintf(number, sizeof number, "%.*s", (int)strlen(value) - 2, value);
        v = number;
    }
    if (parse_plain(v, &t->value) != 0) {
        snprintf(err, errlen, "'%s' is not a number", value);
        return -1;
    }
    return 0;
}

static int is_k6_agg(const char *s)
{
    double p;
    int k6;
    return (parse_percentile(s, &p, &k6) == 0 && k6) || strcmp(s, "avg") == 0 ||
           strcmp(s, "med") == 0 || strcmp(s, "rate") == 0 || strcmp(s, "count") == 0;
}

int rp_threshold_parse(const char *text, rp_threshold *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    snprintf(t->text, sizeof t->text, "%s", text);
    tokens tk;
    char why[384];
    if (tokenize(text, &tk, why, sizeof why) != 0)
        goto bad;

    int i = 0;
    if (parse_scope(&tk, &i, t, why, sizeof why) != 0)
        goto bad;
    int metric = K6_NONE;
    if (i < tk.count && (metric = parse_k6_metric(tk.text[i])) != K6_NONE) {
        i++;
        if (i < tk.count && strcmp(tk.text[i], ":") == 0)
            i++;
    } else if (i < tk.count && parse_source(tk.text[i], &t->source) == 0) {
        i++;
    }
    if (tk.count - i != 3 || parse_op(tk.text[i + 1], &t->op) != 0) {
        snprintf(why, sizeof why, "expected STATISTIC OPERATOR VALUE%s, such as p95 > 250ms",
                 i > 0 ? " after the scope" : "");
        goto bad;
    }

    const char *stat = tk.text[i], *value = tk.text[i + 2];
    double plain;
    int unitless = parse_plain(value, &plain) == 0;
    int k6 = metric != K6_NONE || is_k6_agg(stat) ||
             ((strcmp(stat, "min") == 0 || strcmp(stat, "max") == 0) && unitless);
    if (k6 && t->source != RP_TH_RESPONSE_TIME) {
        snprintf(why, sizeof why, "'%s' is a k6 aggregation: with a k6 form, choose the time "
                 "with http_req_duration or http_req_waiting instead of %s", stat, tk.text[i - 1]);
        goto bad;
    }
    if ((k6 ? parse_k6(t, metric, stat, value, why, sizeof why)
            : parse_reprise(t, stat, value, why, sizeof why)) != 0)
        goto bad;
    return 0;

bad:
    snprintf(err, errlen, "invalid threshold '%s': %s", text, why);
    return -1;
}

/* ---- evaluation ---- */

static const rp_hist *source_hist(const rp_results_group *g, int source)
{
    switch (source) {
    case RP_TH_SERVICE_TIME: return g->service_time;
    case RP_TH_TTFB: return g->ttfb;
    default: return g->response_time;
    }
}

static uint64_t completed(const rp_results_group *g)
{
    uint64_t n = 0;
    for (int k = RP_RES_RESPONSE; k <= RP_RES_CLIENT; k++)
        n += g->kinds[k];
    return n;
}

static int compare(double a, int op, double b)
{
    switch (op) {
    case RP_TH_LT: return a < b;
    case RP_TH_LE: return a <= b;
    case RP_TH_GT: return a > b;
    case RP_TH_GE: return a >= b;
    case RP_TH_EQ: return a == b;
    default: return a != b;
    }
}

/* The observed value of t's statistic in g; returns -1 when there is
 * nothing to measure. */
static int observe(const rp_threshold *t, const rp_results_group *g, const rp_results *r,
                   double *out)
{
    const rp_hist *h = source_hist(g, t->source);
    switch (t->stat) {
    case RP_TH_ERROR_RATE:
        *out = rp_results_error_rate(g);
        return 0;
    case RP_TH_RPS: {
        double secs = rp_results_duration_s(r);
        *out = secs > 0 ? (double)completed(g) / secs : 0;
        return 0;
    }
    case RP_TH_REQUESTS:
        *out = (double)g->requests;
        return 0;
    case RP_TH_FAILURES:
        *out = (double)g->failures;
        return 0;
    default:
        break;
    }
    if (h == NULL || rp_hist_count(h) == 0)
        return -1;
    switch (t->stat) {
    case RP_TH_PERCENTILE: *out = (double)rp_hist_percentile(h, t->percentile); break;
    case RP_TH_MEAN: *out = rp_hist_mean(h); break;
    case RP_TH_MIN: *out = (double)rp_hist_min(h); break;
    default: *out = (double)rp_hist_max(h); break;
    }
    return 0;
}

int rp_threshold_evaluate(const rp_threshold *t, const rp_results *r, rp_threshold_outcome *out)
{
    memset(out, 0, sizeof *out);
    const rp_results_group *g = rp_results_total(r);
    rp_results_group *scoped = NULL;
    if (t->endpoint[0] != '\0') {
        int rc = rp_results_find_endpoint(r, t->method, t->endpoint, &scoped);
        if (rc == -2)
            return -1;
        if (rc == -1) {
            out->failed = 1;
            out->no_data = RP_TH_NO_ENDPOINT;
            return 0;
        }
        g = scoped;
    }

    if (observe(t, g, r, &out->observed) != 0) {
        out->failed = 1;
        out->no_data = RP_TH_NO_RESPONSES;
    } else {
        int holds = compare(out->observed, t->op, t->value);
        out->failed = t->k6 ? !holds : holds;
    }
    rp_results_group_free(scoped);
    return 0;
}

/* ---- description ---- */

static void format_value(int stat, double v, char *buf, size_t len)
{
    switch (stat) {
    case RP_TH_ERROR_RATE: snprintf(buf, len, "%.3g%%", v * 100.0); break;
    case RP_TH_RPS: snprintf(buf, len, "%.1f/s", v); break;
    case RP_TH_REQUESTS:
    case RP_TH_FAILURES: snprintf(buf, len, "%.0f", v); break;
    default:
        if (v < 1000)
            snprintf(buf, len, "%.0fus", v);
        else if (v < 1e6)
            snprintf(buf, len, "%.2fms", v / 1e3);
        else
            snprintf(buf, len, "%.3fs", v / 1e6);
    }
}

static void stat_name(const rp_threshold *t, char *buf, size_t len)
{
    static const char *sources[] = { "response time", "service time", "time to first byte" };
    const char *src = sources[t->source];
    switch (t->stat) {
    case RP_TH_PERCENTILE: snprintf(buf, len, "p%g %s", t->percentile, src); break;
    case RP_TH_MEAN: snprintf(buf, len, "mean %s", src); break;
    case RP_TH_MIN: snprintf(buf, len, "min %s", src); break;
    case RP_TH_MAX: snprintf(buf, len, "max %s", src); break;
    case RP_TH_ERROR_RATE: snprintf(buf, len, "error rate"); break;
    case RP_TH_RPS: snprintf(buf, len, "completed requests per second"); break;
    case RP_TH_REQUESTS: snprintf(buf, len, "requests"); break;
    default: snprintf(buf, len, "failures"); break;
    }
}

void rp_threshold_describe(const rp_threshold *t, const rp_threshold_outcome *o,
                           char *buf, size_t len)
{
    char name[64], observed[32], limit[32], scope[600] = "";
    stat_name(t, name, sizeof name);
    format_value(t->stat, o->observed, observed, sizeof observed);
    format_value(t->stat, t->value, limit, sizeof limit);
    if (t->endpoint[0] != '\0')
        snprintf(scope, sizeof scope, " of %s%s%s", t->method, t->method[0] ? " " : "",
                 t->endpoint);

    const char *verdict = o->failed ? "FAIL" : "pass";
    if (o->no_data)
        snprintf(buf, len, "%s  %s  (no data: %s)", verdict, t->text,
                 o->no_data == RP_TH_NO_ENDPOINT ? "the run has no such endpoint"
                                                 : "no responses to measure");
    else
        snprintf(buf, len, "%s  %s  (%s%s: %s; %s %s %s %s)", verdict, t->text, name, scope,
                 observed, t->k6 ? "k6 form, must hold:" : "fails when", observed,
                 op_text(t->op), limit);
}
