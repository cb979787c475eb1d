/* conn.h: one accepted client socket with an input buffer and deadline-bound reads and writes. */
#ifndef PGMCP_CONN_H
#define PGMCP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct conn {
	int fd;
	struct buf in;		/* bytes read and not yet used: in.data[start .. in.len) */
	size_t start;
	bool eof;
	bool broken;		/* a write failed or timed out: the client is gone */
	char peer[96];
};

void conn_init(struct conn *c, int fd);
void conn_close(struct conn *c);
/* Unused input. */
static inline const char *conn_data(const struct conn *c) { return c->in.data + c->start; }
static inline size_t conn_avail(const struct conn *c) { return c->in.len - c->start; }
void conn_consume(struct conn *c, size_t n);
/*
 * Reads more input, waiting until deadline_us (now_us() clock). Returns bytes read, 0 at end
 * of input, -1 on timeout (errno ETIMEDOUT) or error. stop_fd, if >= 0, ends the wait early
 * (returns -1 with errno EINTR) when it becomes readable: the worker's shutdown signal.
 */
ssize_t conn_fill(struct conn *c, int64_t deadline_us, int stop_fd);
/* Writes everything or gives up at deadline_us; false (and broken) on failure. */
bool conn_write(struct conn *c, const void *data, size_t len, int64_t deadline_us);
bool conn_write2(struct conn *c, const void *a, size_t alen, const void *b, size_t blen,
    int64_t deadline_us);

#endif
