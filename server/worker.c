/* worker.c: a preforked worker: connect to PostgreSQL after fork, accept, sniff, serve, repeat. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit.h"
#include "conn.h"
#include "db.h"
#include "exitcode.h"
#include "framed.h"
#include "guard.h"
#include "handlers.h"
#include "httpd.h"
#include "log.h"
#include "token.h"
#include "util.h"

#define CTL_MAX_MESSAGE (64 * 1024 * 1024)

struct worker *the_worker;
volatile sig_atomic_t worker_stop;
volatile sig_atomic_t worker_quit;
static volatile sig_atomic_t worker_reopen;

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGTERM)
		worker_stop = 1;
	else if (sig == SIGINT)
		worker_quit = worker_stop = 1;
	else if (sig == SIGUSR1) {
		worker_reopen = 1;
		audit_request_reopen();	/* a long session reopens before its next record */
	}
	if (the_worker != NULL && write(the_worker->sig_pipe[1], &c, 1) < 0) {
		/* the pipe is full: the loop will wake up anyway */
	}
	errno = saved;
}

bool
worker_stopping(void)
{
	return worker_stop || worker_quit;
}

bool
worker_check_signals(struct worker *w)
{
	char drain[64];

	while (read(w->sig_pipe[0], drain, sizeof(drain)) > 0)
		;
	if (worker_reopen) {
		worker_reopen = 0;
		if (w->cfg->log_file && w->cfg->log_file[0] && log_open_file(w->cfg->log_file) < 0)
			log_warn("cannot reopen log.file %s", w->cfg->log_file);
		audit_reopen();
	}
	if (!w->d->single && getppid() != w->d->master_pid)
		worker_quit = worker_stop = 1;	/* the master is gone: nobody supervises us */
	return worker_stopping();
}

void
worker_control_name(pid_t master, pid_t worker, char *out, size_t cap)
{
	snprintf(out, cap, "pgmcp.%d.%d", (int)master, (int)worker);
}

static int
ctl_listen(struct worker *w)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char name[64];
	int fd;

	worker_control_name(w->d->master_pid, getpid(), name, sizeof(name));
	/* Abstract namespace: sun_path[0] is NUL, no file to clean up. */
	memcpy(sun.sun_path + 1, name, strlen(name));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) < 0 ||
	    listen(fd, 64) < 0) {
		log_warn("worker control socket");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool
read_full(int fd, void *buf, size_t len, int64_t deadline)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return false;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return false;
		{
			struct pollfd pfd = { fd, POLLIN, 0 };
			int64_t left = deadline - now_us();

			if (left <= 0 || poll(&pfd, 1, (int)(left / 1000) + 1) <= 0)
				return false;
		}
	}
	return true;
}

void
ctl_msg_free(struct ctl_msg *m)
{
	buf_free(&m->payload);
}

