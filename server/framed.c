/* framed.c: the newline-framed transport: one JSON-RPC message per line, responses in order. */
#include "framed.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mcp.h"
#include "token.h"
#include "util.h"

#define READ_CHUNK 65536

struct framed {
	int in_fd, out_fd;
	struct buf in;		/* bytes read but not yet handled */
	size_t start;		/* first byte of in not yet handled */
	size_t scanned;		/* prefix of in already searched for a newline */
	size_t peeked;		/* prefix of in already checked for cancellations */
	size_t last_cancel;	/* end of the last "notifications/cancelled" seen in in, or 0 */
	bool eof;
	bool out_broken;
	bool discarding;	/* skipping the rest of an oversized line */
	size_t max_line;
	struct mcp_session *session;
	const struct framed_opts *opts;
};

static void
write_all(struct framed *f, const char *a, size_t alen, const char *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	int n = 2;
	struct iovec *v = iov;

	int64_t deadline = f->opts && f->opts->write_timeout_ms > 0 ?
	    now_us() + f->opts->write_timeout_ms * 1000 : INT64_MAX;

	if (f->out_broken)
		return;
	while (n > 0) {
		ssize_t w = writev(f->out_fd, v, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && now_us() < deadline) {
				struct pollfd pfd = { f->out_fd, POLLOUT, 0 };

				poll(&pfd, 1, 1000);
				continue;
			}
			log_warn("writing to the client failed");
			f->out_broken = true;
			return;
		}
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
}

static void
send_message(void *ctx, const char *msg, size_t len)
{
	write_all(ctx, msg, len, "\n", 1);
}

/* Reads what is available; returns bytes read, 0 at end of input, -1 on error. */
static ssize_t
read_some(struct framed *f)
{
	ssize_t n;

	buf_reserve(&f->in, READ_CHUNK);
	for (;;) {
		n = read(f->in_fd, f->in.data + f->in.len, READ_CHUNK);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
		if (errno == EAGAIN) {
			/* A socket: wait for input, the idle deadline, or the worker being stopped. */
			const struct framed_opts *o = f->opts;
			struct pollfd pfd[2] = { { f->in_fd, POLLIN, 0 }, { o ? o->stop_fd : -1, POLLIN, 0 } };
			int timeout = o && o->idle_timeout_ms > 0 ? (int)o->idle_timeout_ms : -1;
			int rc = poll(pfd, o && o->stop_fd >= 0 ? 2 : 1, timeout);

			if (rc == 0 || (rc > 0 && pfd[1].revents != 0)) {
				log_debug("closing an idle framed session");
				f->eof = true;
				return 0;
			}
		}
	}
	if (n > 0) {
		/* Note where a cancellation may be, so requests need not rescan what follows them. */
		size_t from = f->in.len > 24 ? f->in.len - 24 : 0;
		const char *hit = NULL, *p = f->in.data + from;

		f->in.len += (size_t)n;
		while ((p = memmem(p, f->in.len - (size_t)(p - f->in.data), "notifications/cancelled",
		    23)) != NULL) {
			hit = p;
			p += 23;
		}
		if (hit != NULL)
			f->last_cancel = (size_t)(hit - f->in.data) + 23;
	}
	else if (n == 0)
		f->eof = true;
	else if (errno != EAGAIN) {
		log_warn("reading from the client failed");
		f->eof = true;
	}
	return n;
}

/* Looks through complete lines already read for a cancellation of the current request. */
static bool
scan_for_cancel(struct framed *f)
{
	char *nl;

	while (f->peeked < f->in.len &&
	    (nl = memchr(f->in.data + f->peeked, '\n', f->in.len - f->peeked)) != NULL) {
		size_t len = (size_t)(nl - (f->in.data + f->peeked));
		bool cancel = len <= f->max_line &&
		    mcp_is_cancel_for_current(f->session, f->in.data + f->peeked, len);

		f->peeked += len + 1;
		if (cancel)
			return true;
	}
	return false;
}

static bool
cancel_pending(void *ctx)
{
	struct framed *f = ctx;

	/* Lines after the current one may already hold its cancellation (one read, two lines). */
	if (f->last_cancel <= f->start)
		return false;
	f->peeked = f->start;
	return scan_for_cancel(f);
}

/*
 * While a statement runs: take in what the client sent and look for a cancellation of the
 * running request. Other messages wait in the buffer, in order.
 */
