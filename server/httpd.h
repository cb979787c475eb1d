/* httpd.h: HTTP/1.1 on one accepted connection: routing, limits, keep-alive. */
#ifndef PGMCP_HTTPD_H
#define PGMCP_HTTPD_H

#include <stdbool.h>

struct worker;
struct conn;
struct config;

void httpd_serve(struct worker *w, struct conn *c);
/* Whether bearer tokens are configured (then only HTTP, which carries them, is served). */
bool httpd_auth_required(const struct config *cfg);

#endif
