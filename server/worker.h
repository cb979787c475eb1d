/* worker.h: one preforked worker: its database connection, its slot, its control socket. */
#ifndef PGMCP_WORKER_H
#define PGMCP_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "daemon.h"

struct db;

struct worker {
	struct daemon *d;
	const struct config *cfg;
	int slot;
	uint32_t generation;
	struct sb_slot *me;
	struct db *db;
	int sig_pipe[2];	/* signal handlers write here; loops poll [0] */
	int ctl_fd;		/* listening control socket (other workers connect) */
	uint64_t connections;
	bool nested;		/* serving a queued client while another connection is parked */
	int parked_fd;		/* that parked connection while nested, else -1 */
	bool parked_closed;	/* a nested SSE stream took the worker: the parked one was let go */
};

extern struct worker *the_worker;
extern volatile sig_atomic_t worker_stop;	/* graceful: finish the current connection */
extern volatile sig_atomic_t worker_quit;	/* fast: stop now */

/* True once the worker should stop taking new work. */
bool worker_stopping(void);
/* Drains the signal pipe and applies pending signals; returns worker_stopping(). */
bool worker_check_signals(struct worker *w);

/*
 * Accepts one connection queued on listener i and serves it to the end, without keep-alive,
 * while the caller's own idle keep-alive connection waits: no client is left queued behind an
 * idle connection, and the idle one is never closed under a request it may be sending.
 */
void worker_serve_queued(struct worker *w, size_t i);

/* A control message from another worker: "cancel <hash>" or "sse <session>\n<json>". */
struct ctl_msg {
	char kind[16];
	char key[128];
	struct buf payload;
};

/* Accepts and reads one control message (bounded in time); false if none or malformed. */
bool worker_ctl_receive(struct worker *w, struct ctl_msg *m);
/* Sends a control message to the worker with that pid; false if it is gone. */
bool worker_ctl_send(pid_t to, const char *kind, const char *key, const char *payload, size_t len);
void ctl_msg_free(struct ctl_msg *m);

#endif
