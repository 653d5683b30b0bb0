/* Runs every registered unit test, each in a forked child with a time
 * limit, and prints one "ok" or "FAIL" line per test. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MAX_TESTS 512
#define TEST_TIMEOUT_S 60

struct test_case { const char *name; rp_test_fn fn; };
static struct test_case tests[MAX_TESTS];
static int test_count;
int rp_test_failures;

void rp_test_register(const char *name, rp_test_fn fn)
{
    if (test_count == MAX_TESTS) {
        fprintf(stderr, "too many unit tests: raise MAX_TESTS in %s\n", __FILE__);
        exit(2);
    }
    tests[test_count].name = name;
    tests[test_count].fn = fn;
    test_count++;
}

static int run_one(const struct test_case *t)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        alarm(TEST_TIMEOUT_S);
        t->fn();
        fflush(NULL);
        _exit(rp_test_failures == 0 ? 0 : 1);
    }

    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
    return 0;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;

    for (int i = 0; i < test_count; i++) {
        if (only && strstr(tests[i].name, only) == NULL)
            continue;
        int ok = run_one(&tests[i]);
        printf("%s unit/%s\n", ok ? "ok  " : "FAIL", tests[i].name);
        fflush(stdout);
        if (ok)
            passed++;
        else
            failed++;
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
