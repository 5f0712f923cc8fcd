"""The one path kernel messages take, on real ZMQ sockets and a real Jupyter session:
bounded reading, no trust in the sender's framing, JSON or types, capped texts and images.
(Against a real sandboxed kernel: tests/tools/test_sandbox_attacks.py.)"""

from __future__ import annotations

import base64
import json
import os

import pytest
import zmq
from jupyter_client.session import Session

from local_assistants.adapters import kernel_output
from local_assistants.adapters.kernel_output import ExecutionOutput, Message, clip, receive

KEY = b"k" * 32


@pytest.fixture
def pair(tmp_path):
    context = zmq.Context()
    kernel_output.configure(context)
    server = context.socket(zmq.PULL)
    server.bind(f"ipc://{tmp_path}/s")
    sender = zmq.Context().socket(zmq.PUSH)  # the kernel's side: its own context, no bounds
    sender.connect(f"ipc://{tmp_path}/s")
    yield server, sender
    sender.close(0)
    server.close(0)
    context.term()


def frames(session, msg_type, content: bytes, parent_id="p1", sign=True):
    header = json.dumps(session.msg_header(msg_type), default=str).encode()
    parent = json.dumps({"msg_id": parent_id}).encode()
    parts = [header, parent, b"{}", content]
    return [b"<IDS|MSG>", session.sign(parts) if sign else b"0" * 64, *parts]


def test_a_well_formed_message(pair):
    server, sender = pair
    session = Session(key=KEY)
    sender.send_multipart(frames(session, "stream", b'{"name": "stdout", "text": "hi"}'))
    msg = receive(server, session, 5)
    assert (msg.kind, msg.parent_id, msg.content["text"]) == ("stream", "p1", "hi")
    assert receive(server, session, 0.05) is None  # nothing more


@pytest.mark.parametrize("parts", [
    lambda s: frames(s, "stream", b'{"text": "x"}', sign=False),  # not signed by the key
    lambda s: frames(s, "stream", b'{"text": '),  # not JSON
    lambda s: frames(s, "stream", b"[" * 100_000 + b"]" * 100_000),  # too deep
    lambda s: [b"no delimiter", b"x"],
    lambda s: frames(s, "stream", b'{"text": "x"}') + [b"b"] * 40,  # too many frames
    lambda s: frames(s, "stream", b'"' + b"x" * (15 << 20) + b'"') + [b"y" * (12 << 20)],  # too many bytes
])
def test_malformed_messages_are_dropped_and_reading_goes_on(pair, parts):
    server, sender = pair
    session = Session(key=KEY)
    sender.send_multipart(parts(session))
    sender.send_multipart(frames(session, "stream", b'{"name": "stdout", "text": "next"}'))
    dropped = receive(server, session, 5)
    assert dropped.kind == "" and dropped.content == {}
    assert receive(server, session, 5).content["text"] == "next"


def test_a_frame_over_the_cap_never_reaches_the_server(pair):
    server, sender = pair
    session = Session(key=KEY)
    sender.send_multipart(frames(session, "stream", b"x" * (kernel_output.MAX_FRAME_BYTES + 1)))
    assert receive(server, session, 1) is None  # the peer is cut off by ZMQ itself


def test_other_executions_messages_are_dropped_unparsed(pair):
    server, sender = pair
    session = Session(key=KEY)
    sender.send_multipart(frames(session, "stream", b"not even json", parent_id="other"))
    msg = receive(server, session, 5, parent_id="mine")
    assert msg.kind == "" and msg.size > 0


def _msg(kind, content):
    return Message(kind, "p", content, 0)


def test_texts_lose_lone_surrogates_and_are_capped():
    out = ExecutionOutput()
    out.add(_msg("stream", {"text": "a\ud800b"}))
    out.add(_msg("stream", {"text": 42}))
    out.add(_msg("execute_result", {"data": {"text/plain": "v" * 100_000}}))
    out.add(_msg("error", {"traceback": ["\x1b[31mred\x1b[0m", 7, "e" * 100_000]}))
    result = out.finish()
    result.logs.encode("utf-8")
    assert result.stdout == "a\ufffdb" and "\x1b" not in result.error and result.error.startswith("red")
    assert len(result.result) < kernel_output.RESULT_CHARS + 100 and len(result.error) < kernel_output.ERROR_CHARS + 100
    assert out.add(_msg("status", {"execution_state": "idle"}))


def test_images_are_checked_and_capped():
    out = ExecutionOutput()
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
    for _ in range(kernel_output.MAX_IMAGES + 2):
        out.add(_msg("display_data", {"data": {"image/png": base64.b64encode(png).decode()}}))
    out.add(_msg("display_data", {"data": {"image/png": "%%% not base64"}}))
    out.add(_msg("display_data", {"data": {"image/png": base64.b64encode(b"GIF89a").decode()}}))
    out.add(_msg("display_data", {"data": {"image/png": ["x"]}}))
    result = out.finish()
    assert result.images == [png] * kernel_output.MAX_IMAGES
    assert len(result.images_dropped) == 4 and "images not kept" in result.logs


def test_clip_keeps_both_ends():
    text = "head" + "x" * 1000 + "tail"
    clipped = clip(text, 100)
    assert clipped.startswith("head") and clipped.endswith("tail") and "characters cut" in clipped
    assert clip("short", 100) == "short"
