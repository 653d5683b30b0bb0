/* A small unit-test harness: TEST(name) registers a case, CHECK* report
 * both values on failure. tests/unit/main.c runs each case in a forked
 * child with a time limit, so a crash or hang fails that case only. */
#ifndef RP_CHECK_H
#define RP_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*rp_test_fn)(void);
void rp_test_register(const char *name, rp_test_fn fn);
extern int rp_test_failures;

#define TEST(name)                                                    \
    static void test_##name(void);                                    \
    __attribute__((constructor)) static void register_##name(void)    \
    { rp_test_register(#name, test_##name); }                         \
    static void test_##name(void)

#define CHECK(cond) do { if (!(cond)) {                               \
    fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",                    \
            __FILE__, __LINE__, #cond);                               \
    rp_test_failures++; } } while (0)

#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a),        \
    b_ = (long long)(b); if (a_ != b_) {                              \
    fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n",       \
            __FILE__, __LINE__, #a, #b, a_, b_);                      \
    rp_test_failures++; } } while (0)

#define CHECK_EQ_STR(a, b) do { const char *a_ = (a), *b_ = (b);      \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {            \
    fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n",   \
            __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",           \
            b_ ? b_ : "(null)");                                      \
    rp_test_failures++; } } while (0)

/* Compares a (pointer, length) pair with a C string. */
#define CHECK_EQ_MEM(p, n, s) do { const char *s_ = (s);              \
    size_t n_ = (size_t)(n);                                          \
    if (n_ != strlen(s_) || memcmp((p), s_, n_) != 0) {               \
    fprintf(stderr, "  %s:%d: %s == \"%s\" failed: got \"%.*s\"\n",   \
            __FILE__, __LINE__, #p, s_, (int)n_, (const char *)(p));  \
    rp_test_failures++; } } while (0)

#endif
