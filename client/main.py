#!/usr/bin/env python3
"""main.py: run the client without installing it (`python client/main.py ask "..."`).

The same as `python3 -m pgmcp_client` or the installed `pgmcp-client` command.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgmcp_client.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
