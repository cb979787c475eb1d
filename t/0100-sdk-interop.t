#!/usr/bin/env python3
# t/0100-sdk-interop.t: the official MCP TypeScript SDK client (@modelcontextprotocol/sdk,
# pinned in t/interop/package-lock.json) drives `pgmcp --stdio`: initialize, tools/list,
# query and describe_table with structuredContent validated against outputSchema by the SDK,
# resources, prompts, a tool error, and close. The npm packages are installed by
# scripts/npm-install-interop; an unreachable registry is a failure, not a skip.
import os

from tap import done
from pgmcp_test import BIN, DSN
from interop import install_sdk, run_client

SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
TIMEOUT = 300 if SANITIZED else 120

if install_sdk():
    run_client("stdio-client.mjs", dict(os.environ, PGMCP_BIN=BIN, PGMCP_TEST_DSN=DSN), TIMEOUT)
done()
