"""The Math Tutor demo: OpenAI's Assistants quickstart, verbatim, against the
embedded server and the default local model.  Only the client construction differs.

Run it with ``make run-local`` (or ``python -m local_assistants.demo``, or
``local-assistants demo``, which passes on its settings).
"""

from __future__ import annotations

import sys
import warnings


def main(settings=None) -> int:
    """Run the demo on ``settings`` (a ``Settings``; None: from the environment); 0 when
    both runs ended and the forced one ran code in the sandbox."""
    # The SDK marks every Assistants method deprecated (in favour of the Responses API).
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from local_assistants import LocalAssistants

    with LocalAssistants(settings) as la:
        client = la.client  # the only line that differs from the quickstart: no cloud

        # ---- OpenAI's Assistants quickstart, unchanged from here on ----------------
        assistant = client.beta.assistants.create(
          name="Math Tutor",
          instructions="You are a personal math tutor. Write and run code to answer math questions.",
          tools=[{"type": "code_interpreter"}],
          model="gpt-4o",
        )

        thread = client.beta.threads.create()

        message = client.beta.threads.messages.create(
          thread_id=thread.id,
          role="user",
          content="I need to solve the equation `3x + 11 = 14`. Can you help me?"
        )

        from typing_extensions import override
        from openai import AssistantEventHandler

        # First, we create a EventHandler class to define
        # how we want to handle the events in the response stream.

        class EventHandler(AssistantEventHandler):
          @override
          def on_text_created(self, text) -> None:
            print(f"\nassistant > ", end="", flush=True)

          @override
          def on_text_delta(self, delta, snapshot):
            print(delta.value, end="", flush=True)

          def on_tool_call_created(self, tool_call):
            print(f"\nassistant > {tool_call.type}\n", flush=True)

          def on_tool_call_delta(self, delta, snapshot):
            if delta.type == 'code_interpreter':
              if delta.code_interpreter.input:
                print(delta.code_interpreter.input, end="", flush=True)
              if delta.code_interpreter.outputs:
                print(f"\n\noutput >", flush=True)
                for output in delta.code_interpreter.outputs:
                  if output.type == "logs":
                    print(f"\n{output.logs}", flush=True)

        # Then, we use the `stream` SDK helper
        # with the `EventHandler` class to create the Run
        # and stream the response.

        with client.beta.threads.runs.stream(
          thread_id=thread.id,
          assistant_id=assistant.id,
          instructions="Please address the user as Jane Doe. The user has a premium account.",
          event_handler=EventHandler(),
        ) as stream:
          stream.until_done()

        run = client.beta.threads.runs.create_and_poll(
          thread_id=thread.id,
          assistant_id=assistant.id,
          instructions="Please address the user as Jane Doe. The user has a premium account."
        )

        if run.status == 'completed':
          messages = client.beta.threads.messages.list(
            thread_id=thread.id
          )
          print(messages)
        else:
          print(run.status)
        # ---- end of the quickstart -------------------------------------------------

        # A second turn that forces the code interpreter, so the sandboxed kernel is
        # always shown (the model decides for itself whether the first question needs code).
        print("\n\n--- second turn: tool_choice forces the code interpreter ---")
        client.beta.threads.messages.create(
            thread_id=thread.id, role="user",
            content="Check the answer: compute 3 * 1 + 11 in Python.")
        with client.beta.threads.runs.stream(
            thread_id=thread.id,
            assistant_id=assistant.id,
            tool_choice={"type": "code_interpreter"},
            event_handler=EventHandler(),
        ) as stream:
            stream.until_done()
        forced = stream.get_final_run()
        steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=forced.id).data
        ran_code = any(s.type == "tool_calls" and any(c.type == "code_interpreter" for c in s.step_details.tool_calls)
                       for s in steps)
    print(f"\n\ndemo finished: quickstart run {run.status}; forced-code run {forced.status}, "
          f"code {'ran in the sandbox' if ran_code else 'did not run'}")
    if forced.last_error:
        print("error:", forced.last_error.message)
    ok = run.status in ("completed", "incomplete") and forced.status in ("completed", "incomplete") and ran_code
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
