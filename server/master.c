/*
 * master.c: the supervisor. It binds the listeners, forks the workers and then only watches:
 * it never opens a database connection and never reads a client's bytes. Signal handlers set
 * flags; the loop acts on them in a fixed order: shutdown, reload, child exits, respawns.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "policy.h"
#include "sdnotify.h"
#include "token.h"
#include "util.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define HEALTHY_RUN_MS 30000
#define STORM_WINDOW_MS 60000
#define STORM_CRASHES 10

static volatile sig_atomic_t pending_stop;	/* 1 graceful (TERM), 2 fast (INT), 3 immediate (QUIT) */
static volatile sig_atomic_t pending_reload;
static volatile sig_atomic_t pending_child;
static volatile sig_atomic_t pending_reopen;

/* The master's own view of each slot: the truth about processes (the scoreboard is status). */
struct slot {
	pid_t pid;
	uint32_t generation;
	bool retiring;		/* an old generation told to leave */
	int64_t started_ms;
	int64_t respawn_at_ms;	/* 0 = not waiting */
	int64_t backoff_ms;
	bool crashed_early;	/* crashed before a healthy run: the next early crash waits */
	bool wanted;		/* part of the current generation's pool */
};

static struct slot slots[SB_MAX_SLOTS];

static void
on_signal(int sig)
{
	int saved = errno;

	switch (sig) {
	case SIGTERM: if (pending_stop < 1) pending_stop = 1; break;
	case SIGINT: if (pending_stop < 2) pending_stop = 2; break;
	case SIGQUIT: pending_stop = 3; break;
	case SIGHUP: pending_reload = 1; break;
	case SIGCHLD: pending_child = 1; break;
	case SIGUSR1: pending_reopen = 1; break;
	}
	errno = saved;
}

static int64_t
mono_ms(void)
{
	return now_us() / 1000;
}

static pid_t
spawn_worker(struct daemon *d, int slot)
{
	sigset_t all, old;
	pid_t pid;

	fflush(NULL);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);	/* the child resets handlers before unblocking */
	pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("fork (slot %d)", slot);
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;
		int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1 };

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaction(sigs[i], &sa, NULL);
		worker_run(d, slot, d->generation);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	slots[slot].pid = pid;
	slots[slot].generation = d->generation;
	slots[slot].started_ms = mono_ms();
	slots[slot].respawn_at_ms = 0;
	slots[slot].retiring = false;
	slots[slot].wanted = true;
	return pid;
}

static int
find_slot(pid_t pid)
{
	for (int i = 0; i < SB_MAX_SLOTS; i++)
		if (slots[i].pid == pid)
			return i;
	return -1;
}

static int
live_workers(void)
{
	int n = 0;

	for (int i = 0; i < SB_MAX_SLOTS; i++)
		if (slots[i].pid > 0)
			n++;
	return n;
}

static void
signal_workers(int sig, bool only_retiring)
{
	for (int i = 0; i < SB_MAX_SLOTS; i++)
		if (slots[i].pid > 0 && (!only_retiring || slots[i].retiring))
			kill(slots[i].pid, sig);
}

static bool storm_logged;
static int64_t crash_times[STORM_CRASHES];
static int crash_next;

