"""Chat templates as a pure function: built-in formats, Jinja templates, stops, overhead."""

from __future__ import annotations

import jinja2
import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from local_assistants.core.prompt import CHATML, GEMMA, ChatTemplate, content_text

SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)
SMOL_SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Tell me\ntwo lines."},
]


def words(text: str) -> int:
    return len(text.split())


# -- built-in formats --------------------------------------------------------------------


def test_chatml_renders_exactly():
    t = ChatTemplate(builtin=CHATML)
    assert t.render(CONVERSATION) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nTell me\ntwo lines.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert t.render(CONVERSATION, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nTell me\ntwo lines.<|im_end|>\n"
    )
    assert t.render([]) == "<|im_start|>assistant\n"
    assert t.render([], add_generation_prompt=False) == ""


def test_no_template_at_all_means_chatml():
    for t in (ChatTemplate(), ChatTemplate(source=""), ChatTemplate(source=None, bos_token="<s>")):
        assert t.render(CONVERSATION) == ChatTemplate(builtin=CHATML).render(CONVERSATION)
        assert t.stop == ["<|im_end|>"]


def test_builtin_wins_over_a_source():
    t = ChatTemplate(source=SMOLLM2, builtin=GEMMA)
    assert t.render(CONVERSATION) == ChatTemplate(builtin=GEMMA).render(CONVERSATION)
    t = ChatTemplate(source="{{ 'jinja' }}", builtin=CHATML)
    assert t.render(CONVERSATION) == ChatTemplate(builtin=CHATML).render(CONVERSATION)


