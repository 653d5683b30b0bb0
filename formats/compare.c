#include "formats/compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rp_compare_opts_init(rp_compare_opts *o)
{
    o->tolerance = 0.10;
    o->error_tolerance = 0.005;
    o->alpha = 0.01;
    o->top = 10;
}

/* ---- statistics ---- */

static double normal_upper_tail(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}

double rp_normal_upper_quantile(double q)
{
    /* Bisection on the upper tail, which decreases in z. */
    double lo = -40, hi = 40;
    for (int i = 0; i < 200; i++) {
        double mid = (lo + hi) / 2;
        if (normal_upper_tail(mid) > q)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

typedef struct ranked {
    double v;
    int from_b;
} ranked;

static int by_value(const void *x, const void *y)
{
    double a = ((const ranked *)x)->v, b = ((const ranked *)y)->v;
    return a < b ? -1 : a > b;
}

void rp_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                     double *p_greater, double *p_less)
{
    *p_greater = *p_less = 1.0;
    size_t n = na + nb;
    ranked *all = na && nb ? malloc(n * sizeof *all) : NULL;
    if (all == NULL)
        return;
    for (size_t i = 0; i < na; i++)
        all[i] = (ranked){ a[i], 0 };
    for (size_t i = 0; i < nb; i++)
        all[na + i] = (ranked){ b[i], 1 };
    qsort(all, n, sizeof *all, by_value);

    /* Rank sum of b with tied values sharing their mean rank. */
    double rank_sum_b = 0, tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && all[j].v == all[i].v)
            j++;
        double mean_rank = (double)(i + 1 + j) / 2.0;
        double t = (double)(j - i);
        tie_term += t * t * t - t;
        for (size_t k = i; k < j; k++)
            if (all[k].from_b)
                rank_sum_b += mean_rank;
        i = j;
    }
    free(all);

    double n1 = (double)na, n2 = (double)nb, nn = (double)n;
    double u = rank_sum_b - n2 * (n2 + 1) / 2.0;
    double mean = n1 * n2 / 2.0;
    double var = n1 * n2 / 12.0 * ((nn + 1) - tie_term / (nn * (nn - 1)));
    if (var <= 0)
        return;
    double sd = sqrt(var);
    *p_greater = normal_upper_tail((u - mean - 0.5) / sd);
    *p_less = normal_upper_tail((mean - u - 0.5) / sd);
}

/* The value of rank k (1-based) among h's n values. */
static uint64_t value_at_rank(const rp_hist *h, uint64_t k)
{
    uint64_t n = rp_hist_count(h);
    /* rp_hist_percentile rounds p/100*n to the nearest rank. */
    return rp_hist_percentile(h, 100.0 * (double)k / (double)n);
}

int rp_quantile_ci(const rp_hist *h, double p, double alpha, uint64_t *lo, uint64_t *hi)
{
    if (h == NULL || rp_hist_count(h) == 0)
        return -1;
    double n = (double)rp_hist_count(h), q = p / 100.0;
    double z = rp_normal_upper_quantile(alpha / 2);
    double half = z * sqrt(n * q * (1 - q));
    double lo_rank = floor(n * q - half), hi_rank = ceil(n * q + half) + 1;
    lo_rank = fmin(fmax(lo_rank, 1), n);
    hi_rank = fmin(fmax(hi_rank, 1), n);
    *lo = value_at_rank(h, (uint64_t)lo_rank);
    *hi = value_at_rank(h, (uint64_t)hi_rank);
    return 0;
}

double rp_two_proportion_p(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2)
{
    if (n1 == 0 || n2 == 0)
        return 1.0;
    double p1 = (double)x1 / (double)n1, p2 = (double)x2 / (double)n2;
    double pooled = (double)(x1 + x2) / (double)(n1 + n2);
    double var = pooled * (1 - pooled) * (1.0 / (double)n1 + 1.0 / (double)n2);
    if (var <= 0)
        return p2 > p1 ? 0.0 : 1.0;
    return normal_upper_tail((p2 - p1) / sqrt(var));
}

/* ---- rows ---- */

