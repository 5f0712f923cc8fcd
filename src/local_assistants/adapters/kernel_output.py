"""The one path every byte from a kernel takes: received bounded, checked, capped.

A kernel is model-written code: it can send any frames on its sockets (it holds
the connection key), so nothing it sends is trusted to be well formed or small.

- ``receive`` reads one message frame by frame: at most ``MAX_FRAMES`` frames
  and ``MAX_MESSAGE_BYTES`` are kept (a larger message is read to its end and
  dropped), then it is parsed and its signature checked; anything malformed
  (no delimiter, bad JSON, too deep, wrong types) is dropped, never raised.
  Each frame is capped by the ZMQ context (``MAX_FRAME_BYTES``: larger frames
  disconnect the peer) and at most ``RECEIVE_HWM`` whole messages wait in the
  server, so output a kernel sends between executions stays in the kernel.
- ``ExecutionOutput`` keeps from one execution's messages: the printed text's
  tail (``STREAM_CHARS``), the last expression's value (``RESULT_CHARS``), the
  traceback (``ERROR_CHARS``; ANSI colours removed), and at most
  ``MAX_IMAGES`` valid PNG images of at most ``MAX_IMAGE_BYTES`` each and
  ``MAX_IMAGES_BYTES`` together.  Texts lose lone surrogates (they cannot be
  encoded as UTF-8, so could not be stored or returned).

One limit remains, in libzmq itself: it counts whole messages against its
queue limit, so the frames of one message still being received are buffered
in full before the first reaches Python (see README, "Security").
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field

import zmq

MAX_FRAME_BYTES = 16 << 20
MAX_MESSAGE_BYTES = 24 << 20
MAX_FRAMES = 32
RECEIVE_HWM = 4

STREAM_CHARS = 20_000
RESULT_CHARS = 10_000
ERROR_CHARS = 10_000
FLOOD_CHARS = 2_000_000
"""Printed characters after which an execution is interrupted."""
FLOOD_BYTES = 64 << 20
"""Bytes of an execution's messages after which it is interrupted (what other executions'
threads send meanwhile is read and dropped unparsed; the time limit bounds it)."""

MAX_IMAGES = 10
MAX_IMAGE_BYTES = 8 << 20
MAX_IMAGES_BYTES = 32 << 20

KERNEL_CHUNK_CHARS = 1 << 20
KERNEL_TEXT_CHARS = 11_500_000  # above the base64 of a MAX_IMAGE_BYTES image, below MAX_FRAME_BYTES

KERNEL_STARTUP = f'''
def _bounded_output():
    try:
        session = get_ipython().kernel.session
    except Exception:
        return
    send = session.send

    def shrink(value, depth=0):
        if isinstance(value, str) and len(value) > {KERNEL_TEXT_CHARS}:
            return value[:{KERNEL_TEXT_CHARS}] + "\\n[... cut in the kernel: too long to send]"
        if depth < 8 and isinstance(value, dict):
            return {{k: shrink(v, depth + 1) for k, v in value.items()}}
        if depth < 8 and isinstance(value, list):
            return [shrink(v, depth + 1) for v in value]
        return value

    def bounded_send(stream, msg_or_type, content=None, parent=None, ident=None, *args, **kwargs):
        if isinstance(msg_or_type, dict):
            body = msg_or_type.get("content") or {{}}
            text = body.get("text")
            if msg_or_type.get("msg_type") == "stream" and isinstance(text, str) and len(text) > {KERNEL_CHUNK_CHARS}:
                sent = None
                for i in range(0, len(text), {KERNEL_CHUNK_CHARS}):
                    part = session.msg("stream", {{"name": body.get("name", "stdout"), "text": text[i:i + {KERNEL_CHUNK_CHARS}]}},
                                       parent=msg_or_type.get("parent_header") or None)
                    sent = send(stream, part, ident=ident)
                return sent
            msg_or_type = dict(msg_or_type, content=shrink(body))
        elif isinstance(content, dict):
            content = shrink(content)
        return send(stream, msg_or_type, content, parent, ident, *args, **kwargs)

    session.send = bounded_send

_bounded_output()
'''
"""Run once in each kernel at start: well-behaved code that prints 50 MB or returns a huge
value gets its output in pieces the server accepts (the server's caps stand anyway:
code can undo this, and only hurts its own output by doing so)."""

_PNG = b"\x89PNG\r\n\x1a\n"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def configure(context: zmq.Context) -> None:
    """Bounds for every socket made from ``context`` afterwards (set before channels start)."""
    context.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    context.setsockopt(zmq.RCVHWM, RECEIVE_HWM)
    context.setsockopt(zmq.LINGER, 0)


@dataclass
class Message:
    kind: str
    parent_id: str | None
    content: dict
    size: int


def receive(socket: zmq.Socket, session, timeout: float, *, parent_id: str | None = None) -> Message | None:
    """The next message on ``socket``, or None when nothing came within ``timeout`` seconds.

    A message that was dropped comes back as kind ``""`` with its size.  Given
    ``parent_id``, a message answering anything else is dropped after reading only
    its small parent header (no signature check, no parsing of its content).
    """
    if not socket.poll(int(timeout * 1000)):
        return None
    frames: list[bytes] | None = []
    size = 0
    while True:
        frame = socket.recv(copy=False)
        size += len(frame)
        if frames is not None:
            if len(frames) >= MAX_FRAMES or size > MAX_MESSAGE_BYTES:
                frames = None  # read on to the end, keep nothing
            else:
                frames.append(frame.bytes)
        if not frame.more:
            break
    dropped = Message("", None, {}, size)
    if frames is None:
        return dropped
    try:
        _, parts = session.feed_identities(frames, copy=True)
        if parent_id is not None and _parent_of(parts) != parent_id:
            return dropped
        msg = session.deserialize(parts, content=True, copy=True)
    except Exception:  # bad signature, no delimiter, bad JSON, too deep: all dropped alike
        return dropped
    header, parent, content = msg.get("header"), msg.get("parent_header"), msg.get("content")
    if not isinstance(header, dict) or not isinstance(header.get("msg_type"), str):
        return dropped
    found = parent.get("msg_id") if isinstance(parent, dict) else None
    return Message(header["msg_type"], found if isinstance(found, str) else None,
                   content if isinstance(content, dict) else {}, size)


def _parent_of(parts: list[bytes]) -> str | None:
    """The msg_id of a serialized message's parent header ([signature, header, parent, ...])."""
    if len(parts) < 5 or len(parts[2]) > 65536:
        return None
    try:
        parent = json.loads(parts[2])
    except ValueError:
        return None
    found = parent.get("msg_id") if isinstance(parent, dict) else None
    return found if isinstance(found, str) else None


