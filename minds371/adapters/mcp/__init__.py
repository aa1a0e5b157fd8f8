"""``minds371 mcp``: the registered actions as an MCP server (stdio, or streamable HTTP).

Needs the ``mcp`` extra (``pip install "minds371[mcp]"``); :mod:`minds371.adapters.mcp.server`
builds the server, ``minds371 mcp`` runs it. Importing this package loads no SDK, so that the
command line starts without it. See docs/mcp.md.
"""