/* Reaps every exited child (signals coalesce), decides when each slot may come back. */
static int
reap_children(struct daemon *d, bool stopping)
{
	int status, fatal_config = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int s = find_slot(pid);
		int64_t now = mono_ms(), ran;
		bool crashed;

		if (s < 0) {
			/* As PID 1 we inherit orphans; reaping them is all there is to do. */
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		ran = now - slots[s].started_ms;
		crashed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != EXIT_NORMAL);
		if (WIFSIGNALED(status))
			log_warnx("worker %d (pid %d) killed by signal %d%s after %lld ms", s, (int)pid,
			    WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "", (long long)ran);
		else if (WEXITSTATUS(status) != EXIT_NORMAL)
			log_warnx("worker %d (pid %d) exited with status %d after %lld ms", s, (int)pid,
			    WEXITSTATUS(status), (long long)ran);
		else
			log_debug("worker %d (pid %d) exited", s, (int)pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_WORKER_CONFIG)
			fatal_config = 1;
		scoreboard_retire(d->sb, s);
		slots[s].pid = 0;
		if (crashed) {
			d->sb->worker_crashes++;
			crash_times[crash_next++ % STORM_CRASHES] = now;
		}
		if (stopping || slots[s].retiring || !slots[s].wanted) {
			slots[s].wanted = false;
			continue;
		}
		/*
		 * A single crash is replaced at once; a slot that keeps crashing before a healthy
		 * run waits 1 s, then 2 s, 4 s... up to a minute, so a crash loop is throttled.
		 */
		if (!crashed || ran >= HEALTHY_RUN_MS) {
			slots[s].backoff_ms = 0;
			slots[s].crashed_early = crashed;
		} else if (!slots[s].crashed_early) {
			slots[s].backoff_ms = 0;
			slots[s].crashed_early = true;
		} else {
			slots[s].backoff_ms = slots[s].backoff_ms == 0 ? BACKOFF_FIRST_MS :
			    (slots[s].backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : slots[s].backoff_ms * 2);
		}
		slots[s].respawn_at_ms = now + slots[s].backoff_ms;
		if (slots[s].backoff_ms > 0)
			log_warnx("worker %d restarts in %lld ms", s, (long long)slots[s].backoff_ms);
	}
	{
		int64_t oldest = crash_times[crash_next % STORM_CRASHES];

		if (crash_next >= STORM_CRASHES && mono_ms() - oldest < STORM_WINDOW_MS) {
			if (!storm_logged)
				log_error("crash storm: %d worker crashes within %d s; restarts are "
				    "throttled (check the database and the configuration)", STORM_CRASHES,
				    STORM_WINDOW_MS / 1000);
			storm_logged = true;
		} else {
			storm_logged = false;
		}
	}
	return fatal_config;
}

static void
respawn_due(struct daemon *d)
{
	int64_t now = mono_ms();

	for (int i = 0; i < SB_MAX_SLOTS; i++) {
		if (!slots[i].wanted || slots[i].pid > 0 || slots[i].respawn_at_ms > now)
			continue;
		if (spawn_worker(d, i) > 0) {
			d->sb->worker_restarts++;
			log_info("worker %d restarted (pid %d)", i, (int)slots[i].pid);
		} else {
			slots[i].respawn_at_ms = now + BACKOFF_FIRST_MS;
		}
	}
}

static int64_t
next_respawn_ms(void)
{
	int64_t next = INT64_MAX;

	for (int i = 0; i < SB_MAX_SLOTS; i++)
		if (slots[i].wanted && slots[i].pid == 0 && slots[i].respawn_at_ms < next)
			next = slots[i].respawn_at_ms;
	return next;
}

static bool
same_listeners(const struct config *a, const struct config *b)
{
	if (a->n_listen != b->n_listen)
		return false;
	for (size_t i = 0; i < a->n_listen; i++)
		if (strcmp(a->listen[i].address, b->listen[i].address) != 0 ||
		    a->listen[i].protocols != b->listen[i].protocols)
			return false;
	return true;
}

/* SIGHUP: a new generation from the new file; the old one finishes its work and leaves. */
static void
reload(struct daemon *d)
{
	struct config *next = xcalloc(1, sizeof(*next));
	int wanted = 0;

	{
		/* systemd (Type=notify-reload) wants the reload's start time with RELOADING=1. */
		char msg[64];
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
		sd_notify_state(msg);
	}
	log_info("reloading the configuration");
	if (daemon_load_config(&d->src, next, true) != 0) {
		log_error("the new configuration is invalid; the running workers keep serving");
		config_free(next);
		free(next);
		sd_notify_state("READY=1");
		return;
	}
	if (!d->ls.from_systemd && !same_listeners(d->cfg, next))
		log_warnx("listen changed: listeners stay as they are until a restart");
	/* Retiring workers keep their own copy (they were forked with it). */
	config_free(d->cfg);
	free(d->cfg);
	d->cfg = next;
	policy_install(&next->policies);
	log_set_level((enum log_level)next->log_level);
	d->generation++;
	d->sb->generation = d->generation;
	for (int i = 0; i < SB_MAX_SLOTS; i++) {
		if (slots[i].pid > 0) {
			slots[i].retiring = true;
			slots[i].wanted = false;
		}
	}
	for (int i = 0; i < SB_MAX_SLOTS && wanted < next->workers; i++) {
		if (slots[i].pid == 0) {
			slots[i].backoff_ms = 0;
			slots[i].crashed_early = false;
			slots[i].respawn_at_ms = 0;
			if (spawn_worker(d, i) > 0)
				wanted++;
		}
	}
	if (wanted < next->workers)
		log_warnx("only %d of %lld workers started (at most %d slots)", wanted,
		    (long long)next->workers, SB_MAX_SLOTS);
	signal_workers(SIGTERM, true);
	log_info("generation %u started with %d workers", d->generation, wanted);
	sd_notify_state("READY=1");
}

