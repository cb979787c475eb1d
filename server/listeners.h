/* listeners.h: the master's listening sockets: TCP (IPv4/IPv6), Unix, or adopted from systemd. */
#ifndef PGMCP_LISTENERS_H
#define PGMCP_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

struct listener {
	int fd;
	int protocols;		/* LISTEN_HTTP | LISTEN_FRAMED */
	bool is_unix;
	char name[160];		/* for logs: "127.0.0.1:8080", "unix:/run/pgmcp.sock", "systemd fd 3" */
	char *unix_path;	/* unlinked when the master exits */
};

struct listeners {
	struct listener *l;
	size_t n;
	bool from_systemd;
};

/* Binds every configured listener (or none at all). Errors name the listener and its origin. */
int listeners_open(const struct config *cfg, struct listeners *out, struct buf *err);
/* Adopts LISTEN_FDS sockets when LISTEN_PID is this process; returns how many (0 if none). */
int listeners_adopt_systemd(struct listeners *out, struct buf *err);
void listeners_close(struct listeners *ls, bool unlink_unix);

#endif