static rp_compare_row *new_row(rp_compare *c)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        rp_compare_row *rows = realloc(c->rows, cap * sizeof *rows);
        if (rows == NULL)
            return NULL;
        c->rows = rows;
        c->cap = cap;
    }
    rp_compare_row *row = &c->rows[c->count++];
    memset(row, 0, sizeof *row);
    row->p_value = 1.0;
    return row;
}

/* Per-second values of percentile p in the seconds with enough responses. */
static size_t second_values(const rp_results *r, double p, double **out)
{
    size_t n = rp_results_second_count(r), k = 0;
    *out = malloc((n ? n : 1) * sizeof **out);
    if (*out == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const rp_results_second *s = rp_results_second_at(r, i);
        if (s->rt_count < RP_COMPARE_MIN_SECOND_RESPONSES)
            continue;
        uint64_t v = s->rt_p99_us;
        if (p == 50)
            v = s->rt_p50_us;
        else if (p == 95)
            v = s->rt_p95_us;
        (*out)[k++] = (double)v;
    }
    return k;
}

static void judge(rp_compare_row *row, const rp_compare_opts *o, int up_significant,
                  int down_significant)
{
    double limit = row->is_rate ? o->error_tolerance : o->tolerance;
    double size = row->is_rate ? row->change : row->rel_change;
    if (size > limit)
        row->verdict = up_significant ? RP_CMP_REGRESSION : RP_CMP_NOISE;
    else if (size < -limit)
        row->verdict = down_significant ? RP_CMP_IMPROVED : RP_CMP_NOISE;
    else
        row->verdict = RP_CMP_OK;
}

static void latency_row(rp_compare_row *row, const rp_results_group *b, const rp_results_group *c,
                        double p, const rp_results *base_run, const rp_results *cand_run,
                        const rp_compare_opts *o)
{
    snprintf(row->metric, sizeof row->metric, "p%g", p);
    if (b->response_time == NULL || c->response_time == NULL ||
        rp_hist_count(b->response_time) == 0 || rp_hist_count(c->response_time) == 0) {
        row->verdict = RP_CMP_NO_DATA;
        return;
    }
    row->base = (double)rp_hist_percentile(b->response_time, p);
    row->cand = (double)rp_hist_percentile(c->response_time, p);
    row->change = row->cand - row->base;
    row->rel_change = row->base > 0 ? row->change / row->base : 0;

    double *sa = NULL, *sb = NULL;
    size_t na = base_run ? second_values(base_run, p, &sa) : 0;
    size_t nb = cand_run ? second_values(cand_run, p, &sb) : 0;
    int up = 0, down = 0;
    if (na >= RP_COMPARE_MIN_SECONDS && nb >= RP_COMPARE_MIN_SECONDS) {
        double greater, less;
        rp_mann_whitney(sa, na, sb, nb, &greater, &less);
        row->test = RP_CMP_TEST_U;
        row->p_value = row->change >= 0 ? greater : less;
        row->base_n = na;
        row->cand_n = nb;
        up = greater < o->alpha;
        down = less < o->alpha;
    } else {
        uint64_t blo, bhi, clo, chi;
        rp_quantile_ci(b->response_time, p, o->alpha, &blo, &bhi);
        rp_quantile_ci(c->response_time, p, o->alpha, &clo, &chi);
        row->test = RP_CMP_TEST_QUANTILE_CI;
        row->base_lo = (double)blo, row->base_hi = (double)bhi;
        row->cand_lo = (double)clo, row->cand_hi = (double)chi;
        row->base_n = (size_t)rp_hist_count(b->response_time);
        row->cand_n = (size_t)rp_hist_count(c->response_time);
        up = clo > bhi;
        down = chi < blo;
    }
    free(sa);
    free(sb);
    judge(row, o, up, down);
}

