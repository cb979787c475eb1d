/* framed.h: newline-framed JSON-RPC over a pair of file descriptors (stdio, or a socket). */
#ifndef PGMCP_FRAMED_H
#define PGMCP_FRAMED_H

#include <stddef.h>

#include "config.h"

struct db;

/*
 * Serves one MCP session until the input ends. Bytes already read from in_fd (for example by
 * protocol sniffing) are passed as preread. Returns 0 on a clean end of input.
 */
int framed_serve(const struct config *cfg, struct db *db, int in_fd, int out_fd,
    const char *preread, size_t preread_len);

#endif
