/*
 * fuzz_framed.c: libFuzzer target for the newline-framed transport (server/framed.c): line
 * splitting across reads, CR/blank-line handling, oversized lines with and without their
 * newline, a last message without one, and the cancellation scan.
 *
 * Input: byte 0 picks max_message_bytes and the transport options, byte 1 seeds how the rest
 * is cut into reads (a SOCK_SEQPACKET pair: each read returns exactly one piece). The output
 * goes to a memfd and must be newline-terminated lines of valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "framed.h"
#include "fuzz.h"

#define MAX_PIECES 200

static struct config cfg;
static struct db *db;
static int out_fd = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t limits[] = { 8, 40, 200, 4 << 20 };
	struct framed_opts opts = { 0 };
	int sv[2];
	uint32_t seed;
	size_t pos, pieces = 0;
	off_t outlen;
	bool socket_opts;

	if (db == NULL) {
		struct conf_errors errors = { BUF_INIT, 0 };

		fuzz_quiet();
		if (config_load(&cfg, NULL, NULL, 0, FUZZ_DSN, &errors) != 0)
			abort();
		conf_errors_free(&errors);
		db = db_new(&cfg);
		out_fd = memfd_create("fuzz-framed-out", 0);
		if (out_fd < 0)
			abort();
	}
	if (size < 2)
		return 0;
	cfg.max_message_bytes = limits[data[0] & 3];
	opts.stop_fd = -1;
	opts.eof_cancels = (data[0] & 4) != 0;
	opts.client = "fuzz";
	socket_opts = (data[0] & 8) != 0;
	seed = data[1] | 1u;
	data += 2;
	size -= 2;
	if (size > 60000)
		size = 60000;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	{
		int big = 1 << 20;

		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	}
	/* The pieces are queued before the server reads: it never waits on the socket. */
	for (pos = 0; pos < size; pieces++) {
		size_t n = size - pos;

		seed = seed * 1103515245u + 12345u;
		if (pieces + 1 < MAX_PIECES && (seed >> 16) % 4 != 0 && n > 1)
			n = 1 + (seed >> 8) % (n < 64 ? n : 64);
		if (send(sv[1], data + pos, n, MSG_DONTWAIT) != (ssize_t)n)
			break;	/* the socket is full: the rest is left out */
		pos += n;
	}
	shutdown(sv[1], SHUT_WR);

	if (ftruncate(out_fd, 0) != 0 || lseek(out_fd, 0, SEEK_SET) != 0)
		abort();
	framed_serve(&cfg, db, sv[0], out_fd, NULL, 0, socket_opts ? &opts : NULL);
	close(sv[0]);
	close(sv[1]);

	outlen = lseek(out_fd, 0, SEEK_CUR);
	if (outlen > 0) {
		char *text = mmap(NULL, (size_t)outlen, PROT_READ, MAP_SHARED, out_fd, 0);

		if (text == MAP_FAILED)
			abort();
		fuzz_assert_json_lines(text, (size_t)outlen);
		munmap(text, (size_t)outlen);
	}
	return 0;
}
