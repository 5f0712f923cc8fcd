"""SSE framing and delta coalescing."""

from local_assistants.server.sse import coalesce_deltas, frame
from local_assistants.services.events import Event


def _delta(msg_id, value, annotations=None, index=0):
    text = {"value": value}
    if annotations is not None:
        text["annotations"] = annotations
    return Event("thread.message.delta", {"id": msg_id, "object": "thread.message.delta",
                                          "delta": {"content": [{"index": index, "type": "text", "text": text}]}})


def test_frame_is_openai_sse():
    assert frame("done", "[DONE]") == b"event: done\ndata: [DONE]\n\n"
    assert frame("thread.run.created", {"a": 1}) == b'event: thread.run.created\ndata: {"a":1}\n\n'


def test_consecutive_deltas_of_one_message_merge_into_what_the_sdk_would_build():
    events = [_delta("m1", "Hel", annotations=[]), _delta("m1", "lo"), _delta("m1", " you")]
    [merged] = coalesce_deltas(events)
    part = merged.data["delta"]["content"][0]
    assert part["text"] == {"value": "Hello you", "annotations": []} and part["index"] == 0


def test_other_events_and_other_messages_are_not_merged():
    other = Event("thread.message.completed", {"id": "m1"})
    events = [_delta("m1", "a"), other, _delta("m1", "b"), _delta("m2", "c"),
              _delta("m2", "d", annotations=[{"type": "file_citation"}])]
    out = coalesce_deltas(events)
    assert [e.event for e in out] == ["thread.message.delta", "thread.message.completed",
                                      "thread.message.delta", "thread.message.delta", "thread.message.delta"]
    assert [e.data.get("id") for e in out] == ["m1", "m1", "m1", "m2", "m2"]
