/*
 * tools_insight.c: the tools that look at the server's health rather than the data:
 * top_queries (pg_stat_statements), health (one document from one catalog statement) and
 * active_queries (pg_stat_activity). Read-only catalog queries, one round trip each.
 */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "jsonw.h"
#include "util.h"

/* Is pg_stat_statements installed here, where, which version, and could it be? */
static const char PGSS_PROBE_SQL[] =
    "SELECT pg_catalog.json_build_object("
    " 'schema', (SELECT n.nspname FROM pg_catalog.pg_extension e"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
    "  WHERE e.extname = 'pg_stat_statements'),"
    " 'version', (SELECT e.extversion FROM pg_catalog.pg_extension e"
    "  WHERE e.extname = 'pg_stat_statements'),"
    " 'available', EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions a"
    "  WHERE a.name = 'pg_stat_statements'),"
    " 'database', pg_catalog.current_database())";

/*
 * %s: the schema-qualified view; %s %s: its total and mean time columns (total_exec_time and
 * mean_exec_time since version 1.8, total_time and mean_time before). $1 limit, $2 order,
 * $3 all databases.
 */
static const char TOP_QUERIES_SQL[] =
    "SELECT pg_catalog.json_build_object("
    " 'order_by', $2::text,"
    " 'queries', coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'queryid', q.queryid::text, 'database', q.datname, 'role', q.rolname,"
    "  'calls', q.calls, 'total_ms', round(q.total::numeric, 3),"
    "  'mean_ms', round(q.mean::numeric, 3),"
    "  'share_of_total_time_pct', round(q.share::numeric, 2),"
    "  'rows', q.rows, 'shared_blks_hit', q.shared_blks_hit,"
    "  'shared_blks_read', q.shared_blks_read,"
    "  'cache_hit_pct', round(100.0 * q.shared_blks_hit"
    "   / nullif(q.shared_blks_hit + q.shared_blks_read, 0), 2),"
    "  'query', left(q.query, 2000)) ORDER BY q.rk) FILTER (WHERE q.rk <= $1), '[]'),"
    " 'statements_tracked', count(*))"
    " FROM (SELECT s.queryid, s.calls, s.rows, s.shared_blks_hit, s.shared_blks_read, s.query,"
    "  d.datname, r.rolname, s.%s AS total, s.%s AS mean,"
    "  100 * s.%s / nullif(sum(s.%s) OVER (), 0) AS share,"
    "  row_number() OVER (ORDER BY CASE $2::text WHEN 'total_time' THEN s.%s"
    "   WHEN 'mean_time' THEN s.%s WHEN 'calls' THEN s.calls WHEN 'rows' THEN s.rows"
    "   WHEN 'blocks_read' THEN s.shared_blks_read END DESC NULLS LAST, s.queryid) AS rk"
    "  FROM %s s"
    "  LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid"
    "  LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid"
    "  WHERE $3::boolean OR d.datname = pg_catalog.current_database()) q";

/*
 * $1 include idle sessions, $2 most sessions listed. Client backends and autovacuum workers,
 * not this call's own backend; longest-running first.
 */
static const char ACTIVE_QUERIES_SQL[] =
    "WITH a AS ("
    " SELECT a.* FROM pg_catalog.pg_stat_activity a"
    " WHERE a.pid <> pg_catalog.pg_backend_pid()"
    " AND a.backend_type IN ('client backend', 'autovacuum worker')"
    " AND ($1::boolean OR a.state IS DISTINCT FROM 'idle')),"
    " top AS (SELECT * FROM a ORDER BY coalesce(a.xact_start, a.query_start) NULLS LAST, a.pid"
    "  LIMIT $2::int)"
    " SELECT pg_catalog.json_build_object("
    " 'queries', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_strip_nulls("
    "  pg_catalog.json_build_object("
    "  'pid', t.pid, 'database', t.datname, 'user', t.usename,"
    "  'application', t.application_name,"
    "  'client', CASE WHEN t.client_addr IS NOT NULL"
    "   THEN pg_catalog.host(t.client_addr) || ':' || t.client_port"
    "   WHEN t.client_port = -1 THEN 'local socket' END,"
    "  'backend_type', t.backend_type, 'state', t.state,"
    "  'wait_event', CASE WHEN t.wait_event IS NOT NULL"
    "   THEN t.wait_event_type || ':' || t.wait_event END,"
    "  'running_ms', CASE WHEN t.state = 'active' THEN round(1000 * extract(epoch FROM"
    "   pg_catalog.clock_timestamp() - t.query_start))::bigint END,"
    "  'state_ms', round(1000 * extract(epoch FROM"
    "   pg_catalog.clock_timestamp() - t.state_change))::bigint,"
    "  'transaction_ms', round(1000 * extract(epoch FROM"
    "   pg_catalog.clock_timestamp() - t.xact_start))::bigint,"
    "  'blocked_by', CASE WHEN t.wait_event_type = 'Lock'"
    "   THEN pg_catalog.to_json(pg_catalog.pg_blocking_pids(t.pid)) END,"
    "  'query', left(t.query, 500),"
    "  'query_truncated', CASE WHEN length(t.query) > 500 THEN true END))"
    "  ORDER BY coalesce(t.xact_start, t.query_start) NULLS LAST, t.pid) FROM top t), '[]'),"
    " 'row_count', (SELECT count(*) FROM top),"
    " 'truncated', (SELECT count(*) FROM a) > $2::int,"
    " 'sessions_total', (SELECT count(*) FROM pg_catalog.pg_stat_activity x"
    "  WHERE x.backend_type = 'client backend'),"
    " 'max_connections', pg_catalog.current_setting('max_connections')::int,"
    " 'server_time', pg_catalog.clock_timestamp())";