static int
on_readable(void *ctx)
{
	struct framed *f = ctx;

	/* End of input is not a cancellation on stdio ("printf ... | pgmcp" still wants its
	 * answers); on a socket it means the client is gone. */
	if (f->eof || (read_some(f) <= 0 && f->eof))
		return f->opts && f->opts->eof_cancels ? 1 : -1;
	return scan_for_cancel(f) ? 1 : 0;
}

static void
handle_line(struct framed *f, struct buf *line, struct buf *out)
{
	size_t len = line->len;

	while (len > 0 && (line->data[len - 1] == '\r' || line->data[len - 1] == ' ' ||
	    line->data[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;	/* blank lines between messages are tolerated */
	buf_reset(out);
	mcp_handle_message(f->session, line->data, len, out);
	if (out->len > 0)
		write_all(f, out->data, out->len, "\n", 1);
	buf_shrink(out, 1 << 20);
}

static void
oversized(struct framed *f, struct buf *out)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Invalid Request: message larger than max_message_bytes "
	    "(%zu bytes); it was discarded", f->max_line);
	buf_reset(out);
	mcp_write_error(out, NULL, 0, RPC_INVALID_REQUEST, msg, NULL);
	write_all(f, out->data, out->len, "\n", 1);
	log_warnx("discarded a message larger than max_message_bytes (%zu)", f->max_line);
}

int
framed_serve(const struct config *cfg, struct db *db, int in_fd, int out_fd,
    const char *preread, size_t preread_len, const struct framed_opts *opts)
{
	struct framed f = { 0 };
	struct mcp_session session;
	struct mcp_io io;
	struct buf line = BUF_INIT, out = BUF_INIT;

	f.in_fd = in_fd;
	f.out_fd = out_fd;
	f.max_line = (size_t)cfg->max_message_bytes;
	f.session = &session;
	f.opts = opts;
	io.send = send_message;
	io.watch_fd = in_fd;
	io.watch_fd2 = -1;
	io.on_readable = on_readable;
	io.cancel_pending = cancel_pending;
	io.ctx = &f;
	mcp_session_init(&session, cfg, db, &io);
	session.stats = opts ? opts->stats : NULL;
	{
		/* No session id on this transport: a random one ties one connection's records. */
		uint64_t id;

		random_bytes(&id, sizeof(id));
		snprintf(session.session_hash, sizeof(session.session_hash), "%016llx",
		    (unsigned long long)id);
		snprintf(session.client, sizeof(session.client), "%s",
		    opts && opts->client ? opts->client : "stdio");
	}
	if (preread_len > 0)
		buf_append(&f.in, preread, preread_len);
	f.last_cancel = f.in.len;	/* not searched: let cancel_pending look */

	while (!f.out_broken) {
		char *nl = f.in.len > f.scanned ?
		    memchr(f.in.data + f.scanned, '\n', f.in.len - f.scanned) : NULL;

		if (nl != NULL) {
			size_t end = (size_t)(nl - f.in.data), len = end - f.start;

			if (f.discarding) {
				f.discarding = false;
			} else if (len > f.max_line) {
				oversized(&f, &out);
			} else {
				/* Copy out: the buffer may grow (and move) while the request runs. */
				buf_reset(&line);
				buf_append(&line, f.in.data + f.start, len);
				f.start = f.scanned = end + 1;
				if (f.peeked < f.start)
					f.peeked = f.start;
				handle_line(&f, &line, &out);
				buf_shrink(&line, 1 << 20);
				continue;
			}
			f.start = f.scanned = end + 1;
			if (f.peeked < f.start)
				f.peeked = f.start;
			continue;
		}
		f.scanned = f.in.len;
		if (f.in.len - f.start > f.max_line) {
			/* No newline within the limit: drop what we have and skip to the next one. */
			if (!f.discarding)
				oversized(&f, &out);
			f.discarding = true;
			f.in.len = f.start;
			f.scanned = f.peeked = f.start;
		}
		if (f.eof) {
			if (f.in.len > f.start && !f.discarding) {
				/* The last message may lack its newline. */
				buf_reset(&line);
				buf_append(&line, f.in.data + f.start, f.in.len - f.start);
				f.start = f.scanned = f.peeked = f.in.len;
				handle_line(&f, &line, &out);
			}
			break;
		}
		/* Everything before start is handled: drop it once, not once per message. */
		buf_consume(&f.in, f.start);
		f.scanned -= f.start;
		f.peeked = f.peeked > f.start ? f.peeked - f.start : 0;
		f.last_cancel = f.last_cancel > f.start ? f.last_cancel - f.start : 0;
		f.start = 0;
		read_some(&f);
	}
	mcp_session_free(&session);
	buf_free(&f.in);
	buf_free(&line);
	buf_free(&out);
	return 0;
}
