#!/bin/bash
# 20-reader-password.sh: run by the postgres image's entrypoint from /docker-entrypoint-initdb.d
# after 10-sample-data.sql (which creates the role), against the temporary init server.
# Gives pgmcp_reader the password from PGMCP_READER_PASSWORD, so pgmcp can log in over TCP
# (the image's pg_hba.conf asks for scram-sha-256 there). The password travels as a psql
# variable, quoted by psql, never spliced into the SQL text.
set -eu
: "${PGMCP_READER_PASSWORD:?set PGMCP_READER_PASSWORD}"
psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" --set pw="$PGMCP_READER_PASSWORD" <<'SQL'
ALTER ROLE pgmcp_reader PASSWORD :'pw';
SQL
