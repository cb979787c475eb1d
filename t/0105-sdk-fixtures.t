#!/usr/bin/env python3
# t/0105-sdk-fixtures.t: the official MCP TypeScript SDK client (@modelcontextprotocol/sdk,
# pinned in t/interop/package-lock.json) drives `pgmcp --stdio -c conf/examples/conformance.yaml`,
# the operator-declared fixtures the official conformance suite calls by name: every fixture
# listed, every fixture tool called and its content checked (text, image, audio, embedded
# resource, mixed content, an error), log notifications after logging/setLevel, progress
# notifications for a progressToken, the static and templated resources read, every prompt
# got, completion of a template variable and a prompt argument, and close. The npm packages are
# installed by scripts/npm-install-interop; an unreachable registry is a failure, not a skip.
import os

from tap import done
from pgmcp_test import BIN, DSN
from interop import install_sdk, run_client

SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
TIMEOUT = 300 if SANITIZED else 120

if install_sdk():
    # Per-request timeout inside the client: generous under the sanitizers.
    run_client("fixtures-client.mjs", dict(os.environ, PGMCP_BIN=BIN, PGMCP_TEST_DSN=DSN,
                                           PGMCP_TEST_TIMEOUT="90" if SANITIZED else "30"),
               TIMEOUT)
done()
