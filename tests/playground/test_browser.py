"""The playground driven in a real headless Chromium (Debian's chromium and chromedriver,
found on PATH; `make browser-tools` installs them), through Selenium, against a real server.

The server's model is the real test model wrapped so that chosen turns say scripted text,
a few characters at a time with a pause between them: the code is run by the real sandboxed
kernel, documents are embedded and searched for real, and the text streams slowly enough
to be seen arriving, and to be stopped.

Every test fails if the page logged a JavaScript error. Screenshots of the main views are
written into each test's temporary folder; with PLAYGROUND_SCREENSHOTS=<folder> (`make
screenshots` uses docs/playground) they are written there too.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import Scripted, make_settings, say, serve_scripted
from local_assistants import LocalAssistants

# `make test` (and so CI) installs selenium and the browser: there a missing one is a failure,
# never a silent skip; elsewhere (a bare pytest run) these tests are skipped.
IN_CI = bool(os.environ.get("CI"))
webdriver = pytest.importorskip("selenium.webdriver") if not IN_CI else __import__("selenium.webdriver").webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
if IN_CI:
    assert CHROMIUM and CHROMEDRIVER, "the playground's browser tests need chromium and chromedriver (`make browser-tools`)"
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs chromium and chromedriver on PATH (`make browser-tools`)")
WAIT_S = float(os.environ.get("PLAYGROUND_WAIT_S", 120))  # two cores, shared with the model and the kernels
FACT = "The launch code of the Otter project is PURPLE-OTTER-42, chosen by Ada in 1843."


class Paced(Scripted):
    """Scripted turns, said a piece at a time with ``delay`` seconds between pieces."""

    delay = 0.0

    def generate(self, prompt_tokens, **kwargs):
        from local_assistants.adapters.llama import Generation

        scripted = bool(self.script)
        gen = super().generate(prompt_tokens, **kwargs)
        if not scripted or not self.delay:
            return gen
        from local_assistants.ports import Completion

        pieces, delay, should_stop = list(gen), self.delay, kwargs.get("should_stop")
        out = Generation(iter(()))

        def paced():  # stops when the run is cancelled, as the real model does
            said = []
            for piece in pieces:
                if should_stop is not None and should_stop():
                    out.completion = Completion("".join(said), len(prompt_tokens), len(said), "cancelled")
                    return
                time.sleep(delay)
                said.append(piece)
                yield piece
            out.completion = gen.completion

        out._pieces = paced()
        return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_scripted(tmp_path_factory.mktemp("playground"), wrap=Paced) as la:
        yield la


def _chrome():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,900", "--no-first-run", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def chrome():
    driver = _chrome()
    yield driver
    driver.quit()


def js_errors(driver) -> list[str]:
    """What the page logged as errors, network refusals aside (a 404 the page then explains
    is the API working, not the page failing)."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and e.get("source") != "network"]


@pytest.fixture
def page(chrome, server, tmp_path):
    chrome.get_log("browser")  # drop what earlier tests left
    chrome.get(server.base_url.removesuffix("/v1") + "/")
    chrome.execute_script("localStorage.clear(); sessionStorage.clear();")
    chrome.get(server.base_url.removesuffix("/v1") + "/")
    p = Page(chrome, tmp_path)
    p.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    yield p
    server.scripted.delay = 0.0
    server.scripted.script.clear()
    errors = js_errors(chrome)
    assert not errors, f"the page logged JavaScript errors: {errors}"


