/* scoreboard.c: the shared status table: slots, counters, and session facts. */
#include "scoreboard.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "log.h"

const double sb_latency_bounds_ms[SB_LATENCY_BUCKETS] = {
	0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};

int64_t
sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct scoreboard *
scoreboard_create(uint32_t nslots)
{
	struct scoreboard *sb = mmap(NULL, sizeof(*sb), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sb == MAP_FAILED)
		fatal("cannot map the scoreboard (%zu bytes)", sizeof(*sb));
	memset(sb, 0, sizeof(*sb));
	sb->nslots = nslots > SB_MAX_SLOTS ? SB_MAX_SLOTS : nslots;
	sb->started_ms = sb_now_ms();
	return sb;
}

void
scoreboard_destroy(struct scoreboard *sb)
{
	if (sb != NULL)
		munmap(sb, sizeof(*sb));
}

void
sb_add_counters(struct sb_counters *into, const struct sb_counters *from)
{
	into->connections += from->connections;
	for (int t = 0; t < SB_T_COUNT; t++)
		for (int s = 0; s < SB_S_COUNT; s++)
			into->requests[t][s] += from->requests[t][s];
	for (int i = 0; i < SB_TOOLS; i++) {
		into->tool_ok[i] += from->tool_ok[i];
		into->tool_error[i] += from->tool_error[i];
	}
	for (int i = 0; i <= SB_LATENCY_BUCKETS; i++)
		into->tool_latency[i] += from->tool_latency[i];
	into->tool_latency_sum += from->tool_latency_sum;
	into->rows += from->rows;
	into->bytes += from->bytes;
	into->truncations += from->truncations;
	into->timeouts += from->timeouts;
	into->cancellations += from->cancellations;
	into->db_reconnects += from->db_reconnects;
}

void
scoreboard_retire(struct scoreboard *sb, int slot)
{
	sb_add_counters(&sb->retired, &sb->slots[slot].c);
	memset(&sb->slots[slot], 0, sizeof(sb->slots[slot]));
}

void
sb_set_state(struct sb_slot *slot, enum sb_state state)
{
	slot->state = state;
	slot->state_ms = sb_now_ms();
}

void
sb_observe_latency(struct sb_counters *c, double ms)
{
	int i = 0;

	while (i < SB_LATENCY_BUCKETS && ms > sb_latency_bounds_ms[i])
		i++;
	c->tool_latency[i]++;
	c->tool_latency_sum += ms;
}

int
sb_idle_workers(const struct scoreboard *sb, int self)
{
	int n = 0;

	for (int i = 0; i < SB_MAX_SLOTS; i++)
		if (i != self && sb->slots[i].pid > 0 && sb->slots[i].state == SB_IDLE)
			n++;
	return n;
}

struct sb_session *
sb_session(struct scoreboard *sb, uint64_t key, bool create)
{
	int64_t now = sb_now_ms();
	struct sb_session *oldest = NULL;

	if (key == 0)
		key = 1;
	for (int probe = 0; probe < 16; probe++) {
		struct sb_session *e = &sb->sessions[(key + (uint64_t)probe) % SB_SESSIONS];

		if (e->key == key) {
			e->touched_ms = now;
			return e;
		}
		if (oldest == NULL || e->key == 0 || e->touched_ms < oldest->touched_ms)
			oldest = e;
	}
	if (!create)
		return NULL;
	/* Reuse the stalest of the probed entries: the table remembers recent sessions only. */
	memset(oldest, 0, sizeof(*oldest));
	oldest->key = key;
	oldest->touched_ms = now;
	oldest->log_level = -1;
	return oldest;
}
