"""A real MCP server for the tests, written with the official SDK's FastMCP (stdio).

Tools: ``add`` (a sum), ``slow`` (sleeps; writes its pid to ``$MCP_PID_FILE`` first, so
a test can kill it mid-call), ``fail`` (raises), ``environment`` (the names of the
variables it was started with).
"""

import os
import time

from mcp.server.fastmcp import FastMCP

server = FastMCP("test-tools")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return f"The sum is {a + b}."


@server.tool()
def slow(seconds: float) -> str:
    """Wait for a number of seconds."""
    pid_file = os.environ.get("MCP_PID_FILE")
    if pid_file:
        with open(pid_file, "w") as f:
            f.write(str(os.getpid()))
    time.sleep(seconds)
    return "done waiting"


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"it broke: {reason}")


@server.tool()
def environment() -> str:
    """The names of the environment variables the server runs with."""
    return " ".join(sorted(os.environ))


if __name__ == "__main__":
    server.run("stdio")