class Page:
    def __init__(self, driver, tmp_path: Path):
        self.d = driver
        self.tmp_path = tmp_path

    def wait(self, condition, timeout=WAIT_S):
        def safe(d):
            try:
                return condition(d)
            except StaleElementReferenceException:
                return False
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(safe)
        except TimeoutException:
            self.d.save_screenshot(str(self.tmp_path / "timeout.png"))
            raise AssertionError(f"not reached in {timeout} s; error banner: {self.error_banner()!r}; "
                                 f"browser log: {self.d.get_log('browser')}; screenshot: "
                                 f"{self.tmp_path / 'timeout.png'}") from None

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    # Read in the page, in one step: the page re-renders what streams in, so an element found
    # in one call may be gone by the next.
    def text(self, css) -> str:
        return self.d.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css)

    def texts(self, css) -> list[str]:
        return self.d.execute_script("return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText);", css)

    def wait_text(self, css, fragment, timeout=WAIT_S):
        return self.wait(lambda d: any(fragment in t for t in self.texts(css)), timeout)

    def click(self, css):
        for _ in range(20):  # found, then replaced by a re-render before the click: find it again
            try:
                return self.find(css).click()
            except StaleElementReferenceException:
                time.sleep(0.05)
        raise AssertionError(f"{css} kept being replaced")

    def type(self, css, text, clear=True):
        field = self.find(css)
        if clear:
            field.clear()
        field.send_keys(text)

    def set_value(self, css, value):
        """A textarea's whole value at once (send_keys would type a JSON text key by key)."""
        self.d.execute_script("arguments[0].value = arguments[1];", self.find(css), value)

    def tab(self, name):
        self.click(f'nav [data-view="{name}"]')

    def error_banner(self) -> str:
        return "" if not self.find("#error").is_displayed() else self.text("#error-text")

    def screenshot(self, name):
        self.d.save_screenshot(str(self.tmp_path / f"{name}.png"))
        keep = os.environ.get("PLAYGROUND_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            self.d.save_screenshot(str(Path(keep) / f"{name}.png"))

    def create_assistant(self, name, *, code=False, function=None):
        self.new_assistant()
        self.type("#a-name", name)
        self.type("#a-instructions", "You are a personal math tutor. Write and run code to answer math questions.")
        if code:
            self.click("#a-code")
        if function is not None:
            self.click("#a-add-function")
            self.set_value("#a-functions .function-editor:last-child .function-json", function)
        self.click("#assistant-save")
        self.wait_text("#assistant-form-error", "Saved asst_")
        self.click("#assistant-chat")
        self.wait(lambda d: self.find("#view-chat").is_displayed())

    def new_assistant(self):
        self.tab("assistants")
        self.wait(lambda d: self.find("#assistant-form").get_attribute("data-loaded"))
        self.click("#assistant-new")
        self.wait(lambda d: self.find("#assistant-form").get_attribute("data-loaded") == "new")

    def send(self, text):
        self.type("#prompt", text)
        self.click("#send")

    def status(self) -> str:
        return self.text("#run-status")


def test_code_interpreter_run_streams_and_the_inspector_shows_code_and_output(page, server):
    page.create_assistant("Math Tutor", code=True)
    answer = "I ran `print(149 * 84)` in Python: $149 \\times 84 = 12516$, so the answer is **12516**."
    server.scripted.delay = 0.12
    say(server, "```python\nprint(149 * 84)\n```", answer)
    page.send("What is 149 * 84? Use code.")

    # Text arrives while the run is still going: some of the answer, not all, before completed.
    def partial(d):
        text, status = page.text(".message.assistant .markdown"), page.status()
        return (text, status) if text else None

    text, status = page.wait(partial)
    assert status == "in_progress" and "the answer is 12516" not in text, (text, status)
    page.wait(lambda d: page.status() == "completed")
    page.wait_text(".message.assistant .markdown", "the answer is 12516")
    # LaTeX kept readable, Markdown rendered.
    assert page.text(".message.assistant .math") == "$149 \\times 84 = 12516$"
    assert page.text(".message.assistant strong") == "12516"
    # Usage, time to first token and tokens/s.
    assert "completion tokens" in page.text("#run-usage")
    assert page.text("#run-ttft").startswith("first token") and page.text("#run-rate").endswith("tokens/s")

    page.click(".message.assistant .message-head button.small")  # "run steps"
    page.wait_text(".step-code", "print(149 * 84)")
    page.wait_text(".step-logs", "12516")
    page.wait(lambda d: page.text(".step .status") == "completed")
    page.screenshot("chat-code-interpreter")

    page.click("#raw-toggle")
    events = page.text("#raw-events")
    assert events.index("event: thread.run.created") < events.index("event: thread.message.delta") \
        < events.index("event: thread.run.completed") < events.index("event: done")
    page.screenshot("raw-events")
    page.click(".step .json")
    obj = json.loads(page.text("#raw-object"))
    assert obj["object"] == "thread.run.step"
    page.click("#raw-close")

    # The thread is remembered (first message, date) and opens again from the list.
    page.click("#new-thread")
    assert page.all(".message") == []
    page.wait_text("#thread-list li .title", "What is 149 * 84? Use code.")
    page.click("#thread-list li")
    page.wait_text(".message.assistant .markdown", "the answer is 12516")
    page.wait_text(".step-logs", "12516")
    assert not page.error_banner()


def test_documents_upload_into_a_vector_store_complete_and_are_searched(page, server, tmp_path):
    otter = tmp_path / "otter.md"
    otter.write_text("# Otter project\n\n" + FACT + "\n")
    weather = tmp_path / "weather.txt"
    weather.write_text("It rained in Paris all week long.")

    page.tab("stores")
    page.type("#vs-name", "docs")
    page.click("#vs-create button")
    page.wait(lambda d: page.find("#vs-detail").is_displayed())
    page.d.execute_script("arguments[0].style.display = 'block';", page.find("#vs-file-input"))
    page.find("#vs-file-input").send_keys(f"{otter}\n{weather}")  # several at once
    page.d.execute_script("arguments[0].style.display = '';", page.find("#vs-file-input"))
    page.wait(lambda d: len(page.all("#vs-upload-progress li")) == 2)
    page.wait(lambda d: page.texts("#vs-files .status") == ["completed", "completed"])
    assert "2 completed" in page.text("#vs-counts")
    page.wait_text("#vs-list li.selected .meta", "2 files · completed")

    page.type("#vs-query", "Otter launch code")
    page.click("#vs-search button")
    page.wait(lambda d: page.all("#vs-results .result"))
    assert "otter.md" in page.text("#vs-results .result") and "PURPLE-OTTER-42" in page.text("#vs-results .result .chunk")
    score = float(page.text("#vs-results .result .score").split()[-1])
    assert 0 < score <= 1
    page.screenshot("vector-store")
    assert not page.error_banner()


def test_files_dropped_several_at_once_are_uploaded_and_listed(page):
    page.tab("files")
    page.wait(lambda d: page.find("#dropzone").is_displayed())
    page.d.execute_script("""
        const data = new DataTransfer();
        data.items.add(new File(['alpha notes'], 'alpha.txt', {type: 'text/plain'}));
        data.items.add(new File(['beta,1\\n'], 'beta.csv', {type: 'text/csv'}));
        document.querySelector('#dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));
    """)
    page.wait(lambda d: len([t for t in page.texts("#upload-progress .meta") if t.startswith("uploaded file-")]) == 2)
    page.wait_text("#file-list td a", "alpha.txt")
    page.wait_text("#file-list td a", "beta.csv")
    page.screenshot("files")
    assert not page.error_banner()


FUNCTION = json.dumps({
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}, indent=2)


def test_a_function_call_waits_for_the_output_typed_in_the_form(page, server):
    page.create_assistant("Weather", function=FUNCTION)
    say(server, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        "It is sunny in Paris today.")
    page.send("What is the weather in Paris?")
    page.wait(lambda d: page.status() == "requires_action")
    page.wait(lambda d: page.find("#action-form").is_displayed())
    assert "get_weather" in page.text("#action-form") and "Paris" in page.text("#action-form")
    assert '"city": "Paris"' in page.text(".function-args")
    page.type("#action-form textarea.tool-output", '{"sky": "sunny", "celsius": 24}')
    page.screenshot("requires-action")
    page.click("#submit-outputs")
    page.wait(lambda d: page.status() == "completed")
    page.wait_text(".message.assistant .markdown", "It is sunny in Paris today.")
    page.wait_text(".tool-call.function .step-logs", '"celsius": 24')
    assert not page.find("#action-form").is_displayed()
    assert not page.error_banner()


def test_stop_cancels_a_long_run(page, server):
    page.create_assistant("Talker")
    server.scripted.delay = 0.25
    say(server, "Once upon a time " + "there was a very long story that went on and on. " * 30)
    page.send("Tell me a long story.")
    page.wait_text(".message.assistant .markdown", "Once upon")
    page.click("#stop")
    page.wait(lambda d: page.status() == "cancelled", timeout=60)
    page.wait_text(".message.assistant .status", "incomplete")
    assert "went on and on. " * 30 not in page.text(".message.assistant .markdown")
    assert page.find("#send").is_enabled() and not page.find("#stop").is_enabled()
    assert not page.error_banner()


def test_a_bad_json_schema_is_refused_with_a_message(page):
    page.new_assistant()
    page.type("#a-name", "Broken")
    page.click("#a-add-function")
    bad = FUNCTION.replace('"string"', '"strng"')
    page.set_value(".function-json", bad)
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", '"strng" is not a JSON Schema type')
    page.screenshot("bad-schema")
    page.set_value(".function-json", '{"name": "get_weather", "parameters": {')
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", "is not valid JSON")
    page.set_value(".function-json", FUNCTION.replace('"required": [\n      "city"', '"required": [\n      "town"'))
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", "names town, which")
    # Nothing was saved.
    page.click('nav [data-view="chat"]')
    page.wait(lambda d: "Broken" not in page.text("#chat-assistant"))


def test_an_api_error_is_shown_as_the_apis_message(page):
    page.d.execute_script(
        "localStorage.setItem('local-assistants.playground.threads', JSON.stringify([{id: 'thread_gone', title: 'Gone', created_at: 1}]));")
    page.click('nav [data-view="chat"]')
    page.wait_text("#thread-list li .title", "Gone")
    page.click("#thread-list li")
    page.wait(lambda d: page.error_banner())
    assert "thread_gone" in page.error_banner() or "No thread" in page.error_banner()
    page.wait(lambda d: not page.all("#thread-list li"))  # forgotten, since the server has no such thread


def test_with_an_api_key_the_page_asks_for_it_once(chrome, tmp_path):
    with LocalAssistants(make_settings(tmp_path, api_key="sesame")) as la:
        chrome.get_log("browser")
        chrome.get(la.base_url.removesuffix("/v1") + "/")
        chrome.execute_script("sessionStorage.clear();")
        chrome.get(la.base_url.removesuffix("/v1") + "/")
        page = Page(chrome, tmp_path)
        page.wait(lambda d: page.find("#key-dialog").is_displayed())
        page.type("#api-key", "sesame")
        page.click("#key-save")
        page.wait(lambda d: chrome.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        page.wait_text("#chat-assistant", "create one")
        assert chrome.execute_script("return sessionStorage.getItem('local-assistants.playground.api-key')") == "sesame"
        assert chrome.execute_script("return localStorage.getItem('local-assistants.playground.api-key')") is None
        page.tab("files")  # another call: no second question
        page.wait(lambda d: page.find("#dropzone").is_displayed())
        assert not page.find("#key-dialog").is_displayed()
        assert not js_errors(chrome)


def test_file_search_steps_show_results_and_citations_show_the_chunk(page, server, tmp_path):
    from conftest import sdk_client, wait_for

    client = sdk_client(server.base_url)
    doc = client.files.create(file=("otter.md", ("# Otter project\n\n" + FACT + "\n").encode()), purpose="assistants")
    vs = client.vector_stores.create(name="otter docs", file_ids=[doc.id])
    wait_for(lambda: client.vector_stores.retrieve(vs.id).file_counts.completed == 1, timeout=WAIT_S)
    client.close()

    page.new_assistant()
    page.type("#a-name", "Librarian")
    page.type("#a-instructions", "Answer from the files.")
    page.click("#a-search")
    page.find(f'#a-vector-store option[value="{vs.id}"]').click()
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", "Saved asst_")
    page.click("#assistant-chat")
    page.wait(lambda d: page.find("#view-chat").is_displayed())

    say(server, '<tool_call>\n{"name": "file_search", "arguments": {"query": "Otter launch code"}}\n</tool_call>',
        "The launch code is PURPLE-OTTER-42.")
    page.send("What is the Otter launch code?")
    page.wait(lambda d: page.status() == "completed")
    page.wait_text(".search-query", "Otter launch code")
    assert "otter.md" in page.text(".tool-call.file_search .result")
    assert "PURPLE-OTTER-42" in page.text(".tool-call.file_search .result .chunk")
    assert 0 < float(page.text(".tool-call.file_search .result .score").split()[-1]) <= 1

    page.wait(lambda d: page.all(".message.assistant .citation"))
    page.click(".message.assistant .citation")
    page.wait(lambda d: page.find("#citation-pop").is_displayed())
    page.wait_text("#citation-pop", "PURPLE-OTTER-42")
    assert "otter.md" in page.text("#citation-pop")
    page.screenshot("chat-file-search")
    assert not page.error_banner()


def images(page, css) -> list[dict]:
    """The images under ``css``: their file id, address and whether they were decoded."""
    return page.d.execute_script("""
        return [...document.querySelectorAll(arguments[0])].map((i) => ({
            id: i.dataset.fileId, src: i.src, loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth}));
    """, css)


def loaded_image(page, css) -> dict:
    return page.wait(lambda d: next((i for i in images(page, css) if i["loaded"]), None))


def downloaded(page, folder: Path, css, name) -> str:
    """Clicks the link ``css`` and returns the text of the file the browser saved as ``name``."""
    folder.mkdir(exist_ok=True)
    page.d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    page.click(css)
    target = folder / name
    page.wait(lambda d: target.is_file() and not list(folder.glob("*.crdownload")), timeout=30)
    return target.read_text()


PLOT = ("import matplotlib.pyplot as plt\nxs = list(range(11))\nplt.plot(xs, [x * x for x in xs])\n"
        "plt.title('Squares')\nplt.show()\nopen('/mnt/data/out.csv', 'w').write('a,b\\n1,2\\n')")
PLOT_ANSWER = "Here is the plot of the squares. The table is in [out.csv](sandbox:/mnt/data/out.csv)."


def plot_and_table(page, server, downloads: Path):
    """A code interpreter run that draws a plot and writes /mnt/data/out.csv: the image shows
    in the message and in the step, and the answer's file_path link downloads the file."""
    page.create_assistant("Plotter", code=True)
    say(server, f"```python\n{PLOT}\n```", PLOT_ANSWER)
    page.send("Plot the squares of 0 to 10 and save a small table.")
    page.wait(lambda d: page.status() == "completed")
    page.wait_text(".message.assistant .markdown", "Here is the plot of the squares.")

    # The image is fetched (with the key, when there is one) into a blob: URL, and decoded.
    inline = loaded_image(page, ".message.assistant img.inline-image")
    assert inline["src"].startswith("blob:") and inline["id"].startswith("file-") and inline["width"] > 100
    step = loaded_image(page, ".tool-call.code_interpreter img.inline-image")
    assert step["id"] == inline["id"]
    page.wait_text(".tool-call.code_interpreter .step-code", "plt.plot")

    # The annotated sandbox: link is one download link, its label kept, no raw Markdown left.
    page.wait(lambda d: page.all(".message.assistant a.file-link"))
    assert page.texts(".message.assistant a.file-link") == ["⤓ out.csv"]
    text = page.text(".message.assistant .markdown")
    assert "sandbox:" not in text and "](" not in text and "The table is in ⤓ out.csv." in text, text
    assert downloaded(page, downloads, ".message.assistant a.file-link", "out.csv") == "a,b\n1,2\n"
    return inline["id"]


def test_a_plot_shows_inline_and_in_the_step_and_a_written_file_downloads(page, server, tmp_path):
    image_id = plot_and_table(page, server, tmp_path / "downloads")
    page.screenshot("chat-image-and-file")

    # Again from the thread list, after a reload (nothing cached in the page).
    page.d.refresh()
    page.wait(lambda d: page.find("body").get_attribute("data-ready") == "1")
    page.click("#thread-list li")
    assert loaded_image(page, ".message.assistant img.inline-image")["id"] == image_id
    assert loaded_image(page, ".tool-call.code_interpreter img.inline-image")["id"] == image_id
    page.wait(lambda d: page.all(".message.assistant a.file-link"))
    (tmp_path / "downloads" / "out.csv").unlink()
    assert downloaded(page, tmp_path / "downloads", ".message.assistant a.file-link", "out.csv") == "a,b\n1,2\n"
    assert not page.error_banner()


def test_with_an_api_key_images_and_downloads_carry_it(chrome, tmp_path):
    """/v1/files/{id}/content needs the key too: an <img src> could not send it."""
    with serve_scripted(tmp_path / "keyed", wrap=Paced, api_key="sesame") as la:
        chrome.get_log("browser")
        home = la.base_url.removesuffix("/v1") + "/"
        chrome.get(home)
        chrome.execute_script("localStorage.clear(); sessionStorage.setItem('local-assistants.playground.api-key', 'sesame');")
        chrome.get(home)
        page = Page(chrome, tmp_path)
        page.wait(lambda d: page.find("body").get_attribute("data-ready") == "1")
        plot_and_table(page, la, tmp_path / "downloads")
        assert not page.find("#key-dialog").is_displayed()  # no request went without the key
        assert not page.error_banner()
        assert not js_errors(chrome)


TABLE_ANSWER = ("Here are the squares:\n\n"
                "| n | n squared | note |\n"
                "|:-:|--:|:--|\n"
                "| 1 | 1 | **odd** |\n"
                "| 2 | 4 | `even` |\n"
                "| 3 | 9 | a \\| b |\n"
                "\nThat is all.")


def test_a_markdown_table_in_an_answer_is_a_table(page, server):
    page.create_assistant("Tabler")
    say(server, TABLE_ANSWER)
    page.send("Make a table of the first three squares.")
    page.wait(lambda d: page.status() == "completed")
    page.wait_text(".message.assistant .markdown", "That is all.")
    table = page.d.execute_script("""
        const t = document.querySelector('.message.assistant table.md-table');
        if (!t) return null;
        const cells = (row) => [...row.children].map((c) => [c.tagName, c.innerHTML, c.style.textAlign]);
        return {head: cells(t.tHead.rows[0]), body: [...t.tBodies[0].rows].map(cells)};
    """)
    assert table is not None, page.text(".message.assistant .markdown")
    assert table["head"] == [["TH", "n", "center"], ["TH", "n squared", "right"], ["TH", "note", "left"]]
    assert [[c[1] for c in row] for row in table["body"]] == [
        ["1", "1", "<strong>odd</strong>"], ["2", "4", "<code>even</code>"], ["3", "9", "a | b"]]
    assert [c[2] for c in table["body"][0]] == ["center", "right", "left"]
    assert page.texts(".message.assistant .markdown p") == ["Here are the squares:", "That is all."]
    page.screenshot("chat-table")

    # What is not a table stays text: no delimiter row, a setext-like rule, a count mismatch.
    render = "return Markdown.render(arguments[0]);"
    for text in ("a | b\nc | d", "Title\n---", "| a |\n|---|---|\n| 1 |"):
        assert "<table" not in page.d.execute_script(render, text), text
    assert "<table" in page.d.execute_script(render, "a | b\n--- | ---\n1 | 2")  # outer pipes optional
    assert not page.error_banner()


ANSWER_SCHEMA = json.dumps({"name": "answer", "schema": {
    "type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
    "required": ["value"]}}, indent=2)


def form_values(page) -> dict:
    """The assistant editor's fields, as shown."""
    return page.d.execute_script("""
        const v = (s) => document.querySelector(s).value;
        return {name: v('#a-name'), instructions: v('#a-instructions'), temperature: v('#a-temperature'),
                code: document.querySelector('#a-code').checked, search: document.querySelector('#a-search').checked,
                format: v('#a-format'), schema: v('#a-format-schema'),
                schema_shown: !document.querySelector('#a-format-schema').hidden,
                files: [...document.querySelectorAll('#a-code-files input:checked')].map((b) => b.value),
                store: v('#a-vector-store')};
    """)


def accept_confirm(page):
    page.wait(lambda d: _alert(d), timeout=10).accept()


def _alert(driver):
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def test_an_assistant_is_edited_and_the_change_stays_after_a_reload_then_deleted(page, server):
    from selenium.webdriver.support.ui import Select

    from conftest import sdk_client

    client = sdk_client(server.base_url)
    prices = client.files.create(file=("prices.csv", b"item,price\ntea,3\n"), purpose="assistants")
    store = client.vector_stores.create(name="edit docs")

    page.new_assistant()
    page.type("#a-name", "Draft")
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", "Saved asst_")
    assistant_id = page.find("#assistant-form").get_attribute("data-loaded")
    assert assistant_id.startswith("asst_")

    # Edit every field of the saved one.
    page.type("#a-name", "Statistician")
    page.type("#a-instructions", "Answer with a number and its unit.")
    page.type("#a-temperature", "0.3")
    page.click("#a-code")
    page.click("#a-search")
    Select(page.find("#a-format")).select_by_value("json_schema")
    page.wait(lambda d: page.find("#a-format-schema").is_displayed())
    page.set_value("#a-format-schema", ANSWER_SCHEMA)
    page.click(f'#a-code-files input[value="{prices.id}"]')
    Select(page.find("#a-vector-store")).select_by_value(store.id)
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", f"Saved {assistant_id}")
    page.wait_text(f'#assistant-list li[data-id="{assistant_id}"] .title', "Statistician")

    a = client.beta.assistants.retrieve(assistant_id)  # saved through POST /v1/assistants/{id}
    assert (a.name, a.instructions, a.temperature) == ("Statistician", "Answer with a number and its unit.", 0.3)
    assert sorted(t.type for t in a.tools) == ["code_interpreter", "file_search"]
    assert a.response_format.type == "json_schema" and a.response_format.json_schema.name == "answer"
    assert a.response_format.json_schema.schema_["required"] == ["value"]
    assert a.tool_resources.code_interpreter.file_ids == [prices.id]
    assert a.tool_resources.file_search.vector_store_ids == [store.id]

    # After a reload, the form shows what was saved.
    page.d.refresh()
    page.wait(lambda d: page.find("body").get_attribute("data-ready") == "1")
    page.tab("assistants")
    page.wait(lambda d: page.all(f'#assistant-list li[data-id="{assistant_id}"]'))  # the list loads after the tab shows
    page.click(f'#assistant-list li[data-id="{assistant_id}"]')
    page.wait(lambda d: page.find("#assistant-form").get_attribute("data-loaded") == assistant_id)
    shown = form_values(page)
    assert json.loads(shown.pop("schema"))["schema"] == json.loads(ANSWER_SCHEMA)["schema"]
    assert shown == {"name": "Statistician", "instructions": "Answer with a number and its unit.", "temperature": "0.3",
                     "code": True, "search": True, "format": "json_schema", "schema_shown": True,
                     "files": [prices.id], "store": store.id}
    assert "Edit Statistician" == page.text("#assistant-form-title")
    page.screenshot("assistant-editor")

    # Saved again as loaded (the schema as the API returned it), then less: no file search.
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", f"Saved {assistant_id}")
    page.click("#a-search")
    Select(page.find("#a-vector-store")).select_by_value("")
    Select(page.find("#a-format")).select_by_value("auto")
    page.click("#assistant-save")
    page.wait_text("#assistant-form-error", f"Saved {assistant_id}")
    a = client.beta.assistants.retrieve(assistant_id)
    assert [t.type for t in a.tools] == ["code_interpreter"] and a.response_format == "auto"
    assert a.tool_resources.file_search is None or not a.tool_resources.file_search.vector_store_ids

    # Delete: asked first, then gone from the list, the API and the chat's choices.
    page.click("#assistant-delete")
    accept_confirm(page)
    page.wait(lambda d: not page.all(f'#assistant-list li[data-id="{assistant_id}"]'))
    page.wait(lambda d: page.find("#assistant-form").get_attribute("data-loaded") == "new")
    import openai

    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(assistant_id)
    page.tab("chat")
    page.wait(lambda d: page.all("#chat-assistant option"))
    assert not page.all(f'#chat-assistant option[value="{assistant_id}"]')
    client.close()
    assert not page.error_banner()


def ids_in(page, css) -> list[str]:
    return page.d.execute_script("return [...document.querySelectorAll(arguments[0])].map((e) => e.dataset.id);", css)


def page_through(page, items, more, expected):
    """A list of more than a page: 20 first, "More" (the API's after cursor) until all are there."""
    page.wait(lambda d: len(ids_in(page, items)) == 20 and page.find(more).is_displayed())
    assert ids_in(page, items) == expected[:20]
    while page.find(more).is_displayed():
        shown = len(ids_in(page, items))
        page.click(more)
        page.wait(lambda d: len(ids_in(page, items)) > shown)
    assert ids_in(page, items) == expected  # in order, none twice, none missed


def test_long_lists_show_more_and_a_long_thread_loads_earlier_messages(page, server):
    from conftest import sdk_client

    client = sdk_client(server.base_url)
    model = server.settings.default_model
    for i in range(25):
        client.beta.assistants.create(model=model, name=f"Bulk {i:02d}")
        client.files.create(file=(f"bulk-{i:02d}.txt", f"note {i}".encode()), purpose="assistants")
        client.vector_stores.create(name=f"bulk store {i:02d}")
    every = lambda listing: [o.id for o in listing(order="desc", limit=100)]  # every page, by the SDK  # noqa: E731

    page.tab("assistants")
    page_through(page, "#assistant-list li", "#assistants-more", every(client.beta.assistants.list))
    page.tab("files")
    page_through(page, "#file-list tr", "#files-more", every(client.files.list))
    page.tab("stores")
    page_through(page, "#vs-list li", "#vs-more", every(client.vector_stores.list))

    thread = client.beta.threads.create()
    for i in range(1, 26):
        client.beta.threads.messages.create(thread.id, role="user", content=f"Message {i:02d}")
    page.d.execute_script("localStorage.setItem('local-assistants.playground.threads', JSON.stringify([arguments[0]]));",
                          {"id": thread.id, "title": "A long thread", "created_at": thread.created_at})
    page.tab("chat")
    page.wait(lambda d: page.all(f'#thread-list li[data-id="{thread.id}"]'))
    page.click(f'#thread-list li[data-id="{thread.id}"]')
    page.wait(lambda d: len(page.all(".message")) == 20)
    assert page.texts(".message .markdown") == [f"Message {i:02d}" for i in range(6, 26)]  # the latest, oldest first
    assert page.find("#older-messages").is_displayed()
    # Read up to the oldest shown, then load earlier ones: they go above, the view stays put.
    where = """const box = document.querySelector('#messages');
               const m = [...box.querySelectorAll('.message')].find((e) => e.innerText.includes('Message 06'));
               return m.getBoundingClientRect().top - box.getBoundingClientRect().top;"""
    page.d.execute_script("document.querySelector('#messages').scrollTop = 0;")
    before = page.d.execute_script(where)
    page.click("#older-messages")
    page.wait(lambda d: len(page.all(".message")) == 25)
    assert page.texts(".message .markdown") == [f"Message {i:02d}" for i in range(1, 26)]
    assert abs(page.d.execute_script(where) - before) < 2
    assert not page.find("#older-messages").is_displayed()
    client.close()
    assert not page.error_banner()


# ---------------------------------------------------------------- Responses mode

def responses_mode(page):
    from selenium.webdriver.support.ui import Select

    Select(page.find("#chat-api")).select_by_value("responses")
    page.wait(lambda d: page.find("#api-hint").is_displayed())


def conversation_id(page) -> str:
    """The conversation the page remembers (the newest of its threads)."""
    entries = page.d.execute_script("return JSON.parse(localStorage.getItem('local-assistants.playground.threads'))")
    assert entries and entries[0]["api"] == "responses", entries
    return entries[0]["id"]


def test_responses_mode_streams_the_answer_and_the_inspector_shows_the_output_items(page, server):
    from conftest import sdk_client

    page.create_assistant("Responder")
    responses_mode(page)
    answer = "The capital of France is **Paris**, a city on the Seine with about two million people."
    server.scripted.delay = 0.12
    say(server, answer)
    page.send("What is the capital of France?")

    # The text streams in: some of it shows while the response is still in progress.
    def partial(d):
        text, status = page.text(".message.assistant .markdown"), page.status()
        return (text, status) if text else None

    text, status = page.wait(partial)
    assert status == "in_progress" and "two million people" not in text, (text, status)
    page.wait(lambda d: page.status() == "completed")
    page.wait_text(".message.assistant .markdown", "two million people")
    assert page.text(".message.assistant strong") == "Paris"  # Markdown rendered, as in Assistants mode
    assert page.text("#inspector-title") == "Response items"

    # The inspector lists the response's output items, as the API returns them.
    response_id = page.text("#run-summary code")
    assert response_id.startswith("resp_")
    client = sdk_client(server.base_url)
    response = client.responses.retrieve(response_id)
    assert response.status == "completed"
    page.wait(lambda d: page.all('#steps .item[data-type="message"]'))
    shown = page.d.execute_script("""return [...document.querySelectorAll('#steps .item')].map((c) => ({
        type: c.dataset.type, id: c.dataset.id, status: c.querySelector('.status') && c.querySelector('.status').innerText,
        texts: [...c.querySelectorAll('.item-text')].map((t) => t.textContent)}));""")
    assert [(s["type"], s["id"], s["status"]) for s in shown] == [(o.type, o.id, o.status) for o in response.output]
    message = next(o for o in response.output if o.type == "message")
    assert message.content[0].text == answer
    assert next(s for s in shown if s["type"] == "message")["texts"] == [answer]
    # Usage: input, output and cached tokens.
    usage = page.text("#response-usage")
    assert f"{response.usage.input_tokens} input + {response.usage.output_tokens} output tokens" in usage
    assert f"({response.usage.input_tokens_details.cached_tokens} cached)" in usage
    assert page.text("#run-ttft").startswith("first token") and page.text("#run-rate").endswith("tokens/s")
    page.screenshot("chat-responses")

    # The stream was response.* events, numbered, with no [DONE] line.
    page.click("#raw-toggle")
    events = page.text("#raw-events")
    assert events.index("event: response.created") < events.index("event: response.output_text.delta") \
        < events.index("event: response.completed")
    assert "[DONE]" not in events and "thread.run" not in events and '"sequence_number":0' in events
    page.click("#run-json")
    assert json.loads(page.text("#raw-object"))["id"] == response_id
    page.click("#raw-close")

    # The conversation holds the user's message and the answer; it is a thread of the list too.
    conv = conversation_id(page)
    assert response.conversation.id == conv
    items = client.conversations.items.list(conv, order="asc").data
    assert [(i.type, i.role) for i in items] == [("message", "user"), ("message", "assistant")]
    assert items[0].content[0].text == "What is the capital of France?"
    assert items[1].id == message.id and items[1].content[0].text == answer
    # The user's message shown is the stored one.
    page.wait(lambda d: ids_in(page, ".message.user") == [items[0].id])

    page.click("#new-thread")
    page.wait_text("#thread-list li .meta", "conversation")
    page.click(f'#thread-list li[data-id="{conv}"]')
    page.wait_text(".message.assistant .markdown", "two million people")
    page.wait(lambda d: page.text("#run-summary code") == response_id)
    page.wait(lambda d: page.all('#steps .item[data-type="message"]'))
    client.close()
    assert not page.error_banner()


def test_responses_mode_sends_the_assistants_tools_and_shows_the_code_call(page, server):
    from conftest import sdk_client

    page.create_assistant("Responses Tutor", code=True)
    responses_mode(page)
    say(server, "```python\nprint(149 * 84)\n```", "The answer is 12516.")
    page.send("What is 149 * 84? Use code.")
    page.wait(lambda d: page.status() == "completed")
    page.wait_text(".message.assistant .markdown", "The answer is 12516.")
    page.wait(lambda d: page.all('#steps .item[data-type="code_interpreter_call"]'))
    page.wait_text('#steps .item[data-type="code_interpreter_call"] .step-code', "print(149 * 84)")
    page.wait_text('#steps .item[data-type="code_interpreter_call"] .step-logs', "12516")

    client = sdk_client(server.base_url)
    response = client.responses.retrieve(page.text("#run-summary code"))
    assert [t.type for t in response.tools] == ["code_interpreter"]
    assert response.instructions.startswith("You are a personal math tutor.")
    assert [o.type for o in response.output] == ["code_interpreter_call", "message"]
    assert page.texts("#steps .item .item-type") == ["code_interpreter_call", "message"]
    client.close()
    assert not page.error_banner()


def test_responses_mode_function_call_output_goes_back_as_the_next_input(page, server):
    page.create_assistant("Responses Weather", function=FUNCTION)
    responses_mode(page)
    say(server, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        "It is sunny in Paris today.")
    page.send("What is the weather in Paris?")
    page.wait(lambda d: page.all('#steps .item[data-type="function_call"]'))
    page.wait_text('#steps .item[data-type="function_call"] .function-name', "get_weather")
    assert '"city": "Paris"' in page.text('#steps .item[data-type="function_call"] .function-args')
    page.wait(lambda d: page.find("#action-form").is_displayed())
    page.type("#action-form textarea.tool-output", '{"sky": "sunny", "celsius": 24}')
    page.click("#submit-outputs")
    page.wait_text(".message.assistant .markdown", "It is sunny in Paris today.")
    page.wait(lambda d: page.status() == "completed")
    page.wait(lambda d: page.all('#steps .item[data-type="message"]'))
    assert not page.find("#action-form").is_displayed()
    assert not page.error_banner()