bool
worker_ctl_receive(struct worker *w, struct ctl_msg *m)
{
	unsigned char len4[4];
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	uint32_t len;
	char *nl, *sp;
	int fd;
	bool ok = false;
	int64_t deadline = now_us() + 2000000;

	memset(m, 0, sizeof(*m));
	fd = accept4(w->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return false;
	/* Only our own processes may talk to us (the abstract namespace is visible to all). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != getuid())
		goto out;
	if (!read_full(fd, len4, 4, deadline))
		goto out;
	len = (uint32_t)len4[0] << 24 | (uint32_t)len4[1] << 16 | (uint32_t)len4[2] << 8 | len4[3];
	if (len == 0 || len > CTL_MAX_MESSAGE)
		goto out;
	buf_reserve(&m->payload, len);
	if (!read_full(fd, m->payload.data, len, deadline))
		goto out;
	m->payload.len = len;
	buf_cstr(&m->payload);
	nl = memchr(m->payload.data, '\n', len);
	if (nl == NULL)
		goto out;
	*nl = '\0';
	sp = strchr(m->payload.data, ' ');
	if (sp == NULL)
		goto out;
	*sp = '\0';
	snprintf(m->kind, sizeof(m->kind), "%s", m->payload.data);
	snprintf(m->key, sizeof(m->key), "%s", sp + 1);
	buf_consume(&m->payload, (size_t)(nl - m->payload.data) + 1);
	buf_cstr(&m->payload);
	ok = true;
out:
	close(fd);
	if (!ok)
		ctl_msg_free(m);
	return ok;
}

bool
worker_ctl_send(pid_t to, const char *kind, const char *key, const char *payload, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct buf msg = BUF_INIT;
	char name[64];
	uint32_t n;
	unsigned char len4[4];
	int fd;
	bool ok;

	if (the_worker == NULL)
		return false;
	worker_control_name(the_worker->d->master_pid, to, name, sizeof(name));
	memcpy(sun.sun_path + 1, name, strlen(name));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) < 0) {
		close(fd);
		return false;
	}
	buf_printf(&msg, "%s %s\n", kind, key);
	buf_append(&msg, payload, len);
	n = (uint32_t)msg.len;
	len4[0] = (unsigned char)(n >> 24);
	len4[1] = (unsigned char)(n >> 16);
	len4[2] = (unsigned char)(n >> 8);
	len4[3] = (unsigned char)n;
	ok = send(fd, len4, 4, MSG_NOSIGNAL) == 4 &&
	    send(fd, msg.data, msg.len, MSG_NOSIGNAL) == (ssize_t)msg.len;
	close(fd);
	buf_free(&msg);
	return ok;
}

/* The first non-blank byte says which protocol the client speaks. */
static void
serve_connection(struct worker *w, int fd, int protocols)
{
	struct conn c;
	int64_t deadline = now_us() + w->cfg->http_header_timeout_ms * 1000;

	conn_init(&c, fd);
	w->me->c.connections++;
	log_debug("connection from %s", c.peer);
	for (;;) {
		size_t i = 0;

		while (i < conn_avail(&c) && strchr(" \t\r\n", conn_data(&c)[i]) != NULL)
			i++;
		if (i < conn_avail(&c)) {
			char first = conn_data(&c)[i];

			if (first == '{' || first == '[') {
				if (!(protocols & LISTEN_FRAMED))
					break;
				if (httpd_auth_required(w->cfg)) {
					static const char refusal[] = "{\"jsonrpc\":\"2.0\",\"id\":null,"
					    "\"error\":{\"code\":-32600,\"message\":\"this server requires a "
					    "bearer token, which newline-framed JSON-RPC cannot carry: use HTTP "
					    "with an Authorization header\"}}\n";

					log_warnx("refused framed JSON-RPC from %s: auth tokens are configured",
					    c.peer);
					(void)!send(c.fd, refusal, sizeof(refusal) - 1, MSG_NOSIGNAL);
					break;
				}
				{
					struct framed_opts opts = { w->cfg->http_idle_timeout_ms, w->sig_pipe[0],
						true, w->cfg->http_request_timeout_ms, &w->me->c, c.peer };

					framed_serve(w->cfg, w->db, c.fd, c.fd, conn_data(&c), conn_avail(&c),
					    &opts);
				}
			} else if (protocols & LISTEN_HTTP) {
				httpd_serve(w, &c);
			}
			break;
		}
		if (conn_fill(&c, deadline, w->sig_pipe[0]) <= 0)
			break;	/* closed, silent past the header timeout, or told to stop */
	}
	conn_close(&c);
}

void
worker_serve_queued(struct worker *w, size_t i)
{
	int fd = accept4(w->d->ls.l[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;	/* another worker took it, or out of descriptors */
	w->nested = true;
	w->connections++;
	serve_connection(w, fd, w->d->ls.l[i].protocols);
	w->nested = false;
}

static void
setup_signals(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static struct worker w;

static void
worker_setup(struct daemon *d, int slot, uint32_t generation)
{
	char role[32];

	memset(&w, 0, sizeof(w));
	w.d = d;
	w.cfg = d->cfg;
	w.slot = slot;
	w.generation = generation;
	w.me = &d->sb->slots[slot];
	w.parked_fd = -1;
	if (!d->single) {
		snprintf(role, sizeof(role), "worker %d", slot);
		log_set_role(role);
	}
	if (pipe2(w.sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe");
	the_worker = &w;
	setup_signals();
	if (!d->single) {
		/* Die with the master: the kernel tells us, and we check in case it already did. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != d->master_pid)
			_exit(EXIT_NORMAL);
		if (d->master_alive[1] >= 0)
			close(d->master_alive[1]);
	}
	w.me->pid = getpid();
	w.me->generation = generation;
	w.me->started_ms = sb_now_ms();
	sb_set_state(w.me, SB_STARTING);
	w.ctl_fd = ctl_listen(&w);
	w.db = db_new(w.cfg);	/* our own connection, made after fork, never inherited */
	db_count_reconnects(w.db, &w.me->c.db_reconnects);
	tools_freeze(w.cfg);
	db_connect_start(w.db);
	sb_set_state(w.me, SB_IDLE);
}

static void
worker_teardown(void)
{
	sb_set_state(w.me, SB_STOPPING);
	db_free(w.db);
	w.db = NULL;
	if (w.ctl_fd >= 0)
		close(w.ctl_fd);
	close(w.sig_pipe[0]);
	close(w.sig_pipe[1]);
	the_worker = NULL;
}

/* Without a master: one process, for debugging (--single) and inetd-style sockets. */
static void
single_daemon(struct daemon *d)
{
	d->single = true;
	d->master_pid = getpid();
	d->master_alive[0] = d->master_alive[1] = -1;
	d->sb = scoreboard_create(1);
	token_init_key();
}

int
worker_serve_fd(struct daemon *d, int fd)
{
	single_daemon(d);
	worker_setup(d, 0, 1);
	serve_connection(&w, fd, LISTEN_HTTP | LISTEN_FRAMED);
	worker_teardown();
	scoreboard_destroy(d->sb);
	return EXIT_NORMAL;
}

int
worker_serve_single(struct daemon *d)
{
	single_daemon(d);
	log_info("single-worker mode: one process, no master (for debugging)");
	worker_run(d, 0, 1);
}

void
worker_run(struct daemon *d, int slot, uint32_t generation)
{
	struct pollfd *pfd;
	size_t nl = d->ls.n;
	int64_t accept_paused_until_us = 0;	/* out of descriptors: stop accepting until then */

	worker_setup(d, slot, generation);
	pfd = xcalloc(nl + 4, sizeof(*pfd));
	while (!worker_check_signals(&w)) {
		int n, timeout_ms = 1000, db_wait_ms;
		short db_events = 0;
		int db_fd;
		bool paused = now_us() < accept_paused_until_us;

		if (w.cfg->max_connections_per_worker > 0 &&
		    w.connections >= (uint64_t)w.cfg->max_connections_per_worker) {
			log_info("served %llu connections; recycling", (unsigned long long)w.connections);
			break;
		}
		for (size_t i = 0; i < nl; i++)
			pfd[i] = (struct pollfd){ paused ? -1 : d->ls.l[i].fd, POLLIN, 0 };
		pfd[nl] = (struct pollfd){ w.sig_pipe[0], POLLIN, 0 };
		pfd[nl + 1] = (struct pollfd){ d->master_alive[0], POLLIN, 0 };
		pfd[nl + 2] = (struct pollfd){ w.ctl_fd, POLLIN, 0 };
		/* Connect (and reconnect) while idle, so the first request finds the database ready. */
		db_wait_ms = db_tick(w.db);
		db_fd = db_connect_fd(w.db, &db_events);
		pfd[nl + 3] = (struct pollfd){ db_fd, db_events, 0 };
		if (db_wait_ms >= 0 && db_wait_ms < timeout_ms)
			timeout_ms = db_wait_ms;
		if (paused) {
			int left = (int)((accept_paused_until_us - now_us()) / 1000) + 1;

			if (left < timeout_ms)
				timeout_ms = left;
		}
		n = poll(pfd, nl + 4, timeout_ms);
		if (n < 0 && errno != EINTR)
			fatal("poll");
		if (n <= 0)
			continue;
		if (pfd[nl + 1].revents != 0) {
			log_warnx("the master is gone; exiting");
			worker_quit = worker_stop = 1;
			break;
		}
		if (pfd[nl + 3].revents != 0) {
			db_connect_step(w.db);
			w.me->db_ready = db_is_connected(w.db);
		}
		if (pfd[nl + 2].revents != 0) {
			struct ctl_msg m;

			/* Nothing is running here: a late cancellation or a stream we no longer hold. */
			if (worker_ctl_receive(&w, &m)) {
				log_debug("control message %s for nothing running here", m.kind);
				ctl_msg_free(&m);
			}
		}
		for (size_t i = 0; i < nl && !worker_stopping(); i++) {
			int fd;

			if (pfd[i].revents == 0)
				continue;
			fd = accept4(d->ls.l[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0) {
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
					/* Out of descriptors: the socket stays readable, so leave it alone a while. */
					log_warn("accept on %s (pausing accepts for 100 ms)", d->ls.l[i].name);
					accept_paused_until_us = now_us() + 100000;
					break;
				}
				continue;	/* EAGAIN: another worker took it */
			}
			sb_set_state(w.me, SB_BUSY);
			w.connections++;
			serve_connection(&w, fd, d->ls.l[i].protocols);
			w.me->db_ready = db_is_connected(w.db);
			sb_set_state(w.me, SB_IDLE);
			break;	/* re-check signals and limits between connections */
		}
	}
	free(pfd);
	worker_teardown();
	audit_shutdown();
	guard_shutdown();
	_exit(EXIT_NORMAL);
}
