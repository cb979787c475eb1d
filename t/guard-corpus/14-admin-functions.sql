-- # Server administration functions (func.sgml "System Administration Functions"): signalling,
-- # configuration, WAL and backup control, replication slots and origins, statistics resets,
-- # files. All refused, however they are called.
-- expect: refuse
SELECT pg_terminate_backend({S})

SELECT pg_terminate_backend({S}, 1000)

SELECT pg_cancel_backend({S})

SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '%sentinel%'

SELECT * FROM pg_stat_activity a, LATERAL pg_cancel_backend(a.pid) WHERE a.pid = {S}

SELECT (pid).pg_terminate_backend FROM pg_stat_activity WHERE pid = {S}

SELECT pg_terminate_backend(pg_backend_pid())

SELECT pg_reload_conf()

SELECT pg_rotate_logfile()

SELECT pg_log_backend_memory_contexts({S})

SELECT pg_switch_wal()

SELECT pg_create_restore_point('{tag}')

SELECT pg_backup_start('{tag}', true)

SELECT pg_backup_stop()

SELECT pg_start_backup('{tag}')

SELECT pg_wal_replay_pause()

SELECT pg_wal_replay_resume()

SELECT pg_promote(true, 1)

SELECT pg_create_physical_replication_slot('{tag}_p', true)

SELECT * FROM pg_create_logical_replication_slot('{tag}_l', 'test_decoding')

SELECT pg_copy_physical_replication_slot('a', 'b')

SELECT pg_drop_replication_slot('{tag}_p')

SELECT pg_replication_slot_advance('{tag}_p', '0/0')

SELECT * FROM pg_logical_slot_get_changes('{tag}_l', NULL, NULL)

SELECT * FROM pg_logical_slot_peek_changes('{tag}_l', NULL, NULL)

SELECT pg_logical_emit_message(false, 'pfx', 'msg')

SELECT pg_replication_origin_create('{tag}_o')

SELECT pg_replication_origin_session_setup('{tag}_o')

SELECT pg_replication_origin_advance('{tag}_o', '0/1')

SELECT pg_stat_reset()

SELECT pg_stat_reset_shared('wal')

SELECT pg_stat_reset_shared('archiver')

SELECT pg_stat_reset_single_table_counters('sales.orders'::regclass)

SELECT pg_stat_reset_single_function_counters('pg_catalog.now'::regproc)

SELECT pg_stat_reset_slru('Xact')

SELECT pg_stat_reset_replication_slot(NULL)

SELECT pg_stat_reset_subscription_stats(NULL)

SELECT pg_stat_force_next_flush()

SELECT pg_import_system_collations('pg_catalog')

SELECT pg_read_file('postgresql.conf')

SELECT pg_read_file('/etc/hostname', 0, 10, true)

SELECT pg_read_binary_file('/etc/hostname')

SELECT pg_stat_file('postgresql.conf')

SELECT * FROM pg_ls_dir('.')

SELECT * FROM pg_ls_logdir()

SELECT * FROM pg_ls_waldir()

SELECT * FROM pg_ls_tmpdir()

SELECT * FROM pg_ls_archive_statusdir()

SELECT pg_file_write('{pwn}_fw', 'x', false)

SELECT pg_nextoid('pg_class'::regclass, 'oid', 'pg_class_oid_index'::regclass)

SELECT setseed(0.42)

SELECT gin_clean_pending_list('inventory.products_tags_idx'::regclass)

SELECT brin_summarize_new_values('inventory.products_tags_idx'::regclass)

SELECT brin_summarize_range('inventory.products_tags_idx'::regclass, 0)

SELECT brin_desummarize_range('inventory.products_tags_idx'::regclass, 0)

SELECT binary_upgrade_set_next_pg_type_oid(1)

SELECT pg_notify('{ch}', 'from the guard test')

SELECT pg_notify(channel, 'x') FROM (VALUES ('{ch}')) v(channel)

NOTIFY {ch}

NOTIFY {ch}, 'payload'

LISTEN {ch}

UNLISTEN *

-- expect: allow
SELECT pg_current_logfile()

SELECT pg_is_wal_replay_paused()

SELECT * FROM pg_replication_slots

SELECT * FROM pg_replication_origin

SELECT * FROM pg_stat_replication

SELECT pg_walfile_name(pg_current_wal_lsn())

SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') > 0

SELECT * FROM pg_stat_bgwriter

SELECT * FROM pg_stat_wal

SELECT pg_stat_get_numscans('sales.orders'::regclass)

SELECT * FROM pg_stat_slru

SELECT pg_backend_pid(), pg_blocking_pids(pg_backend_pid())

SELECT pg_safe_snapshot_blocking_pids(pg_backend_pid())

SELECT pg_tablespace_location(oid) FROM pg_tablespace

SELECT pg_collation_actual_version(oid) FROM pg_collation WHERE collname = 'C'
