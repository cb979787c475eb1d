/* httpd.h: HTTP/1.1 on one accepted connection: routing, limits, keep-alive. */
#ifndef PGMCP_HTTPD_H
#define PGMCP_HTTPD_H

struct worker;
struct conn;

void httpd_serve(struct worker *w, struct conn *c);

#endif
