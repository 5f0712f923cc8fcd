"""Closing JSON answers cut short by the token limit."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local_assistants.core.jsonrepair import close_json


@pytest.mark.parametrize("cut, expected", [
    ('{"name": "Ada", "age": 36, "languages": ["English", "Fre', {"name": "Ada", "age": 36, "languages": ["English"]}),
    ('{"name": "Ada", "age": 3', {"name": "Ada"}),
    ('{"name": "Ada", "ag', {"name": "Ada"}),
    ('{"name": "Ada", "age":', {"name": "Ada"}),
    ('{"a": {"b": [1, 2, {"c": tr', {"a": {"b": [1, 2, {}]}}),
    ('{', {}),
    ('[1, 2, 3', [1, 2]),
    ('[1, 2, 3,', [1, 2, 3]),
    ('{"a": "x\\"y', {}),
])
def test_cut_json_is_closed_at_the_last_complete_value(cut, expected):
    assert json.loads(close_json(cut)) == expected


def test_complete_json_is_returned_as_it_is_and_nothing_opened_gives_none():
    assert close_json('{"a": [1, {"b": null}]}') == '{"a": [1, {"b": null}]}'
    assert close_json("") is None
    assert close_json('"just a string') is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values.filter(lambda v: isinstance(v, (list, dict))), st.data())
def test_every_prefix_of_a_document_closes_to_valid_json(value, data):
    text = json.dumps(value)
    cut = data.draw(st.integers(min_value=1, max_value=len(text)))
    closed = close_json(text[:cut])
    assert closed is not None
    json.loads(closed)