static void rate_row(rp_compare_row *row, const rp_results_group *b, const rp_results_group *c,
                     const rp_compare_opts *o)
{
    snprintf(row->metric, sizeof row->metric, "error rate");
    row->is_rate = 1;
    if (b->requests == 0 || c->requests == 0) {
        row->verdict = RP_CMP_NO_DATA;
        return;
    }
    row->base = rp_results_error_rate(b);
    row->cand = rp_results_error_rate(c);
    row->change = row->cand - row->base;
    row->rel_change = row->base > 0 ? row->change / row->base : 0;
    row->test = RP_CMP_TEST_PROPORTIONS;
    row->base_n = (size_t)b->requests;
    row->cand_n = (size_t)c->requests;
    double up = rp_two_proportion_p(b->failures, b->requests, c->failures, c->requests);
    double down = rp_two_proportion_p(c->failures, c->requests, b->failures, b->requests);
    row->p_value = row->change >= 0 ? up : down;
    judge(row, o, up < o->alpha, down < o->alpha);
}

/* Adds the p50, p95, p99 and error-rate rows of one scope. The runs are
 * given for the whole run only: endpoints have no per-second series. */
static int add_scope(rp_compare *out, const char *method, const char *scope,
                     const rp_results_group *b, const rp_results_group *c,
                     const rp_results *base_run, const rp_results *cand_run,
                     const rp_compare_opts *o)
{
    static const double pcts[] = { 50, 95, 99 };
    for (size_t i = 0; i < 4; i++) {
        rp_compare_row *row = new_row(out);
        if (row == NULL)
            return -1;
        snprintf(row->method, sizeof row->method, "%s", method);
        snprintf(row->scope, sizeof row->scope, "%s", scope);
        if (i < 3)
            latency_row(row, b, c, pcts[i], base_run, cand_run, o);
        else
            rate_row(row, b, c, o);
        out->regressions += row->verdict == RP_CMP_REGRESSION;
    }
    return 0;
}

static const rp_results_group *find_same(const rp_results *r, const rp_results_group *g)
{
    for (size_t i = 0; i < rp_results_endpoint_count(r); i++) {
        const rp_results_group *e = rp_results_endpoint(r, i);
        if (strcmp(e->name, g->name) == 0 && strcmp(e->method, g->method) == 0)
            return e;
    }
    return NULL;
}

/* Endpoints of base that cand also has, up to top, "(other)" aside. */
static size_t shared_endpoints(const rp_results *base, const rp_results *cand, size_t top)
{
    size_t n = 0;
    for (size_t i = 0; i < rp_results_endpoint_count(base) && n < top; i++) {
        const rp_results_group *b = rp_results_endpoint(base, i);
        n += strcmp(b->name, RP_RESULTS_OTHER) != 0 && find_same(cand, b) != NULL;
    }
    return n;
}

int rp_compare_run(const rp_results *base, const rp_results *cand,
                   const rp_compare_opts *opts, rp_compare *out)
{
    memset(out, 0, sizeof *out);
    rp_compare_opts row_opts = *opts;
    const rp_compare_opts *o = &row_opts;
    size_t rows = 4 * (1 + shared_endpoints(base, cand, opts->top));
    row_opts.alpha = opts->alpha / (double)rows;
    out->row_alpha = row_opts.alpha;

    if (add_scope(out, "", "overall", rp_results_total(base), rp_results_total(cand), base, cand,
                  o) != 0)
        return -1;

    size_t compared = 0;
    for (size_t i = 0; i < rp_results_endpoint_count(base); i++) {
        const rp_results_group *b = rp_results_endpoint(base, i);
        const rp_results_group *c = find_same(cand, b);
        if (strcmp(b->name, RP_RESULTS_OTHER) == 0)
            continue;
        if (c == NULL) {
            out->only_base++;
            continue;
        }
        if (compared++ >= o->top)
            continue;
        if (add_scope(out, b->method, b->name, b, c, NULL, NULL, o) != 0)
            return -1;
    }
    for (size_t i = 0; i < rp_results_endpoint_count(cand); i++) {
        const rp_results_group *c = rp_results_endpoint(cand, i);
        if (strcmp(c->name, RP_RESULTS_OTHER) != 0 && find_same(base, c) == NULL)
            out->only_cand++;
    }
    return 0;
}

void rp_compare_free(rp_compare *c)
{
    free(c->rows);
    memset(c, 0, sizeof *c);
}
