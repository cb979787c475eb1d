/* ops.c: /healthz (the process answers), /readyz (its database answers), /metrics (Prometheus). */
#include "httpx.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "handlers.h"
#include "util.h"
#include "worker.h"

void
ops_healthz(struct http_ctx *h)
{
	http_send(h, 200, "text/plain; charset=utf-8", NULL, "ok\n", 3);
}

/* Ready means this worker's own connection runs SELECT 1 now, within a short deadline. */
void
ops_readyz(struct http_ctx *h)
{
	struct db_request req = { 0 };
	struct db_result res;
	struct buf text = BUF_INIT;

	db_result_init(&res);
	req.sql = "SELECT 1";
	req.max_rows = 1;
	req.max_result_bytes = 1024;
	req.statement_timeout_ms = 2000;
	db_call(h->w->db, &req, NULL, &res);
	h->w->me->db_ready = res.status == DB_OK;
	if (res.status == DB_OK) {
		http_send(h, 200, "text/plain; charset=utf-8", NULL, "ready\n", 6);
	} else {
		buf_printf(&text, "not ready: %s\n", buf_cstr(&res.message));
		http_send(h, 503, "text/plain; charset=utf-8", "Retry-After: 1\r\n", text.data, text.len);
	}
	buf_free(&text);
	db_result_free(&res);
}

static const char *const transport_names[SB_T_COUNT] = {
	"framed", "streamable_http", "sse", "ops", "other",
};
static const char *const status_names[SB_S_COUNT] = { "2xx", "4xx", "5xx" };

static void
counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
}

void
ops_metrics(struct http_ctx *h)
{
	struct scoreboard *sb = h->w->d->sb;
	struct sb_counters all = sb->retired;
	struct buf b = BUF_INIT;
	int states[6] = { 0 };
	uint64_t cumulative = 0, count = 0;

	for (uint32_t i = 0; i < SB_MAX_SLOTS; i++) {
		if (sb->slots[i].pid <= 0)
			continue;
		sb_add_counters(&all, &sb->slots[i].c);
		if (sb->slots[i].state >= 0 && sb->slots[i].state < 6)
			states[sb->slots[i].state]++;
	}
	buf_puts(&b, "# HELP pgmcp_requests_total Requests by transport and status class.\n"
	    "# TYPE pgmcp_requests_total counter\n");
	for (int t = 0; t < SB_T_COUNT; t++)
		for (int s = 0; s < SB_S_COUNT; s++)
			buf_printf(&b, "pgmcp_requests_total{transport=\"%s\",status=\"%s\"} %llu\n",
			    transport_names[t], status_names[s], (unsigned long long)all.requests[t][s]);
	buf_puts(&b, "# HELP pgmcp_tool_calls_total Tool calls by tool and outcome.\n"
	    "# TYPE pgmcp_tool_calls_total counter\n");
	for (size_t i = 0; i < tools_count(h->w->cfg) && i < SB_TOOLS; i++) {
		buf_printf(&b, "pgmcp_tool_calls_total{tool=\"%s\",outcome=\"ok\"} %llu\n",
		    tools_name_at(h->w->cfg, i), (unsigned long long)all.tool_ok[i]);
		buf_printf(&b, "pgmcp_tool_calls_total{tool=\"%s\",outcome=\"error\"} %llu\n",
		    tools_name_at(h->w->cfg, i), (unsigned long long)all.tool_error[i]);
	}
	buf_puts(&b, "# HELP pgmcp_tool_call_duration_seconds Tool call latency.\n"
	    "# TYPE pgmcp_tool_call_duration_seconds histogram\n");
	for (int i = 0; i <= SB_LATENCY_BUCKETS; i++) {
		cumulative += all.tool_latency[i];
		if (i < SB_LATENCY_BUCKETS)
			buf_printf(&b, "pgmcp_tool_call_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    sb_latency_bounds_ms[i] / 1000.0, (unsigned long long)cumulative);
		else
			buf_printf(&b, "pgmcp_tool_call_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cumulative);
	}
	count = cumulative;
	buf_printf(&b, "pgmcp_tool_call_duration_seconds_sum %.6f\n"
	    "pgmcp_tool_call_duration_seconds_count %llu\n", all.tool_latency_sum / 1000.0,
	    (unsigned long long)count);
	counter(&b, "pgmcp_rows_returned_total", "Rows returned by tool calls.", all.rows);
	counter(&b, "pgmcp_result_bytes_total", "Bytes of row data returned by tool calls.", all.bytes);
	counter(&b, "pgmcp_truncated_results_total", "Results cut at max_rows or max_result_bytes.",
	    all.truncations);
	counter(&b, "pgmcp_statement_timeouts_total", "Statements stopped by statement_timeout.",
	    all.timeouts);
	counter(&b, "pgmcp_cancellations_total", "Calls cancelled by the client.", all.cancellations);
	counter(&b, "pgmcp_db_reconnects_total", "Database reconnections by workers.",
	    all.db_reconnects);
	counter(&b, "pgmcp_connections_total", "Client connections accepted.", all.connections);
	counter(&b, "pgmcp_worker_restarts_total", "Workers started again after exiting.",
	    sb->worker_restarts);
	counter(&b, "pgmcp_worker_crashes_total", "Workers that died abnormally.", sb->worker_crashes);
	buf_puts(&b, "# HELP pgmcp_workers Workers by state.\n# TYPE pgmcp_workers gauge\n");
	buf_printf(&b, "pgmcp_workers{state=\"starting\"} %d\npgmcp_workers{state=\"idle\"} %d\n"
	    "pgmcp_workers{state=\"busy\"} %d\npgmcp_workers{state=\"stopping\"} %d\n"
	    "pgmcp_workers{state=\"keepalive\"} %d\n",
	    states[SB_STARTING], states[SB_IDLE], states[SB_BUSY], states[SB_STOPPING],
	    states[SB_KEEPALIVE]);
	buf_printf(&b, "# HELP pgmcp_start_time_seconds When the master started.\n"
	    "# TYPE pgmcp_start_time_seconds gauge\npgmcp_start_time_seconds %lld\n",
	    (long long)(sb->started_ms / 1000));
	buf_printf(&b, "# HELP pgmcp_generation Configuration generation (reloads).\n"
	    "# TYPE pgmcp_generation gauge\npgmcp_generation %u\n", sb->generation);
	http_send(h, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.data, b.len);
	buf_free(&b);
}
