"""Prompt formatting as a pure function: chat messages in, prompt text and stop strings out.

A model's chat template comes from its GGUF metadata (a Jinja template, rendered
here in a sandbox) or, for models that have none, from a built-in turn format.
Tested without a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Built-in turn formats for models whose GGUF carries no chat template.
GEMMA = "gemma"
CHATML = "chatml"

_KNOWN_STOPS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "</s>", "<|endoftext|>")


@dataclass(frozen=True)
class ChatTemplate:
    """How one model wants a conversation laid out."""

    source: str | None = None
    """A Jinja chat template (from the GGUF metadata), or None for a built-in format."""
    builtin: str | None = None
    bos_token: str = ""
    eos_token: str = ""

    @classmethod
    def from_metadata(cls, metadata: dict, *, chat_format: str | None = None, bos_token: str = "",
                      eos_token: str = "") -> "ChatTemplate":
        """A model's template from its GGUF metadata: its own Jinja chat template, or, when
        it has none (or ``chat_format`` names a built-in one), a built-in turn format."""
        source = metadata.get("tokenizer.chat_template")
        builtin = chat_format or (None if source else GEMMA if "gemma" in metadata.get("general.architecture", "")
                                  else CHATML)
        return cls(source=None if builtin else source, builtin=builtin, bos_token=bos_token, eos_token=eos_token)

    @property
    def declares_tools(self) -> bool:
        """The template itself declares tools and lays out tool calls and results in the
        ``<tool_call>`` / ``<tool_response>`` syntax the decoding grammar speaks (Qwen2.5's
        ``tools`` variable, assistant ``tool_calls``, ``tool`` role): the model is then
        prompted in its own protocol rather than the generic fallback."""
        return bool(self.source) and self.builtin is None and all(
            marker in self.source for marker in ("tools", "<tool_call>", "<tool_response>"))

    def render(self, messages: Sequence[dict], add_generation_prompt: bool = True,
               tools: Sequence[dict] | None = None) -> str:
        """``tools``: OpenAI-style ``{"type": "function", "function": {...}}`` declarations,
        given to templates that declare tools themselves (ignored by the others)."""
        if self.builtin == GEMMA:
            return _render_gemma(messages, add_generation_prompt)
        if self.builtin == CHATML or not self.source:
            return _render_chatml(messages, add_generation_prompt)
        return _compiled(self.source).render(
            messages=list(messages),
            tools=list(tools) if tools else None,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            raise_exception=_raise,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
        )

    @property
    def stop(self) -> list[str]:
        if self.builtin == GEMMA:
            return ["<end_of_turn>"]
        if self.builtin == CHATML or not self.source:
            return ["<|im_end|>"]
        stops = [s for s in _KNOWN_STOPS if s in self.source]
        if self.eos_token and self.eos_token not in stops:
            stops.append(self.eos_token)
        return stops

    def message_overhead(self, count) -> int:
        """Tokens a message costs beyond its text, measured once on this template."""
        one = self.render([{"role": "user", "content": "x"}], add_generation_prompt=False)
        two = self.render([{"role": "user", "content": "x"}, {"role": "assistant", "content": "x"}],
                          add_generation_prompt=False)
        return max(1, count(two) - count(one) - count("x"))


def _raise(message: str):
    raise jinja2.TemplateError(message)


_CACHE: dict[str, jinja2.Template] = {}


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    # As Transformers (and llama-cpp-python) render chat templates: plain json.dumps, not
    # Jinja's HTML-safe, key-sorting default.
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _compiled(source: str) -> jinja2.Template:
    template = _CACHE.get(source)
    if template is None:
        # Chat templates may use {% break %} / {% continue %}, enabled by Transformers.
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=["jinja2.ext.loopcontrols"])
        env.filters["tojson"] = _tojson
        template = _CACHE[source] = env.from_string(source)
    return template


def _render_chatml(messages: Sequence[dict], add_generation_prompt: bool) -> str:
    out = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return out + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def _render_gemma(messages: Sequence[dict], add_generation_prompt: bool) -> str:
    # Gemma has no system role: the system text opens the first user turn.
    out, system = [], ""
    for m in messages:
        if m["role"] == "system":
            system += m["content"] + "\n\n"
            continue
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"]
        if role == "user" and system:
            content, system = system + content, ""
        out.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    if system:  # only a system text: give it as a user turn
        out.append(f"<start_of_turn>user\n{system.strip()}<end_of_turn>\n")
    return "".join(out) + ("<start_of_turn>model\n" if add_generation_prompt else "")


def content_text(content: list[dict]) -> str:
    """A stored message's content parts as the plain text a text-only model reads."""
    pieces = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            pieces.append(part["text"]["value"])
        elif kind == "image_file":
            pieces.append(f"[image file {part['image_file']['file_id']}]")
        elif kind == "image_url":
            pieces.append(f"[image {part['image_url']['url']}]")
    return "\n".join(pieces)
