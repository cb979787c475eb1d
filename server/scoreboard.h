/*
 * scoreboard.h: a small table in shared memory (mmap MAP_SHARED, made by the master before it
 * forks). One slot per worker with its state and counters, read by the master for status and
 * by any worker for /metrics and /readyz; plus a table of HTTP session facts (log level,
 * ended) that any worker may consult. The master's own slot table is the truth about
 * processes; this is status only, and nothing here is trusted for control decisions.
 */
#ifndef PGMCP_SCOREBOARD_H
#define PGMCP_SCOREBOARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SB_MAX_SLOTS 256
#define SB_TOOLS 64		/* per-tool counters, by registry index */
#define SB_LATENCY_BUCKETS 14	/* see sb_latency_bounds_ms */
#define SB_SESSIONS 4096	/* open-addressed; entries age out */

enum sb_state {
	SB_EMPTY = 0,
	SB_STARTING,
	SB_IDLE,
	SB_BUSY,
	SB_STOPPING,
	SB_KEEPALIVE,	/* holding an idle keep-alive connection; lets go when others wait */
};

enum sb_transport {
	SB_T_FRAMED = 0, SB_T_STREAMABLE, SB_T_SSE, SB_T_OPS, SB_T_OTHER, SB_T_COUNT,
};

enum sb_status_class {
	SB_S_2XX = 0, SB_S_4XX, SB_S_5XX, SB_S_COUNT,
};

struct sb_counters {
	uint64_t connections;
	uint64_t requests[SB_T_COUNT][SB_S_COUNT];
	uint64_t tool_ok[SB_TOOLS];
	uint64_t tool_error[SB_TOOLS];
	uint64_t tool_latency[SB_LATENCY_BUCKETS + 1];	/* last is +Inf */
	double tool_latency_sum;
	uint64_t rows, bytes, truncations, timeouts, cancellations;
	uint64_t db_reconnects;
};

struct sb_slot {
	pid_t pid;
	uint32_t generation;
	int state;
	int64_t started_ms;	/* CLOCK_REALTIME ms */
	int64_t state_ms;
	bool db_ready;
	struct sb_counters c;
	/* the request now running, so a cancellation POST on another worker can find it */
	uint64_t current_request;	/* hash of session token and request id, 0 = none */
	char last_error[160];
};

struct sb_session {
	uint64_t key;		/* hash of the session id; 0 = free */
	int64_t touched_ms;
	int8_t log_level;	/* -1 = not set */
	bool ended;		/* DELETE was received */
};

struct scoreboard {
	uint32_t nslots;
	uint64_t worker_restarts;
	uint64_t worker_crashes;
	struct sb_counters retired;	/* counters of workers that have exited */
	int64_t started_ms;
	uint32_t generation;
	struct sb_slot slots[SB_MAX_SLOTS];
	struct sb_session sessions[SB_SESSIONS];
};

extern const double sb_latency_bounds_ms[SB_LATENCY_BUCKETS];

struct scoreboard *scoreboard_create(uint32_t nslots);
void scoreboard_destroy(struct scoreboard *sb);
/* Adds a dead worker's counters to the retired totals and clears its slot. */
void scoreboard_retire(struct scoreboard *sb, int slot);
void sb_add_counters(struct sb_counters *into, const struct sb_counters *from);
void sb_set_state(struct sb_slot *slot, enum sb_state state);
void sb_observe_latency(struct sb_counters *c, double ms);
/* Sessions: remember and query facts about an HTTP session id (by hash). */
struct sb_session *sb_session(struct scoreboard *sb, uint64_t key, bool create);
/* Workers other than self that are waiting in accept. */
int sb_idle_workers(const struct scoreboard *sb, int self);
int64_t sb_now_ms(void);

#endif
