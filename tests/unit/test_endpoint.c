/* Endpoint templates: which path segments fold into placeholders. */
#include <string.h>

#include "check.h"
#include "formats/endpoint.h"

static const char *path_of(const char *target)
{
    static char out[256];
    rp_endpoint_normalize_path(target, strlen(target), out, sizeof out);
    return out;
}

TEST(endpoint_folds_numeric_segments)
{
    CHECK_EQ_STR(path_of("/users/17/orders"), "/users/{id}/orders");
    CHECK_EQ_STR(path_of("/users/17/orders/2024"), "/users/{id}/orders/{id}");
    CHECK_EQ_STR(path_of("/0"), "/{id}");
    CHECK_EQ_STR(path_of("/v1/items"), "/v1/items");          /* "v1" is not numeric */
    CHECK_EQ_STR(path_of("/items/12a"), "/items/12a");
    CHECK_EQ_STR(path_of("/items/-3"), "/items/-3");
}

TEST(endpoint_folds_uuid_and_hex)
{
    CHECK_EQ_STR(path_of("/r/3f2504e0-4f89-11d3-9a0c-0305e82c3301/x"), "/r/{uuid}/x");
    CHECK_EQ_STR(path_of("/r/3F2504E0-4F89-11D3-9A0C-0305E82C3301"), "/r/{uuid}");
    CHECK_EQ_STR(path_of("/obj/507f1f77bcf86cd799439011"), "/obj/{hex}");
    CHECK_EQ_STR(path_of("/commit/4f3a2b1c"), "/commit/{hex}");
    /* Too short, or letters only: words such as "deadbeef" and "accede"
     * stay. */
    CHECK_EQ_STR(path_of("/c/4f3a2b1"), "/c/4f3a2b1");
    CHECK_EQ_STR(path_of("/c/deadbeef"), "/c/deadbeef");
    CHECK_EQ_STR(path_of("/static/app.4f3a2b.js"), "/static/app.4f3a2b.js");
    /* A UUID with a bad character is not one. */
    CHECK_EQ_STR(path_of("/r/3f2504e0-4f89-11d3-9a0c-0305e82c330g"),
                 "/r/3f2504e0-4f89-11d3-9a0c-0305e82c330g");
}

TEST(endpoint_drops_query_and_fragment)
{
    CHECK_EQ_STR(path_of("/search?q=1&page=2"), "/search");
    CHECK_EQ_STR(path_of("/a/7#top"), "/a/{id}");
    CHECK_EQ_STR(path_of("?only=query"), "/");
    CHECK_EQ_STR(path_of(""), "/");
    CHECK_EQ_STR(path_of("/"), "/");
    CHECK_EQ_STR(path_of("/users/"), "/users/");
    CHECK_EQ_STR(path_of("//double//5"), "//double//{id}");
}

TEST(endpoint_absolute_and_other_forms)
{
    CHECK_EQ_STR(path_of("http://example.com:8080/users/5?x=1"), "/users/{id}");
    CHECK_EQ_STR(path_of("http://example.com"), "/");
    CHECK_EQ_STR(path_of("example.com:443"), "example.com:443");   /* CONNECT */
    CHECK_EQ_STR(path_of("*"), "*");                               /* OPTIONS * */
}

TEST(endpoint_with_method)
{
    char out[64];
    size_t n = rp_endpoint_normalize("DELETE", 6, "/carts/99/items/3", 17, out, sizeof out);
    CHECK_EQ_STR(out, "DELETE /carts/{id}/items/{id}");
    CHECK_EQ_INT(n, strlen("DELETE /carts/{id}/items/{id}"));
}

TEST(endpoint_truncates_like_snprintf)
{
    char out[10];
    size_t n = rp_endpoint_normalize_path("/users/17/orders", 16, out, sizeof out);
    CHECK_EQ_INT(n, strlen("/users/{id}/orders"));
    CHECK_EQ_STR(out, "/users/{i");
    n = rp_endpoint_normalize("PATCH", 5, "/users/17", 9, out, sizeof out);
    CHECK_EQ_INT(n, strlen("PATCH /users/{id}"));
    CHECK_EQ_STR(out, "PATCH /us");
    char one[1];
    n = rp_endpoint_normalize("GET", 3, "/5", 2, one, sizeof one);
    CHECK_EQ_INT(n, strlen("GET /{id}"));
    CHECK_EQ_STR(one, "");
}
