"""The function-calling benchmark's verdict on a tool call (the benchmark itself decodes
with real models and is run by ``make bench``)."""

from __future__ import annotations

import pytest

from local_assistants.bench.functions_bench import FORECAST, _valid_calls
from local_assistants.testing import FakeChatModel
from local_assistants.tools.functions import FunctionTool
from local_assistants.tools.turn import plan_turn

RUN = {"instructions": "x", "tools": [{"type": "function", "function": FORECAST}],
       "tool_choice": {"type": "function", "function": {"name": FORECAST["name"]}}, "parallel_tool_calls": True,
       "response_format": "auto"}


@pytest.fixture(scope="module")
def protocol():
    return plan_turn(RUN, FakeChatModel(), rounds_done=0, tools=[FunctionTool()]).protocol


def _call(name="get_forecast", arguments='{"city": "Paris", "unit": "celsius", "days": 3}'):
    return f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'


def test_a_declared_function_with_valid_arguments_is_a_valid_call(protocol):
    assert _valid_calls(_call(), protocol)
    assert _valid_calls("\n " + _call() + "\n\n", protocol)
    assert _valid_calls(_call() + "\n" + _call(arguments='{"city": "Oslo", "unit": "fahrenheit", "days": 7}'),
                        protocol)


@pytest.mark.parametrize("text", [
    "It will rain in Paris.",  # no call
    _call(name="get_weather"),  # not declared
    _call(arguments='{"city": "Paris", "unit": "celsius", "days": 9}'),  # days above 7
    _call(arguments='{"city": "Paris", "unit": "kelvin", "days": 3}'),  # not in the enum
    _call(arguments='{"city": "Paris", "days": 3}'),  # a required argument missing
    _call(arguments='{"city": "Paris", "unit": "celsius", "days": 3, "hourly": true}'),  # not declared
    _call(arguments='{"city" "Paris"}'),  # not JSON
    _call() + "\n" + _call(arguments='{"city": "Oslo", "unit": "celsius", "days": 0}'),  # one bad call of two
])
def test_anything_else_is_not(protocol, text):
    assert not _valid_calls(text, protocol)
