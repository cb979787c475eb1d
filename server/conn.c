/* conn.c: deadline-bound socket I/O, so a slow or silent client cannot pin a worker. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define READ_CHUNK 16384

void
conn_init(struct conn *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		char host[64];

		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
			snprintf(c->peer, sizeof(c->peer), "%s:%u", host, ntohs(sin->sin_port));
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
			snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host, ntohs(sin6->sin6_port));
		} else if (ss.ss_family == AF_UNIX) {
			struct ucred cred;
			socklen_t cl = sizeof(cred);

			if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
				snprintf(c->peer, sizeof(c->peer), "unix pid %d uid %d", (int)cred.pid,
				    (int)cred.uid);
			else
				snprintf(c->peer, sizeof(c->peer), "unix");
		}
	}
}

void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}

void
conn_consume(struct conn *c, size_t n)
{
	c->start += n;
	if (c->start >= c->in.len) {
		c->in.len = 0;
		c->start = 0;
	}
}

static int
wait_fd(int fd, short events, int64_t deadline_us, int stop_fd)
{
	for (;;) {
		struct pollfd pfd[2] = { { fd, events, 0 }, { stop_fd, POLLIN, 0 } };
		int64_t left = deadline_us - now_us();
		int rc;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(pfd, stop_fd >= 0 ? 2 : 1, (int)((left + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (stop_fd >= 0 && pfd[1].revents != 0) {
			errno = EINTR;
			return -1;
		}
		if (rc > 0)
			return 0;
	}
}

ssize_t
conn_fill(struct conn *c, int64_t deadline_us, int stop_fd)
{
	ssize_t n;

	if (c->start > 0 && c->start == c->in.len) {
		c->start = 0;
		c->in.len = 0;
	} else if (c->start > 65536) {
		buf_consume(&c->in, c->start);
		c->start = 0;
	}
	for (;;) {
		buf_reserve(&c->in, READ_CHUNK);
		n = recv(c->fd, c->in.data + c->in.len, READ_CHUNK, 0);
		if (n > 0) {
			c->in.len += (size_t)n;
			return n;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(c->fd, POLLIN, deadline_us, stop_fd) < 0)
			return -1;
	}
}

bool
conn_write2(struct conn *c, const void *a, size_t alen, const void *b, size_t blen,
    int64_t deadline_us)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct iovec *v = iov;
	int n = blen > 0 ? 2 : 1;

	if (c->broken)
		return false;
	while (n > 0) {
		struct msghdr mh = { .msg_iov = v, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    wait_fd(c->fd, POLLOUT, deadline_us, -1) == 0)
				continue;
			c->broken = true;
			return false;
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
	return true;
}

bool
conn_write(struct conn *c, const void *data, size_t len, int64_t deadline_us)
{
	return conn_write2(c, data, len, NULL, 0, deadline_us);
}
