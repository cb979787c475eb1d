"""pgmcp_client: a standard-library Python client for pgmcp (and any MCP server).

    from pgmcp_client import McpSession
    with McpSession.stdio(["pgmcp", "--stdio"]) as s:
        print(s.call_tool("query", {"sql": "select 1 as one"})["structuredContent"])

McpSession holds one persistent session over stdio, Streamable HTTP or legacy HTTP+SSE;
Agent turns a question into tool calls through an OpenAI-compatible Chat Completions endpoint.
"""
from .session import (McpError, McpSession, ProtocolError, RequestTimeout, ToolError,
                      TransportClosed, LATEST_VERSION, MODERN_VERSION, SUPPORTED_VERSIONS,
                      result_text)

from ._version import __version__

__all__ = ["McpSession", "McpError", "TransportClosed", "RequestTimeout", "ProtocolError",
           "ToolError", "LATEST_VERSION", "MODERN_VERSION", "SUPPORTED_VERSIONS",
           "result_text", "__version__"]