/* schema.name of a relation, each part quoted only where SQL needs it (for the suggestions). */
#define QNAME(oid) \
	"(SELECT pg_catalog.quote_ident(qn.nspname) || '.' || pg_catalog.quote_ident(qc.relname)" \
	" FROM pg_catalog.pg_class qc JOIN pg_catalog.pg_namespace qn ON qn.oid = qc.relnamespace" \
	" WHERE qc.oid = " oid ")"
#define USER_SCHEMA(n) \
	"(" n ".nspname NOT IN ('pg_catalog', 'information_schema')" \
	" AND " n ".nspname NOT LIKE 'pg\\_toast%' AND " n ".nspname NOT LIKE 'pg\\_temp\\_%')"
#define SINCE_S(t) "extract(epoch FROM pg_catalog.clock_timestamp() - " t ")"
#define BLOCK_SIZE "pg_catalog.current_setting('block_size')::bigint"
/* What an index covers, from the catalog alone: pg_get_indexdef() would lock its table. */
#define INDEX_SHAPE(oid) \
	"'method', (SELECT am.amname FROM pg_catalog.pg_class ic JOIN pg_catalog.pg_am am" \
	" ON am.oid = ic.relam WHERE ic.oid = " oid ")," \
	" 'columns', (SELECT pg_catalog.json_agg(coalesce(ia.attname::text, '(expression)')" \
	" ORDER BY ik.ord) FROM pg_catalog.pg_index ii CROSS JOIN LATERAL unnest(ii.indkey::int2[])" \
	" WITH ORDINALITY ik(attnum, ord) LEFT JOIN pg_catalog.pg_attribute ia" \
	" ON ia.attrelid = ii.indrelid AND ia.attnum = ik.attnum WHERE ii.indexrelid = " oid \
	" AND ik.ord <= ii.indnkeyatts)," \
	" 'partial', (SELECT ii.indpred IS NOT NULL FROM pg_catalog.pg_index ii" \
	" WHERE ii.indexrelid = " oid ")"
/* An expression tree as comparable text; pg_get_expr() would lock the table. */
#define NODE_TEXT(e) \
	"coalesce(pg_catalog.regexp_replace(" e "::text, ' :location -?[0-9]+', '', 'g'), '')"

/*
 * Every section is a list of things to act on, each with a suggestion; findings sums up what
 * needs attention in a sentence each (an empty list: nothing found). Thresholds: autovacuum's
 * own for vacuum and analyze, 30% and 1MB for bloat, 75% for sequences, 40% for wraparound,
 * 5 minutes for transactions, 60 s for replication lag. Sizes come from pg_class rather than
 * pg_relation_size(), which would wait behind the very locks this report is meant to show.
 */
