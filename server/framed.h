/* framed.h: newline-framed JSON-RPC over a pair of file descriptors (stdio, or a socket). */
#ifndef PGMCP_FRAMED_H
#define PGMCP_FRAMED_H

#include <stddef.h>

#include "config.h"

struct db;
struct sb_counters;

/* Socket behaviour; stdio passes NULL (no timeouts, end of input is not a disconnect). */
struct framed_opts {
	int64_t idle_timeout_ms;	/* close after this long without a message; 0 = never */
	int stop_fd;			/* readable = finish the current request and stop */
	bool eof_cancels;		/* the peer closing means it is gone: cancel its work */
	int64_t write_timeout_ms;	/* give up on a client that does not read */
	struct sb_counters *stats;
	const char *client;		/* the peer, for the audit log ("stdio" without opts) */
};

/*
 * Serves one MCP session until the input ends. Bytes already read from in_fd (for example by
 * protocol sniffing) are passed as preread. Returns 0 on a clean end of input.
 */
int framed_serve(const struct config *cfg, struct db *db, int in_fd, int out_fd,
    const char *preread, size_t preread_len, const struct framed_opts *opts);

#endif