def clean(text: str) -> str:
    """Text safe to store and return: no lone surrogates."""
    return _SURROGATE.sub("\ufffd", text)


def clip(text: str, limit: int, *, head_share: float = 0.25) -> str:
    """At most about ``limit`` characters: the start and the end, with what was cut said."""
    if len(text) <= limit:
        return text
    head = int(limit * head_share)
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - head - tail} characters cut ...]\n{text[len(text) - tail:]}"


class _Tail:
    """Text kept from a stream: at most ``limit`` characters, the end kept."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.total = 0
        self.cut = False

    def add(self, text: str) -> None:
        self.total += len(text)
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * self.limit:
            joined = "".join(self.parts)[-self.limit:]
            self.parts, self.size, self.cut = [joined], len(joined), True

    def text(self) -> str:
        joined = "".join(self.parts)
        if len(joined) > self.limit:
            self.cut = True
            joined = joined[-self.limit:]
        return joined


@dataclass
class Execution:
    """What one execution produced, already bounded."""

    stdout: str = ""
    result: str | None = None  # execute_result text/plain: shown as a notebook shows the last line
    images: list[bytes] = field(default_factory=list)
    images_dropped: list[str] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    flooded: bool = False
    truncated: bool = False
    reset: bool = False  # the kernel was restarted: its state is gone

    @property
    def logs(self) -> str:
        parts = [self.stdout.rstrip("\n")] if self.stdout else []
        if self.result is not None:
            parts.append(self.result)
        if self.error:
            parts.append(self.error)
        if self.truncated:
            parts.insert(0, "[output truncated: only its end is kept]")
        if self.images_dropped:
            parts.append(f"[images not kept: {'; '.join(self.images_dropped)}]")
        if self.flooded:
            parts.append("[execution interrupted: it printed too much]")
        if self.timed_out:
            parts.append("[execution interrupted: it ran past the time limit]")
        if self.reset:
            parts.append("[the kernel was restarted: variables and imports from earlier code are gone]")
        return "\n".join(parts)


class ExecutionOutput:
    """Accumulates one execution's messages within the caps."""

    def __init__(self, stream_chars: int = STREAM_CHARS):
        self.out = _Tail(stream_chars)
        self.result = Execution()
        self.received = 0  # bytes of every message seen during the execution
        self._image_bytes = 0
        self._dropped: dict[str, int] = {}

    @property
    def printed(self) -> int:
        return self.out.total

    def add(self, msg: Message) -> bool:
        """Take one message of this execution; True once the kernel says it is idle."""
        kind, content = msg.kind, msg.content
        if kind == "stream":
            text = content.get("text")
            if isinstance(text, str):
                self.out.add(clean(text))
        elif kind in ("execute_result", "display_data"):
            data = content.get("data")
            if not isinstance(data, dict):
                return False
            if "image/png" in data:
                self._image(data["image/png"])
            elif isinstance(data.get("text/plain"), str):
                text = clean(data["text/plain"])
                if kind == "execute_result":
                    self.result.result = clip(text, RESULT_CHARS)
                else:
                    self.out.add(text + "\n")
        elif kind == "error":
            trace = content.get("traceback")
            lines = [line for line in trace if isinstance(line, str)] if isinstance(trace, list) else []
            text = _ANSI.sub("", "\n".join(lines))
            if not text:
                ename, evalue = content.get("ename"), content.get("evalue")
                text = f"{ename if isinstance(ename, str) else 'Error'}: {evalue if isinstance(evalue, str) else ''}"
            self.result.error = clip(clean(text), ERROR_CHARS)
        elif kind == "status":
            return content.get("execution_state") == "idle"
        return False

    def _image(self, encoded) -> None:
        if not isinstance(encoded, str):
            return self._drop("not an image")
        encoded = "".join(encoded.split())
        if len(encoded) > (MAX_IMAGE_BYTES // 3 + 1) * 4:
            return self._drop(f"larger than {MAX_IMAGE_BYTES >> 20} MiB")
        try:
            png = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return self._drop("not valid base64")
        if not png.startswith(_PNG):
            return self._drop("not a PNG")
        if len(png) > MAX_IMAGE_BYTES:
            return self._drop(f"larger than {MAX_IMAGE_BYTES >> 20} MiB")
        if len(self.result.images) >= MAX_IMAGES:
            return self._drop(f"over {MAX_IMAGES} per execution")
        if self._image_bytes + len(png) > MAX_IMAGES_BYTES:
            return self._drop(f"over {MAX_IMAGES_BYTES >> 20} MiB per execution")
        self._image_bytes += len(png)
        self.result.images.append(png)

    def _drop(self, why: str) -> None:
        self._dropped[why] = self._dropped.get(why, 0) + 1

    def finish(self) -> Execution:
        result = self.result
        result.stdout = self.out.text()
        result.truncated = self.out.cut
        result.images_dropped = [f"{n} {why}" for why, n in self._dropped.items()]
        if result.error and (result.timed_out or result.flooded):
            lines = result.error.splitlines()
            result.error = lines[-1] if lines else result.error
        return result