static void
setup_signals(sigset_t *blocked)
{
	struct sigaction sa;
	int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1 };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(blocked);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(blocked, sigs[i]);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* Signals are delivered only inside ppoll, so a flag set after a check is never missed. */
	sigprocmask(SIG_BLOCK, blocked, NULL);
}

static int
busy_workers(struct daemon *d, int *live)
{
	int busy = 0;

	*live = 0;
	for (int i = 0; i < SB_MAX_SLOTS; i++) {
		if (slots[i].pid <= 0 || slots[i].retiring)
			continue;
		(*live)++;
		/* A worker holding an idle keep-alive connection lets it go for a waiting client. */
		if (d->sb->slots[i].state == SB_BUSY || d->sb->slots[i].state == SB_STARTING)
			busy++;
	}
	return busy;
}

/* Connections the workers have taken so far: if it moves, the accept queue is moving. */
static uint64_t
connections_taken(struct daemon *d)
{
	uint64_t n = d->sb->retired.connections;

	for (int i = 0; i < SB_MAX_SLOTS; i++)
		if (slots[i].pid > 0)
			n += d->sb->slots[i].c.connections;
	return n;
}

/*
 * Answer one queued connection: HTTP gets 503 with Retry-After, newline-framed JSON-RPC (its
 * first byte is '{' or '[') a JSON-RPC error line. What the client already sent is read
 * first, so closing does not reset the connection under the answer.
 */