static const char HEALTH_SQL[] =
    "WITH act AS ("
    " SELECT a.*, a.backend_type IS NULL AS hidden FROM pg_catalog.pg_stat_activity a"
    " WHERE a.backend_type = 'client backend'"
    " OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL)),"
    " conn AS ("
    " SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
    "  'max_connections', pg_catalog.current_setting('max_connections')::int,"
    "  'reserved_for_superusers',"
    "   pg_catalog.current_setting('superuser_reserved_connections')::int,"
    "  'total', count(*),"
    "  'used_pct', round(100.0 * count(*)"
    "   / pg_catalog.current_setting('max_connections')::int, 1),"
    "  'by_state', coalesce((SELECT pg_catalog.json_object_agg(x.st, x.n ORDER BY x.st) FROM"
    "   (SELECT CASE WHEN b.hidden THEN 'not visible to this role' ELSE"
    "   coalesce(b.state, 'unknown') END AS st, count(*) AS n FROM act b GROUP BY 1) x), '{}'),"
    "  'by_database', coalesce((SELECT pg_catalog.json_object_agg(x.db, x.n ORDER BY x.db) FROM"
    "   (SELECT coalesce(b.datname, 'not visible to this role') AS db, count(*) AS n"
    "   FROM act b GROUP BY 1) x), '{}'),"
    "  'idle_in_transaction_over_1min', count(*) FILTER (WHERE a.state LIKE 'idle in transaction%'"
    "   AND " SINCE_S("a.state_change") " > 60),"
    "  'note', CASE WHEN bool_or(a.hidden) THEN count(*) FILTER (WHERE a.hidden)"
    "   || ' session(s) of other roles are hidden from this role: grant it pg_read_all_stats"
    " to see their state, queries and locks' END)) AS doc,"
    "  round(100.0 * count(*) / pg_catalog.current_setting('max_connections')::int, 1) AS used_pct,"
    "  count(*) FILTER (WHERE a.state LIKE 'idle in transaction%'"
    "   AND " SINCE_S("a.state_change") " > 60) AS idle_tx"
    " FROM act a),"
    " db AS (SELECT d.* FROM pg_catalog.pg_stat_database d"
    "  WHERE d.datname = pg_catalog.current_database()),"
    " cache AS ("
    " SELECT pg_catalog.json_build_object("
    "  'database_pct', round(100.0 * db.blks_hit / nullif(db.blks_hit + db.blks_read, 0), 2),"
    "  'tables_pct', (SELECT round(100.0 * sum(t.heap_blks_hit)"
    "   / nullif(sum(t.heap_blks_hit + t.heap_blks_read), 0), 2)"
    "   FROM pg_catalog.pg_statio_user_tables t),"
    "  'indexes_pct', (SELECT round(100.0 * sum(i.idx_blks_hit)"
    "   / nullif(sum(i.idx_blks_hit + i.idx_blks_read), 0), 2)"
    "   FROM pg_catalog.pg_statio_user_indexes i),"
    "  'blocks_hit', db.blks_hit, 'blocks_read', db.blks_read,"
    "  'stats_reset', db.stats_reset) AS doc,"
    "  round(100.0 * db.blks_hit / nullif(db.blks_hit + db.blks_read, 0), 2) AS pct,"
    "  db.blks_hit + db.blks_read AS blocks"
    " FROM db),"
    " maint AS ("
    " SELECT " QNAME("s.relid") " AS tbl, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,"
    "  greatest(s.last_vacuum, s.last_autovacuum) AS vacuumed,"
    "  greatest(s.last_analyze, s.last_autoanalyze) AS analyzed,"
    "  s.n_dead_tup > pg_catalog.current_setting('autovacuum_vacuum_threshold')::float8"
    "   + pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::float8"
    "   * greatest(c.reltuples, 0) AS needs_vacuum,"
    "  s.n_mod_since_analyze > pg_catalog.current_setting('autovacuum_analyze_threshold')::float8"
    "   + pg_catalog.current_setting('autovacuum_analyze_scale_factor')::float8"
    "   * greatest(c.reltuples, 0)"
    "   OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AND s.n_live_tup > 0)"
    "   AS needs_analyze"
    " FROM pg_catalog.pg_stat_user_tables s JOIN pg_catalog.pg_class c ON c.oid = s.relid),"
    " vac AS ("
    " SELECT count(*) AS n, pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'table', m.tbl, 'live_tuples', m.n_live_tup, 'dead_tuples', m.n_dead_tup,"
    "  'dead_pct', round(100.0 * m.n_dead_tup / nullif(m.n_live_tup + m.n_dead_tup, 0), 1),"
    "  'modified_since_analyze', m.n_mod_since_analyze,"
    "  'needs_vacuum', m.needs_vacuum, 'needs_analyze', m.needs_analyze,"
    "  'last_vacuum', m.vacuumed, 'last_analyze', m.analyzed,"
    "  'suggestion', CASE WHEN m.needs_vacuum THEN 'VACUUM (ANALYZE) ' ELSE 'ANALYZE ' END"
    "   || m.tbl) ORDER BY m.rk) FILTER (WHERE m.rk <= 20) AS doc,"
    "  pg_catalog.string_agg(m.tbl, ', ' ORDER BY m.rk) FILTER (WHERE m.rk <= 5) AS names"
    " FROM (SELECT maint.*, row_number() OVER (ORDER BY n_dead_tup DESC,"
    "  n_mod_since_analyze DESC, tbl) AS rk FROM maint WHERE needs_vacuum OR needs_analyze) m),"
    " bloat_est AS ("
    " SELECT b.*, ceil(b.reltuples * (28 + b.width)"
    "  / ((" BLOCK_SIZE " - 24) * b.ff / 100.0))::bigint AS expected"
    " FROM (SELECT " QNAME("c.oid") " AS tbl, c.relpages::bigint AS pages, c.reltuples,"
    "  coalesce((SELECT (pg_catalog.regexp_match(o, '^fillfactor=(\\d+)$'))[1]::int"
    "   FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%' LIMIT 1), 100) AS ff,"
    "  (SELECT sum((1 - st.null_frac) * st.avg_width) FROM pg_catalog.pg_stats st"
    "   WHERE st.schemaname = n.nspname AND st.tablename = c.relname) AS width"
    "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE c.relkind IN ('r', 'm') AND c.relpages >= 8 AND c.reltuples > 0"
    "  AND " USER_SCHEMA("n") ") b"
    " WHERE b.width IS NOT NULL),"
    " bloat AS ("
    " SELECT count(*) AS n, pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'table', e.tbl, 'bytes', e.pages * " BLOCK_SIZE ","
    "  'estimated_bloat_bytes', (e.pages - e.expected) * " BLOCK_SIZE ","
    "  'estimated_bloat_pct', round(100.0 * (e.pages - e.expected) / e.pages, 1),"
    "  'suggestion', 'VACUUM FULL ' || e.tbl || ' (an exclusive lock while it runs) or"
    " pg_repack gives the space back; plain VACUUM makes it reusable')"
    "  ORDER BY e.pages - e.expected DESC) FILTER (WHERE e.rk <= 20) AS doc,"
    "  pg_catalog.string_agg(e.tbl, ', ' ORDER BY e.rk) FILTER (WHERE e.rk <= 5) AS names"
    " FROM (SELECT bloat_est.*, row_number() OVER (ORDER BY pages - expected DESC) AS rk"
    "  FROM bloat_est WHERE (pages - expected) * " BLOCK_SIZE " >= 1048576"
    "  AND pages - expected > 0.3 * pages) e),"
    " invalid AS ("
    " SELECT count(*) AS n, pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'index', x.idx, 'table', x.tbl, " INDEX_SHAPE("x.indexrelid") ","
    "  'suggestion', 'DROP INDEX CONCURRENTLY ' || x.idx || ' and create it again, or REINDEX"
    " INDEX CONCURRENTLY ' || x.idx) ORDER BY x.idx) AS doc,"
    "  pg_catalog.string_agg(x.idx, ', ' ORDER BY x.idx) AS names"
    " FROM (SELECT i.indexrelid, " QNAME("i.indexrelid") " AS idx, " QNAME("i.indrelid") " AS tbl"
    "  FROM pg_catalog.pg_index i WHERE NOT i.indisvalid) x),"
    " unused AS ("
    " SELECT count(*) AS n, sum(u.bytes) AS bytes,"
    "  pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'index', u.idx, 'table', u.tbl, 'bytes', u.bytes,"
    "  " INDEX_SHAPE("u.indexrelid") ","
    "  'suggestion', 'Check that replicas do not use it either, then DROP INDEX CONCURRENTLY '"
    "   || u.idx) ORDER BY u.rk) FILTER (WHERE u.rk <= 20) AS doc"
    " FROM (SELECT s.indexrelid, " QNAME("s.indexrelid") " AS idx, " QNAME("s.relid") " AS tbl,"
    "  c.relpages::bigint * " BLOCK_SIZE " AS bytes,"
    "  row_number() OVER (ORDER BY c.relpages DESC, s.indexrelid) AS rk"
    "  FROM pg_catalog.pg_stat_user_indexes s"
    "  JOIN pg_catalog.pg_index i ON i.indexrelid = s.indexrelid"
    "  JOIN pg_catalog.pg_class c ON c.oid = s.indexrelid"
    "  WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary"
    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = s.indexrelid)"
    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = s.indexrelid))"
    "  u),"
    " dup AS ("
    " SELECT count(*) AS n, pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'table', g.tbl, 'indexes', g.idx, 'bytes_each', g.bytes,"
    "  'suggestion', 'Keep ' || g.idx[1] || ' and DROP INDEX CONCURRENTLY '"
    "   || pg_catalog.array_to_string(g.idx[2:], ', ')) ORDER BY g.tbl) FILTER (WHERE g.rk <= 20)"
    "   AS doc,"
    "  pg_catalog.string_agg(pg_catalog.array_to_string(g.idx, ' = '), ', ' ORDER BY g.rk)"
    "   FILTER (WHERE g.rk <= 3) AS names"
    " FROM (SELECT " QNAME("i.indrelid") " AS tbl,"
    "  array_agg(" QNAME("i.indexrelid") " ORDER BY i.indisprimary DESC, i.indisunique DESC,"
    "   i.indexrelid) AS idx,"
    "  max(c.relpages)::bigint * " BLOCK_SIZE " AS bytes,"
    "  row_number() OVER (ORDER BY max(c.relpages) DESC, i.indrelid) AS rk"
    "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE " USER_SCHEMA("n")
    "  GROUP BY i.indrelid, i.indkey::text, i.indclass::text, i.indcollation::text,"
    "  " NODE_TEXT("i.indexprs") ", " NODE_TEXT("i.indpred")
    "  HAVING count(*) > 1) g),"
    " seqs AS ("
    " SELECT pg_catalog.quote_ident(s.schemaname) || '.' || pg_catalog.quote_ident(s.sequencename)"
    "  AS seq, s.last_value, CASE WHEN s.increment_by > 0 THEN s.max_value ELSE s.min_value END"
    "  AS limit_value,"
    "  round(100.0 * CASE WHEN s.increment_by > 0 THEN s.last_value::numeric - s.min_value"
    "   ELSE s.max_value::numeric - s.last_value END"
    "   / nullif(s.max_value::numeric - s.min_value, 0), 2) AS used_pct"
    " FROM pg_catalog.pg_sequences s WHERE s.last_value IS NOT NULL),"
    " seq AS ("
    " SELECT count(*) FILTER (WHERE q.used_pct >= 75) AS n,"
    "  pg_catalog.json_agg(pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
    "  'sequence', q.seq, 'last_value', q.last_value, 'limit', q.limit_value,"
    "  'used_pct', q.used_pct,"
    "  'suggestion', CASE WHEN q.used_pct >= 75 THEN 'ALTER SEQUENCE ' || q.seq"
    "   || ' AS bigint, and ALTER TABLE ... ALTER COLUMN ... TYPE bigint for the column it fills'"
    "   END)) ORDER BY q.rk) FILTER (WHERE q.rk <= 5 OR q.used_pct >= 75) AS doc,"
    "  pg_catalog.string_agg(q.seq || ' (' || q.used_pct || '%)', ', ' ORDER BY q.rk)"
    "   FILTER (WHERE q.used_pct >= 75 AND q.rk <= 5) AS names"
    " FROM (SELECT seqs.*, row_number() OVER (ORDER BY used_pct DESC, seq) AS rk FROM seqs) q),"
    " wrap AS ("
    " SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'database', d.datname, 'xid_age', pg_catalog.age(d.datfrozenxid),"
    "  'multixact_age', pg_catalog.mxid_age(d.datminmxid),"
    "  'wraparound_pct', round(100.0 * pg_catalog.age(d.datfrozenxid) / 2147483647, 2),"
    "  'autovacuum_freeze_max_age',"
    "   pg_catalog.current_setting('autovacuum_freeze_max_age')::bigint)"
    "  ORDER BY pg_catalog.age(d.datfrozenxid) DESC, d.datname) AS doc,"
    "  max(round(100.0 * pg_catalog.age(d.datfrozenxid) / 2147483647, 2)) AS max_pct,"
    "  (array_agg(d.datname ORDER BY pg_catalog.age(d.datfrozenxid) DESC))[1] AS oldest"
    " FROM pg_catalog.pg_database d WHERE d.datallowconn),"
    " longx AS ("
    " SELECT count(*) AS n, max(" SINCE_S("a.xact_start") ") AS oldest_s,"
    "  pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'pid', a.pid, 'user', a.usename, 'database', a.datname, 'application', a.application_name,"
    "  'client', coalesce(pg_catalog.host(a.client_addr), 'local'), 'state', a.state,"
    "  'transaction_seconds', round(" SINCE_S("a.xact_start") "::numeric, 1),"
    "  'wait_event', a.wait_event_type || ':' || a.wait_event, 'query', left(a.query, 300),"
    "  'suggestion', 'SELECT pg_cancel_backend(' || a.pid || ') stops its statement;"
    " pg_terminate_backend(' || a.pid || ') ends the session') ORDER BY a.xact_start)"
    "  FILTER (WHERE a.rk <= 20) AS doc"
    " FROM (SELECT b.*, row_number() OVER (ORDER BY b.xact_start) AS rk"
    "  FROM pg_catalog.pg_stat_activity b WHERE " SINCE_S("b.xact_start") " > 300"
    "  AND b.pid <> pg_catalog.pg_backend_pid()) a),"
    " blocking AS ("
    " SELECT count(DISTINCT w.pid) AS blocked, pg_catalog.json_agg(pg_catalog.json_build_object("
    "  'blocked_pid', w.pid, 'blocked_user', w.usename, 'blocked_query', left(w.query, 300),"
    "  'waiting_seconds', round(" SINCE_S("w.query_start") "::numeric, 1),"
    "  'wait_event', w.wait_event_type || ':' || w.wait_event,"
    "  'blocking_pid', b.pid, 'blocking_user', b.usename, 'blocking_state', b.state,"
    "  'blocking_query', left(b.query, 300),"
    "  'blocking_transaction_seconds', round(" SINCE_S("b.xact_start") "::numeric, 1),"
    "  'suggestion', 'Finish or roll back the transaction of pid ' || b.pid"
    "   || ', or SELECT pg_terminate_backend(' || b.pid || ')')"
    "  ORDER BY w.query_start, w.pid, b.pid) AS doc"
    " FROM pg_catalog.pg_stat_activity w"
    " CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS bp(pid)"
    " JOIN pg_catalog.pg_stat_activity b ON b.pid = bp.pid"
    " WHERE w.wait_event_type = 'Lock'),"
    " repl AS ("
    " SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.json_build_object("
    "  'role', 'standby',"
    "  'replay_lag_seconds',"
    "   round(" SINCE_S("pg_catalog.pg_last_xact_replay_timestamp()") "::numeric, 1),"
    "  'receive_lsn', pg_catalog.pg_last_wal_receive_lsn()::text,"
    "  'replay_lsn', pg_catalog.pg_last_wal_replay_lsn()::text)"
    "  ELSE pg_catalog.json_build_object('role', 'primary',"
    "  'replicas', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "   'application', r.application_name, 'client', pg_catalog.host(r.client_addr),"
    "   'state', r.state, 'sync_state', r.sync_state,"
    "   'write_lag_seconds', extract(epoch FROM r.write_lag),"
    "   'flush_lag_seconds', extract(epoch FROM r.flush_lag),"
    "   'replay_lag_seconds', extract(epoch FROM r.replay_lag),"
    "   'replay_lag_bytes', pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),"
    "    r.replay_lsn)) ORDER BY r.application_name)"
    "   FROM pg_catalog.pg_stat_replication r), '[]'),"
    "  'inactive_slots', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "   'slot', sl.slot_name, 'type', sl.slot_type,"
    "   'retained_wal_bytes', pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),"
    "    sl.restart_lsn),"
    "   'suggestion', 'SELECT pg_drop_replication_slot(' || pg_catalog.quote_literal(sl.slot_name)"
    "    || ') if nothing will use it again') ORDER BY sl.slot_name)"
    "   FROM pg_catalog.pg_replication_slots sl WHERE NOT sl.active), '[]'),"
    "  'status', CASE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_replication)"
    "   THEN 'not a primary with replicas' ELSE 'primary with replicas' END) END AS doc,"
    "  CASE WHEN pg_catalog.pg_is_in_recovery()"
    "   THEN " SINCE_S("pg_catalog.pg_last_xact_replay_timestamp()") " END AS standby_lag_s,"
    "  CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN (SELECT max(extract(epoch FROM"
    "   r.replay_lag)) FROM pg_catalog.pg_stat_replication r) END AS replica_lag_s,"
    "  CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN (SELECT count(*)"
    "   FROM pg_catalog.pg_replication_slots sl WHERE NOT sl.active) END AS idle_slots)"
    " SELECT pg_catalog.json_build_object("
    " 'checked_at', pg_catalog.clock_timestamp(),"
    " 'findings', pg_catalog.to_json(pg_catalog.array_remove(ARRAY["
    "  CASE WHEN conn.used_pct >= 80 THEN 'connections at ' || conn.used_pct"
    "   || '% of max_connections' END,"
    "  CASE WHEN conn.idle_tx > 0 THEN conn.idle_tx"
    "   || ' session(s) idle in a transaction for over a minute (they hold locks and"
    " snapshots)' END,"
    "  CASE WHEN cache.pct < 99 AND cache.blocks > 10000 THEN 'cache hit ratio ' || cache.pct"
    "   || '% (below 99%): the working set may not fit in shared_buffers' END,"
    "  CASE WHEN vac.n > 0 THEN vac.n || ' table(s) need VACUUM or ANALYZE: ' || vac.names"
    "   || CASE WHEN vac.n > 5 THEN ', ...' ELSE '' END END,"
    "  CASE WHEN bloat.n > 0 THEN bloat.n || ' table(s) with an estimated bloat over 30%: '"
    "   || bloat.names END,"
    "  CASE WHEN invalid.n > 0 THEN invalid.n || ' invalid index(es): ' || invalid.names END,"
    "  CASE WHEN unused.n > 0 THEN unused.n || ' index(es) never scanned since statistics were"
    " reset (' || pg_catalog.pg_size_pretty(unused.bytes) || ')' END,"
    "  CASE WHEN dup.n > 0 THEN dup.n || ' set(s) of duplicate indexes: ' || dup.names END,"
    "  CASE WHEN seq.n > 0 THEN seq.n || ' sequence(s) near exhaustion: ' || seq.names END,"
    "  CASE WHEN wrap.max_pct >= 40 THEN 'database ' || wrap.oldest || ' is ' || wrap.max_pct"
    "   || '% of the way to transaction-ID wraparound' END,"
    "  CASE WHEN longx.n > 0 THEN longx.n || ' transaction(s) open longer than 5 minutes"
    " (oldest ' || round(longx.oldest_s::numeric / 60, 1) || ' min)' END,"
    "  CASE WHEN blocking.blocked > 0 THEN blocking.blocked"
    "   || ' session(s) waiting on locks held by others' END,"
    "  CASE WHEN repl.standby_lag_s > 60 THEN 'this standby replays '"
    "   || round(repl.standby_lag_s::numeric) || ' s behind its primary' END,"
    "  CASE WHEN repl.replica_lag_s > 60 THEN 'a replica is '"
    "   || round(repl.replica_lag_s::numeric) || ' s behind' END,"
    "  CASE WHEN repl.idle_slots > 0 THEN repl.idle_slots"
    "   || ' inactive replication slot(s) retaining WAL' END]::text[], NULL)),"
    " 'connections', conn.doc,"
    " 'cache_hit_ratio', cache.doc,"
    " 'vacuum_analyze', coalesce(vac.doc, '[]'),"
    " 'bloat', coalesce(bloat.doc, '[]'),"
    " 'invalid_indexes', coalesce(invalid.doc, '[]'),"
    " 'unused_indexes', coalesce(unused.doc, '[]'),"
    " 'duplicate_indexes', coalesce(dup.doc, '[]'),"
    " 'sequences', coalesce(seq.doc, '[]'),"
    " 'wraparound', coalesce(wrap.doc, '[]'),"
    " 'long_transactions', coalesce(longx.doc, '[]'),"
    " 'blocking_locks', coalesce(blocking.doc, '[]'),"
    " 'replication', repl.doc)"
    " FROM conn, cache, vac, bloat, invalid, unused, dup, seq, wrap, longx, blocking, repl";

