#include "tools/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rp_cli_parse_double(const char *text, double *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

int rp_cli_parse_duration(const char *text, uint64_t *out_ns)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || !isfinite(v) || v < 0)
        return -1;

    double unit_ns;
    if (*end == '\0' || strcmp(end, "s") == 0)
        unit_ns = 1e9;
    else if (strcmp(end, "ms") == 0)
        unit_ns = 1e6;
    else if (strcmp(end, "us") == 0)
        unit_ns = 1e3;
    else if (strcmp(end, "ns") == 0)
        unit_ns = 1;
    else if (strcmp(end, "m") == 0)
        unit_ns = 60e9;
    else if (strcmp(end, "h") == 0)
        unit_ns = 3600e9;
    else
        return -1;

    double ns = v * unit_ns;
    if (ns > 9.2e18)   /* beyond int64 nanoseconds: about 292 years */
        return -1;
    *out_ns = (uint64_t)llround(ns);
    return 0;
}

int rp_cli_is_tty(void)
{
    return isatty(STDERR_FILENO);
}
