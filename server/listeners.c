/* listeners.c: binds TCP and Unix listening sockets before any worker exists, or adopts systemd's. */
#include "listeners.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LISTEN_BACKLOG 511
#define SD_LISTEN_FDS_START 3

static struct listener *
add(struct listeners *ls)
{
	ls->l = realloc(ls->l, (ls->n + 1) * sizeof(*ls->l));
	if (ls->l == NULL)
		fatalx("out of memory");
	memset(&ls->l[ls->n], 0, sizeof(ls->l[0]));
	ls->l[ls->n].fd = -1;
	return &ls->l[ls->n++];
}

static int
set_owner(const char *path, const char *owner, struct buf *err)
{
	char user[128], *group;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	snprintf(user, sizeof(user), "%s", owner);
	group = strchr(user, ':');
	if (group != NULL)
		*group++ = '\0';
	if (user[0] != '\0') {
		struct passwd *pw = getpwnam(user);

		if (pw == NULL) {
			buf_printf(err, "no such user \"%s\"", user);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (group != NULL && group[0] != '\0') {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			buf_printf(err, "no such group \"%s\"", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (chown(path, uid, gid) < 0) {
		buf_printf(err, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
open_unix(const struct listen_setting *s, struct listeners *ls, struct buf *err)
{
	const char *path = s->address + 5;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct listener *l;
	struct stat st;
	int fd;

	if (strlen(path) == 0 || strlen(path) >= sizeof(sun.sun_path)) {
		buf_printf(err, "%s: listen: unix socket path \"%s\" is empty or longer than %zu bytes",
		    s->origin, path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A socket file left by a previous run is removed only if nobody answers on it. */
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			buf_printf(err, "%s: listen: %s exists and is not a socket", s->origin, path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			buf_printf(err, "%s: listen: %s is in use by another process", s->origin, path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		buf_printf(err, "%s: listen: cannot listen on %s: %s", s->origin, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((s->mode >= 0 && chmod(path, (mode_t)s->mode) < 0) ||
	    (s->owner != NULL && s->owner[0] != '\0' && set_owner(path, s->owner, err) < 0)) {
		if (s->mode >= 0 && errno)
			buf_printf(err, "chmod %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	l = add(ls);
	l->fd = fd;
	l->protocols = s->protocols;
	l->is_unix = true;
	l->unix_path = xstrdup(path);
	snprintf(l->name, sizeof(l->name), "unix:%s", path);
	return 0;
}

static int
open_tcp(const struct listen_setting *s, struct listeners *ls, struct buf *err)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	char host[256], port[16];
	const char *problem = config_listen_split(s->address, host, sizeof(host), port,
	    sizeof(port));
	int rc, bound = 0;

	if (problem != NULL) {
		buf_printf(err, "%s: listen: \"%s\": %s", s->origin, s->address, problem);
		return -1;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		buf_printf(err, "%s: listen: cannot resolve \"%s\": %s", s->origin, s->address,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct listener *l;
		char name[64], serv[16];
		int one = 1;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);

		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
			buf_printf(err, "%s: listen: cannot listen on %s: %s", s->origin, s->address,
			    strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		l = add(ls);
		l->fd = fd;
		l->protocols = s->protocols;
		/* Name what was bound, so port 0 is logged as the port the kernel chose. */
		{
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);

			if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
				rc = getnameinfo((struct sockaddr *)&ss, sl, name, sizeof(name), serv,
				    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
			else
				rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof(name), serv,
				    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
		}
		if (rc != 0)
			snprintf(name, sizeof(name), "?"), snprintf(serv, sizeof(serv), "%s", port);
		if (ai->ai_family == AF_INET6)
			snprintf(l->name, sizeof(l->name), "[%s]:%s", name, serv);
		else
			snprintf(l->name, sizeof(l->name), "%s:%s", name, serv);
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0) {
		buf_printf(err, "%s: listen: no usable address for %s", s->origin, s->address);
		return -1;
	}
	return 0;
}

int
listeners_open(const struct config *cfg, struct listeners *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < cfg->n_listen; i++) {
		const struct listen_setting *s = &cfg->listen[i];
		int rc = strncmp(s->address, "unix:", 5) == 0 ? open_unix(s, out, err) :
		    open_tcp(s, out, err);

		if (rc < 0) {
			listeners_close(out, true);
			return -1;
		}
	}
	return 0;
}

int
listeners_adopt_systemd(struct listeners *out, struct buf *err)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int64_t n, p;

	memset(out, 0, sizeof(*out));
	if (pid == NULL || fds == NULL)
		return 0;
	if (parse_int64(pid, &p) < 0 || p != getpid()) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return 0;	/* meant for another process */
	}
	if (parse_int64(fds, &n) < 0 || n < 1 || n > 64) {
		buf_printf(err, "LISTEN_FDS=\"%s\" is not a count of sockets", fds);
		return -1;
	}
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int type = 0, listening = 0;
		socklen_t tl = sizeof(type), ll = sizeof(listening);
		struct listener *l;
		int flags;

		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 || !listening) {
			buf_printf(err, "LISTEN_FDS: fd %d is not a listening stream socket", fd);
			listeners_close(out, false);
			return -1;
		}
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		l = add(out);
		l->fd = fd;
		l->protocols = LISTEN_HTTP | LISTEN_FRAMED;
		l->is_unix = ss.ss_family == AF_UNIX;
		snprintf(l->name, sizeof(l->name), "systemd fd %d (%s)", fd,
		    ss.ss_family == AF_UNIX ? "unix" : ss.ss_family == AF_INET6 ? "ipv6" : "ipv4");
	}
	out->from_systemd = true;
	/* Our children must not think these variables are meant for them. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

void
listeners_close(struct listeners *ls, bool unlink_unix)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->l[i].fd >= 0)
			close(ls->l[i].fd);
		if (unlink_unix && ls->l[i].unix_path != NULL)
			unlink(ls->l[i].unix_path);
		free(ls->l[i].unix_path);
	}
	free(ls->l);
	memset(ls, 0, sizeof(*ls));
}