def test_gemma_renders_exactly_with_system_folded_into_first_user_turn():
    t = ChatTemplate(builtin=GEMMA)
    assert t.render(CONVERSATION) == (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nTell me\ntwo lines.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert t.render(CONVERSATION, add_generation_prompt=False) == (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nTell me\ntwo lines.<end_of_turn>\n"
    )
    assert "system" not in t.render(CONVERSATION)


def test_gemma_without_system():
    t = ChatTemplate(builtin=GEMMA)
    assert t.render(CONVERSATION[1:]) == (
        "<start_of_turn>user\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nTell me\ntwo lines.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_gemma_several_system_messages_and_system_only():
    t = ChatTemplate(builtin=GEMMA)
    msgs = [{"role": "system", "content": "A."}, {"role": "system", "content": "B."},
            {"role": "user", "content": "Q"}]
    assert t.render(msgs) == "<start_of_turn>user\nA.\n\nB.\n\nQ<end_of_turn>\n<start_of_turn>model\n"
    # Only a system text: it becomes the user turn (without the trailing blank line).
    assert t.render([{"role": "system", "content": "Only."}]) == (
        "<start_of_turn>user\nOnly.<end_of_turn>\n<start_of_turn>model\n")
    # The system text is used once: the second user turn is untouched.
    assert t.render(CONVERSATION).count("Be brief.") == 1


def test_builtin_stops():
    assert ChatTemplate(builtin=CHATML).stop == ["<|im_end|>"]
    assert ChatTemplate(builtin=GEMMA).stop == ["<end_of_turn>"]
    # A built-in format ignores the model's eos for stops (its own end-of-turn marks the end).
    assert ChatTemplate(builtin=GEMMA, eos_token="<eos>").stop == ["<end_of_turn>"]


# -- Jinja templates -----------------------------------------------------------------------


def llama_cpp_prompt(source: str, messages, add_generation_prompt=True, bos="", eos="") -> str:
    formatter = Jinja2ChatFormatter(template=source, eos_token=eos, bos_token=bos,
                                    add_generation_prompt=add_generation_prompt)
    return formatter(messages=messages).prompt


@pytest.mark.parametrize("messages", [CONVERSATION, CONVERSATION[1:], CONVERSATION[1:2], []])
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_smollm2_template_matches_llama_cpp(messages, add_generation_prompt):
    t = ChatTemplate(source=SMOLLM2, bos_token="<|im_start|>", eos_token="<|im_end|>")
    ours = t.render(messages, add_generation_prompt=add_generation_prompt)
    assert ours == llama_cpp_prompt(SMOLLM2, messages, add_generation_prompt, "<|im_start|>", "<|im_end|>")


def test_smollm2_template_renders_exactly():
    t = ChatTemplate(source=SMOLLM2, eos_token="<|im_end|>")
    assert t.render(CONVERSATION[1:2]) == (
        SMOL_SYSTEM + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    # With its own system message, the default one is not added.
    assert t.render(CONVERSATION[:2], add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    assert t.stop == ["<|im_end|>"]


# Templates using what real chat templates use: bos/eos, whitespace control, trim_blocks,
# loop controls, namespace(), tojson, strftime_now.
TEMPLATES = {
    "llama3-like": (
        "{{- bos_token }}\n"
        "{%- for message in messages %}\n"
        "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
        "{%- endif %}\n"
    ),
    "blocks": (
        "{% for m in messages %}\n"
        "  {% if m.role == 'system' %}\n"
        "[SYS]{{ m.content }}\n"
        "  {% else %}\n"
        "[{{ m.role | upper }}]{{ m.content }}{{ eos_token }}\n"
        "  {% endif %}\n"
        "{% endfor %}\n"
        "{% if add_generation_prompt %}[ASSISTANT]{% endif %}"
    ),
    "loop-controls": (
        "{%- set ns = namespace(last_user=-1) %}"
        "{%- for m in messages %}{% if m.role == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}{% endfor %}"
        "{%- for m in messages %}"
        "{%- if m.role == 'system' %}{% continue %}{% endif %}"
        "{{- m.role }}: {{ m.content }}{% if loop.index0 == ns.last_user %} <-- last{% endif %}{{ '\\n' }}"
        "{%- if loop.index0 == ns.last_user %}{% break %}{% endif %}"
        "{%- endfor %}"
    ),
    "tojson": (
        "{%- for m in messages %}{{ m | tojson }}\n{{ m.content | tojson(indent=2) }}\n{% endfor %}"
    ),
    "date": "{{ strftime_now('%Y') | length }}|{{ messages | length }}",
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_jinja_templates_match_llama_cpp(name, add_generation_prompt):
    messages = CONVERSATION + [{"role": "assistant", "content": "It's <b>\"bold\"</b> & ünïcode."}]
    source = TEMPLATES[name]
    t = ChatTemplate(source=source, bos_token="<s>", eos_token="</s>")
    ours = t.render(messages, add_generation_prompt=add_generation_prompt)
    assert ours == llama_cpp_prompt(source, messages, add_generation_prompt, "<s>", "</s>")
    assert ours  # something was rendered


def test_loop_controls_render_as_expected():
    out = ChatTemplate(source=TEMPLATES["loop-controls"]).render(CONVERSATION)
    assert out == "user: Hi\nassistant: Hello!\nuser: Tell me\ntwo lines. <-- last\n"


def test_tojson_is_plain_json():
    out = ChatTemplate(source="{{ {'b': 1, 'a': \"it's <x> & é\"} | tojson }}").render([])
    assert out == '{"b": 1, "a": "it\'s <x> & é"}'


def test_template_sees_the_messages_and_tokens():
    source = "{{ bos_token }}{% for m in messages %}{{ m['role'][0] }}{% endfor %}{{ eos_token }}" \
             "{% if add_generation_prompt %}+{% endif %}"
    t = ChatTemplate(source=source, bos_token="<s>", eos_token="</s>")
    assert t.render(CONVERSATION) == "<s>suau</s>+"
    assert t.render(CONVERSATION, add_generation_prompt=False) == "<s>suau</s>"
    assert t.render(iter(CONVERSATION)) == "<s>suau</s>+"  # any sequence or iterable of messages


def test_raise_exception_raises():
    source = ("{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start "
              "with a user message') }}{% endif %}ok")
    t = ChatTemplate(source=source)
    assert t.render([{"role": "user", "content": "x"}]) == "ok"
    with pytest.raises(jinja2.TemplateError, match="Conversation must start with a user message"):
        t.render(CONVERSATION)


def test_template_is_sandboxed():
    t = ChatTemplate(source="{{ messages.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(jinja2.exceptions.SecurityError):
        t.render(CONVERSATION)
    t = ChatTemplate(source="{% set _ = messages.append({'role': 'user', 'content': 'x'}) %}ok")
    with pytest.raises(jinja2.exceptions.SecurityError):
        t.render(CONVERSATION)


def test_jinja_stops():
    assert ChatTemplate(source=SMOLLM2).stop == ["<|im_end|>"]
    assert ChatTemplate(source=SMOLLM2, eos_token="<|im_end|>").stop == ["<|im_end|>"]
    assert ChatTemplate(source=SMOLLM2, eos_token="<|endoftext|>").stop == ["<|im_end|>", "<|endoftext|>"]
    assert ChatTemplate(source=TEMPLATES["llama3-like"], eos_token="<|end_of_text|>").stop == [
        "<|eot_id|>", "<|end_of_text|>"]
    assert ChatTemplate(source="{{ messages }}").stop == []
    assert ChatTemplate(source="{{ messages }}", eos_token="</s>").stop == ["</s>"]
    gemma_like = "{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}"
    assert ChatTemplate(source=gemma_like, eos_token="<eos>").stop == ["<end_of_turn>", "<eos>"]


# -- message overhead -----------------------------------------------------------------------


def test_message_overhead_chatml():
    t = ChatTemplate(builtin=CHATML)
    # One more message costs "<|im_start|>assistant\n" + "x" + "<|im_end|>\n": by characters,
    # everything but the "x".
    assert t.message_overhead(len) == len("<|im_start|>assistant\n<|im_end|>\n")
    # By words, "<|im_start|>assistant" and "x<|im_end|>" are two words, one more than "x".
    assert t.message_overhead(words) == 1


def test_message_overhead_gemma_and_jinja():
    gemma = ChatTemplate(builtin=GEMMA)
    assert gemma.message_overhead(len) == len("<start_of_turn>model\n<end_of_turn>\n")
    spaced = ChatTemplate(source="{% for m in messages %}<turn> {{ m.role }} : {{ m.content }} </turn>\n{% endfor %}")
    assert spaced.message_overhead(words) == 4  # "<turn>", the role, ":" and "</turn>"
    # The default system message SmolLM2 adds is not counted per message.
    smol = ChatTemplate(source=SMOLLM2)
    assert smol.message_overhead(len) == len("<|im_start|>assistant\n<|im_end|>\n")


def test_message_overhead_is_at_least_one():
    assert ChatTemplate(source="{% for m in messages %}{{ m.content }}{% endfor %}").message_overhead(words) == 1
    assert ChatTemplate(source="{% for m in messages %}{{ m.content }}{% endfor %}").message_overhead(len) == 1


# -- content parts ---------------------------------------------------------------------------


def test_content_text_of_parts():
    content = [
        {"type": "text", "text": {"value": "Look at this:", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": "file-abc", "detail": "auto"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
        {"type": "text", "text": {"value": "and this.", "annotations": []}},
    ]
    assert content_text(content) == (
        "Look at this:\n[image file file-abc]\n[image https://example.com/a.png]\nand this.")


def test_content_text_edge_cases():
    assert content_text([]) == ""
    assert content_text([{"type": "text", "text": {"value": "only", "annotations": []}}]) == "only"
    assert content_text([{"type": "text", "text": {"value": "", "annotations": []}}]) == ""
    # Unknown part types are skipped, not rendered as garbage.
    assert content_text([{"type": "refusal", "refusal": "no"},
                         {"type": "text", "text": {"value": "yes", "annotations": []}}]) == "yes"