/* PostgreSQL's json output has blanks around ':' and ','; the model needs none of them. */
static void
put_compact(struct buf *out, const char *json, size_t len)
{
	bool in_string = false;

	buf_reserve(out, len);
	for (size_t i = 0; i < len; i++) {
		char c = json[i];

		if (in_string) {
			if (c == '\\' && i + 1 < len) {
				buf_putc(out, c);
				c = json[++i];
			} else if (c == '"') {
				in_string = false;
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			continue;
		}
		buf_putc(out, c);
	}
}

/* Runs a statement that returns one json value; on failure reports it unless quiet. */
static bool
run_value(struct tool_ctx *tc, const char *sql, const char *const *params, int nparams,
    bool quiet)
{
	struct db_request req;

	tool_request_defaults(tc, &req);
	req.sql = sql;
	req.params = params;
	req.nparams = nparams;
	req.single_value = true;
	tool_run(tc, &req);
	if (tc->res.status == DB_OK && tc->res.value.len >= 2)
		return true;
	if (quiet)
		return false;
	if (tc->res.status == DB_CANCELLED)
		tool_error(tc, "cancelled");
	else if (tc->res.status == DB_OK)
		tool_error(tc, "internal error: the statement returned no document");
	else
		tool_db_error(tc, NULL, 0);
	return false;
}

/* The value just fetched, compacted, as the result. */
static void
send_value(struct tool_ctx *tc)
{
	struct buf out = BUF_INIT;

	put_compact(&out, tc->res.value.data, tc->res.value.len);
	tool_result_json(tc, out.data, out.len);
	buf_free(&out);
}

/* "name" with embedded quotes doubled: an identifier PostgreSQL reads back exactly. */
static void
put_ident(struct buf *b, const char *name)
{
	buf_putc(b, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

static const char *
probe_string(struct json_object *probe, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(probe, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Versions before 1.8 (PostgreSQL 12 and older) call the columns total_time and mean_time. */
static bool
pgss_new_columns(const char *version)
{
	int major = 0, minor = 0;

	if (version == NULL || sscanf(version, "%d.%d", &major, &minor) < 1)
		return true;
	return major > 1 || (major == 1 && minor >= 8);
}

void
tool_top_queries(struct tool_ctx *tc)
{
	static const char *const known[] = { "limit", "order_by", "all_databases", NULL };
	static const char *const orders[] = { "total_time", "mean_time", "calls", "rows",
		"blocks_read", NULL };
	const char *order, *schema, *version, *params[3];
	struct json_object *probe = NULL, *avail;
	struct buf view = BUF_INIT, sql = BUF_INIT;
	char limit_text[24];
	int64_t limit;
	bool all, newcols;

	if (!tool_check_unknown_args(tc, known) || !tool_arg_int(tc, "limit", 10, 1, 100, &limit) ||
	    !tool_arg_enum(tc, "order_by", orders, "total_time", &order) ||
	    !tool_arg_bool(tc, "all_databases", false, &all))
		return;
	if (!run_value(tc, PGSS_PROBE_SQL, NULL, 0, false))
		return;
	probe = json_tokener_parse(buf_cstr(&tc->res.value));
	schema = probe ? probe_string(probe, "schema") : NULL;
	version = probe ? probe_string(probe, "version") : NULL;
	if (schema == NULL) {
		bool available = probe && json_object_object_get_ex(probe, "available", &avail) &&
		    json_object_get_boolean(avail);

		tool_error(tc, "top_queries needs the pg_stat_statements extension, which is not "
		    "installed in database \"%s\". To enable it: add pg_stat_statements to "
		    "shared_preload_libraries in postgresql.conf (or run ALTER SYSTEM SET "
		    "shared_preload_libraries = 'pg_stat_statements'), restart PostgreSQL, then run "
		    "CREATE EXTENSION pg_stat_statements; in this database as a superuser or the "
		    "database owner.%s Until then, active_queries shows what runs right now.",
		    probe && probe_string(probe, "database") ? probe_string(probe, "database") : "?",
		    available ? "" : " The extension's files are not installed on the server either: "
		    "install PostgreSQL's contrib package first.");
		json_object_put(probe);
		return;
	}
	newcols = pgss_new_columns(version);
	put_ident(&view, schema);
	buf_puts(&view, ".pg_stat_statements");
	{
		const char *total = newcols ? "total_exec_time" : "total_time";
		const char *mean = newcols ? "mean_exec_time" : "mean_time";

		buf_printf(&sql, TOP_QUERIES_SQL, total, mean, total, total, total, mean,
		    buf_cstr(&view));
	}
	snprintf(limit_text, sizeof(limit_text), "%lld", (long long)limit);
	params[0] = limit_text;
	params[1] = order;
	params[2] = all ? "true" : "false";
	db_result_reset(&tc->res);
	if (!run_value(tc, buf_cstr(&sql), params, 3, true)) {
		if (tc->res.status == DB_SQL_ERROR && strcmp(tc->res.sqlstate, "55000") == 0 &&
		    strstr(buf_cstr(&tc->res.message), "shared_preload_libraries") != NULL)
			tool_error(tc, "pg_stat_statements is installed in this database (version %s) "
			    "but the server has not loaded it, so it has collected nothing. Add "
			    "pg_stat_statements to shared_preload_libraries in postgresql.conf (or ALTER "
			    "SYSTEM SET shared_preload_libraries = 'pg_stat_statements') and restart "
			    "PostgreSQL.", version ? version : "?");
		else if (tc->res.status == DB_CANCELLED)
			tool_error(tc, "cancelled");
		else if (tc->res.status == DB_OK)
			tool_error(tc, "internal error: the statement returned no document");
		else
			tool_db_error(tc, NULL, 0);
	} else {
		struct buf out = BUF_INIT;

		/* Put the extension's version in front of the document's members. */
		buf_puts(&out, "{\"extension_version\":\"");
		json_escape(&out, version ? version : "", version ? strlen(version) : 0);
		buf_puts(&out, "\",");
		put_compact(&out, tc->res.value.data + 1, tc->res.value.len - 1);
		tool_result_json(tc, out.data, out.len);
		buf_free(&out);
	}
	json_object_put(probe);
	buf_free(&view);
	buf_free(&sql);
}

void
tool_health(struct tool_ctx *tc)
{
	static const char *const known[] = { NULL };

	if (!tool_check_unknown_args(tc, known))
		return;
	if (run_value(tc, HEALTH_SQL, NULL, 0, false))
		send_value(tc);
}

void
tool_active_queries(struct tool_ctx *tc)
{
	static const char *const known[] = { "include_idle", NULL };
	const char *params[2];
	char limit_text[24];
	bool idle;

	if (!tool_check_unknown_args(tc, known) || !tool_arg_bool(tc, "include_idle", false, &idle))
		return;
	snprintf(limit_text, sizeof(limit_text), "%lld", (long long)tc->s->cfg->max_rows);
	params[0] = idle ? "true" : "false";
	params[1] = limit_text;
	if (run_value(tc, ACTIVE_QUERIES_SQL, params, 2, false))
		send_value(tc);
}