static void
refuse_busy(int fd)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
	    "\"message\":\"every worker is busy; retry\"}}\n";
	char head[200], sink[4096];
	int len = snprintf(head, sizeof(head), "HTTP/1.1 503 Service Unavailable\r\n"
	    "Retry-After: 1\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", sizeof(body) - 1);
	struct pollfd pfd = { fd, POLLIN, 0 };
	bool framed = false, seen = false;
	ssize_t n;

	if (poll(&pfd, 1, 20) > 0) {
		while ((n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
			for (ssize_t i = 0; i < n && !seen; i++) {
				if (strchr(" \t\r\n", sink[i]) != NULL)
					continue;
				seen = true;
				framed = sink[i] == '{' || sink[i] == '[';
			}
		}
	}
	if (framed || send(fd, head, (size_t)len, MSG_NOSIGNAL) == len)
		(void)!send(fd, body, sizeof(body) - 1, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	if (poll(&pfd, 1, 20) > 0)
		while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	close(fd);
}

/*
 * Every worker busy, a connection queued, and no worker has taken a connection for
 * http.queue_timeout: the head of the queue has waited at least that long, so answer what is
 * queued with 503 and Retry-After rather than let the queue grow. While workers keep taking
 * connections the queue is moving and nothing is shed.
 */
static void
shed_load(struct daemon *d)
{
	static int64_t stalled_since;
	static uint64_t taken_then;
	int live, busy = busy_workers(d, &live);
	struct pollfd pfd[64];
	size_t n = d->ls.n < 64 ? d->ls.n : 64;
	uint64_t taken = connections_taken(d);

	if (live == 0 || busy < live || d->cfg->http_queue_timeout_ms <= 0) {
		stalled_since = 0;
		return;
	}
	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ d->ls.l[i].fd, POLLIN, 0 };
	if (poll(pfd, n, 0) <= 0) {
		stalled_since = 0;
		return;
	}
	if (stalled_since == 0 || taken != taken_then) {
		stalled_since = mono_ms();
		taken_then = taken;
		return;
	}
	if (mono_ms() - stalled_since < d->cfg->http_queue_timeout_ms)
		return;
	for (size_t i = 0, shed = 0; i < n; i++) {
		int fd;

		if (pfd[i].revents == 0)
			continue;
		/* A bounded batch: the master must get back to supervising. */
		while (shed++ < 16 &&
		    (fd = accept4(d->ls.l[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
			refuse_busy(fd);
			d->sb->retired.requests[SB_T_OTHER][SB_S_5XX]++;
		}
	}
	stalled_since = 0;
}

int
master_run(struct daemon *d)
{
	sigset_t blocked, none;
	int64_t stop_deadline = 0;
	int exit_code = EXIT_NORMAL;
	bool stopping = false, killed = false;
	int started = 0;

	d->master_pid = getpid();
	d->generation = 1;
	d->sb = scoreboard_create((uint32_t)SB_MAX_SLOTS);
	d->sb->generation = 1;
	token_init_key();
	if (pipe2(d->master_alive, O_CLOEXEC) < 0)
		fatal("pipe");
	setup_signals(&blocked);
	sigemptyset(&none);
	/* The kernel's OOM killer should pick a worker, never the supervisor. */
	{
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "-500", 4) < 0) {
				/* not permitted without privileges; workers keep the default */
			}
			close(fd);
		}
	}
	for (size_t i = 0; i < d->ls.n; i++)
		log_info("listening on %s (%s%s%s)", d->ls.l[i].name,
		    d->ls.l[i].protocols & LISTEN_HTTP ? "http" : "",
		    d->ls.l[i].protocols == (LISTEN_HTTP | LISTEN_FRAMED) ? " and " : "",
		    d->ls.l[i].protocols & LISTEN_FRAMED ? "framed JSON-RPC" : "");
	for (int i = 0; i < d->cfg->workers && i < SB_MAX_SLOTS; i++)
		if (spawn_worker(d, i) > 0)
			started++;
	log_info("master ready: %d workers, pid %d", started, (int)getpid());
	sd_notify_state("READY=1");

	for (;;) {
		struct timespec ts;
		int64_t wait_ms = 1000, next;

		if (!stopping) {
			next = next_respawn_ms();
			if (next != INT64_MAX)
				wait_ms = next - mono_ms() < 0 ? 0 : next - mono_ms();
			if (wait_ms > 50 && d->cfg->http_queue_timeout_ms > 0)
				wait_ms = d->cfg->http_queue_timeout_ms / 2 + 1;
		} else {
			wait_ms = 100;
		}
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000;
		if (ppoll(NULL, 0, &ts, &none) < 0 && errno != EINTR)
			log_warn("ppoll");

		/* Shutdown first, then reload, then children. */
		if (pending_stop && !stopping) {
			int how = pending_stop;

			stopping = true;
			sd_notify_state("STOPPING=1");
			if (how == 3) {
				log_info("SIGQUIT: stopping immediately");
				signal_workers(SIGKILL, false);
				killed = true;
			} else {
				log_info("%s: stopping %s", how == 1 ? "SIGTERM" : "SIGINT",
				    how == 1 ? "gracefully (finishing requests in flight)" : "fast");
				signal_workers(how == 1 ? SIGTERM : SIGINT, false);
			}
			stop_deadline = mono_ms() + (how == 1 ? d->cfg->shutdown_timeout_ms : 2000);
			/* Nobody new gets in while we drain. */
			listeners_close(&d->ls, true);
		} else if (pending_stop == 3 && !killed) {
			signal_workers(SIGKILL, false);
			killed = true;
		}
		if (pending_reload && !stopping) {
			pending_reload = 0;
			reload(d);
		}
		pending_reload = 0;
		if (pending_reopen) {
			pending_reopen = 0;
			if (d->cfg->log_file && d->cfg->log_file[0] && log_open_file(d->cfg->log_file) < 0)
				log_warn("cannot reopen log.file %s", d->cfg->log_file);
			signal_workers(SIGUSR1, false);
		}
		if (pending_child) {
			pending_child = 0;
			if (reap_children(d, stopping) && !stopping) {
				log_error("a worker could not use the configuration; stopping");
				exit_code = EXIT_CONFIG;
				pending_stop = 1;
				continue;
			}
		}
		if (stopping) {
			if (live_workers() == 0)
				break;
			if (!killed && mono_ms() >= stop_deadline) {
				log_warnx("%d workers still busy after the shutdown timeout; killing them",
				    live_workers());
				signal_workers(SIGKILL, false);
				killed = true;
			}
			continue;
		}
		respawn_due(d);
		shed_load(d);
	}
	/* Reap whatever is left (as PID 1, orphans too), then go. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	close(d->master_alive[1]);
	close(d->master_alive[0]);
	scoreboard_destroy(d->sb);
	log_info("stopped");
	return exit_code;
}
