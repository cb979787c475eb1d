/* daemon.h: what the master and its workers share: configuration, sockets, scoreboard. */
#ifndef PGMCP_DAEMON_H
#define PGMCP_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "listeners.h"
#include "scoreboard.h"

/* How to rebuild the configuration on SIGHUP: the same sources as at start-up. */
struct config_source {
	const char *file;
	const char *const *sets;
	size_t n_sets;
	const char *dsn;
	const char *const *listen;	/* --listen addresses, replacing the file's */
	size_t n_listen;
	int64_t workers;		/* --workers, or 0 */
};

struct daemon {
	struct config *cfg;
	struct config_source src;
	struct listeners ls;
	struct scoreboard *sb;
	int master_alive[2];	/* workers poll [0]; end of file means the master is gone */
	pid_t master_pid;
	uint32_t generation;
	bool single;		/* --single: one worker in the foreground, no master */
};

/* Loads the configuration from src; errors go to the log (reload) or to stderr (start-up).
 * Returns the number of errors. */
int daemon_load_config(const struct config_source *src, struct config *cfg, bool to_log);
/* Runs the master until shutdown; returns the exit status. */
int master_run(struct daemon *d);
/* The worker's life; never returns. */
void worker_run(struct daemon *d, int slot, uint32_t generation) __attribute__((__noreturn__));
/* One process, no master: --single serves the listeners; _fd serves one socket (inetd). */
int worker_serve_single(struct daemon *d) __attribute__((__noreturn__));
int worker_serve_fd(struct daemon *d, int fd);
/* The control socket name of a worker (abstract namespace), for cross-worker messages. */
void worker_control_name(pid_t master, pid_t worker, char *out, size_t cap);

#endif
