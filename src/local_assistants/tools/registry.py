"""The tools a server offers: one handler per kind of tool call (see ``tools.base``).

A new tool kind is a module with its ``ToolHandler`` and a line here.  The order is
the order their functions are declared to the model in (file search first), and,
reversed, the order they annotate an answer in.
"""

from __future__ import annotations

from typing import Sequence

from ..ports import CodeRunner, ObjectStore, Searcher
from .base import ToolHandler, Toolbox
from .code_interpreter import CodeInterpreterTool
from .file_search import FileSearchTool
from .functions import FunctionTool


def default_tools(store: ObjectStore, *, code_runner: CodeRunner | None = None,
                  searcher: Searcher | None = None, mcp: Sequence[ToolHandler] = ()) -> Toolbox:
    """Functions always; the code interpreter with a ``code_runner``; file search with a ``searcher``;
    MCP tools with their handlers (``tools.mcp.mcp_tools``)."""
    return Toolbox([
        FileSearchTool(store, searcher),
        FunctionTool(),
        *mcp,
        CodeInterpreterTool(code_runner),
    ])
