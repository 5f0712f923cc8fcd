"""What the engine's logprob and sampling tests share: llama-cpp-python itself on the same
GGUF as the reference, and one greedy generation read whole."""

from __future__ import annotations

from conftest import MODELS_DIR
from local_assistants.adapters.llama import quiet_llama_cpp

GGUF = MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"


def reference_llama(model):
    """llama-cpp-python on the same GGUF and threads, keeping every position's logits."""
    import llama_cpp

    quiet_llama_cpp()
    return llama_cpp.Llama(model_path=str(GGUF), n_ctx=2048, logits_all=True, n_threads=model.n_threads, seed=0,
                           verbose=False)


def prompt_tokens(model, question: str) -> list[int]:
    return model.tokenize_prompt(model.format([{"role": "user", "content": question}]))


def generate(model, tokens, **options):
    """(text, completion) of one generation, greedy unless told otherwise."""
    gen = model.generate(tokens, **{"temperature": 0.0, **options})
    text = "".join(gen)
    return text, gen.completion
