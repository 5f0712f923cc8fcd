"""Files to text, for file search: chosen by the file name's extension, as OpenAI does.

Plain text, Markdown, JSON, CSV and source code are read as text (UTF-8, UTF-16 with a
byte-order mark, else Latin-1; a NUL byte means it is not text); HTML loses its tags,
scripts and styles; PDF goes through pypdf; DOCX is read as a stream of its
``word/document.xml`` (paragraphs and table rows in document order).  Any other
extension is ``unsupported_file``; a file that does not parse as what its name says, or
holds no text, is ``invalid_file`` (``DocumentError`` carries the code).

Uploaded files are an attacker's: every parser is bounded (``ParseLimits``) by the text
it may produce, the bytes it may decompress from one file, and the ratio of those to the
compressed bytes, so that a 3 MB zip bomb is refused after reading a bounded amount
instead of growing the server by gigabytes.
"""

from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..ports import DocumentError

TEXT_EXTENSIONS = frozenset({
    ".txt", ".text", ".md", ".markdown", ".rst", ".json", ".jsonl", ".csv", ".tsv", ".log", ".xml",
    ".yaml", ".yml", ".toml", ".ini", ".cfg", ".tex",
    # source code
    ".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".java", ".kt", ".scala", ".c", ".h", ".cc",
    ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".go", ".rs", ".rb", ".php", ".pl", ".swift", ".m", ".r",
    ".lua", ".sh", ".bash", ".zsh", ".sql", ".css", ".scss", ".less", ".vue", ".svelte", ".dart",
    ".hs", ".ml", ".ex", ".exs", ".erl", ".clj", ".jl", ".f90", ".bat", ".ps1",
})
HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS | HTML_EXTENSIONS | {".pdf", ".docx"}
MiB = 1 << 20


@dataclass(frozen=True)
class ParseLimits:
    """How much one file may cost to parse (settings ``max_file_text_chars``,
    ``max_extracted_bytes``, ``max_compression_ratio``)."""

    max_text_chars: int = 20_000_000
    """Text one file may yield: about OpenAI's 5M tokens a file."""
    max_extracted_bytes: int = 128 * MiB
    """Bytes a parser may decompress from one file (a DOCX's XML, a PDF's page streams)."""
    max_ratio: int = 100
    """Decompressed bytes per compressed byte, beyond the first MiB (real DOCX XML: 5-30)."""
    max_zip_members: int = 10_000

    def budget(self, compressed: int) -> int:
        """Bytes that may be decompressed out of ``compressed`` bytes."""
        return min(self.max_extracted_bytes, MiB + self.max_ratio * compressed)


DEFAULT_LIMITS = ParseLimits()


def parse_file(path: str | Path, filename: str, limits: ParseLimits = DEFAULT_LIMITS) -> str:
    """The text of the file at ``path`` whose name is ``filename`` (its extension decides how)."""
    ext = Path(filename).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = ext or "(none)"
        raise DocumentError("unsupported_file",
                            f"Files with extension [{shown}] are not supported for file search. Supported "
                            f"extensions: {', '.join(sorted(SUPPORTED_EXTENSIONS))}.")
    path = Path(path)
    if ext == ".pdf":
        text = _pdf(path, limits)
    elif ext == ".docx":
        text = _docx(path, limits)
    elif ext in HTML_EXTENSIONS:
        text = html_to_text(decode_text(_read_text_bytes(path, limits)))
    else:
        text = decode_text(_read_text_bytes(path, limits))
    _check_text_size(len(text), limits)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentError("invalid_file", "The file contains no text that could be indexed.")
    return text


def _too_much_text(limits: ParseLimits) -> DocumentError:
    return DocumentError("invalid_file", f"The file holds more than {limits.max_text_chars:,} characters of text, "
                                         "the most one file may hold for file search.")


def _check_text_size(chars: int, limits: ParseLimits) -> None:
    if chars > limits.max_text_chars:
        raise _too_much_text(limits)


def _read_text_bytes(path: Path, limits: ParseLimits) -> bytes:
    # A character takes at most 4 bytes: a larger file surely holds too much text.
    if path.stat().st_size > 4 * limits.max_text_chars:
        raise _too_much_text(limits)
    return path.read_bytes()


def _too_much_data(what: str, limits: ParseLimits) -> DocumentError:
    return DocumentError(
        "invalid_file", f"The {what} decompresses to more than this server parses from one file "
                        f"({limits.max_extracted_bytes // MiB} MiB, and at most {limits.max_ratio} times its "
                        "compressed size beyond the first MiB): refused as a possible decompression bomb.")


def decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise DocumentError("invalid_file", "The file is not valid UTF-16 text.") from None
    if b"\x00" in data:
        raise DocumentError("invalid_file", "The file is binary, not text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "head"}
    BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer",
             "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "title", "hr", "dd", "dt", "main", "nav"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self._title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_to_text(source: str) -> str:
    parser = _HTMLText()
    try:
        parser.feed(source)
        parser.close()
    except Exception as err:  # html.parser is lenient; anything it still refuses is not HTML
        raise DocumentError("invalid_file", f"The HTML could not be parsed: {err}.") from None
    title = " ".join("".join(parser._title).split())
    body = html.unescape("".join(parser.parts))
    lines = [" ".join(line.split()) for line in body.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return f"{title}\n\n{text}" if title and title not in text[: len(title) + 10] else text


def _pdf(path: Path, limits: ParseLimits) -> str:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError
    from pypdf._configuration import apply_configuration

    budget = limits.budget(path.stat().st_size)
    used = 0
    pages: list[str] = []
    chars = 0
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("invalid_file", "The PDF is encrypted.")
        for page in reader.pages:
            # No stream may decompress past what is left of the file's budget; a page's
            # content, once decoded, stays cached in the reader, so it counts against it.
            with apply_configuration(**{key: max(1, budget - used) for key in _PDF_OUTPUT_LIMITS}):
                contents = page.get_contents()
                used += len(contents.get_data()) if contents is not None else 0
                if used > budget:
                    raise _too_much_data("PDF", limits)
                text = (page.extract_text() or "").strip()
            chars += len(text) + 2
            _check_text_size(chars, limits)
            pages.append(text)
    except DocumentError:
        raise
    except LimitReachedError:
        raise _too_much_data("PDF", limits) from None
    except Exception as err:
        raise DocumentError("invalid_file", f"The PDF could not be read: {type(err).__name__}: {err}") from None
    return "\n\n".join(p for p in pages if p)


_PDF_OUTPUT_LIMITS = ("array_based_stream_maximum_output_length", "jbig2_maximum_output_length",
                      "lzw_maximum_output_length", "run_length_maximum_output_length",
                      "zlib_maximum_output_length", "brotli_maximum_output_length", "image_maximum_buffer_size",
                      "maximum_declared_stream_length")

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
DOCX_BODY = "word/document.xml"


class _BoundedReader:
    """A file object that refuses to yield more than ``limit`` bytes."""

    def __init__(self, raw, limit: int, on_exceeded):
        self.raw = raw
        self.limit = limit
        self.read_so_far = 0
        self.on_exceeded = on_exceeded

    def read(self, n: int = -1) -> bytes:
        n = 1 << 16 if n is None or n < 0 else min(n, 1 << 16)
        data = self.raw.read(n)
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            raise self.on_exceeded()
        return data


def _docx(path: Path, limits: ParseLimits) -> str:
    """The text of a DOCX's body, streamed: memory stays bounded by one run of text, and
    the XML read is bounded by the file's budget (its declared size is checked first, and
    the bytes actually inflated are counted, in case it lies)."""
    from lxml import etree

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise DocumentError("invalid_file", f"The DOCX could not be read: {type(err).__name__}: {err}") from None
    with archive:
        if len(archive.infolist()) > limits.max_zip_members:
            raise DocumentError("invalid_file", f"The DOCX holds more than {limits.max_zip_members} parts.")
        try:
            info = archive.getinfo(DOCX_BODY)
        except KeyError:
            raise DocumentError("invalid_file", f"The DOCX could not be read: it has no {DOCX_BODY}.") from None
        budget = limits.budget(info.compress_size)
        if info.file_size > budget:
            raise _too_much_data("DOCX", limits)
        chars = 0

        def count(n: int) -> None:
            nonlocal chars
            chars += n
            _check_text_size(chars, limits)

        try:
            with archive.open(info) as raw:
                source = _BoundedReader(raw, budget, lambda: _too_much_data("DOCX", limits))
                blocks = [b for b in _docx_blocks(etree, source, count) if b.strip()]
        except DocumentError:
            raise
        except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as err:
            raise DocumentError("invalid_file", f"The DOCX could not be read: {type(err).__name__}: {err}") from None
    return "\n".join(blocks)


_P, _R, _T, _TAB, _BR, _CR, _TR, _TC = (_W + t for t in ("p", "r", "t", "tab", "br", "cr", "tr", "tc"))
_SEPARATORS = {_TAB: "\t", _BR: "\n", _CR: "\n"}


def _docx_blocks(etree, source, count):
    """Paragraphs outside tables, and table rows (cells joined by `` | ``), in document order;
    ``count(n)`` is told of every piece of text as it is read."""
    paragraphs: list[list[str]] = []  # the text pieces of each open paragraph (text boxes nest them)
    cells: list[list[str]] = []  # the paragraphs of each open cell, innermost last
    rows: list[list[str]] = []  # the cells of each open row
    events = etree.iterparse(source, events=("start", "end"), resolve_entities=False, huge_tree=False,
                             no_network=True, load_dtd=False)
    for event, el in events:
        tag = el.tag
        if event == "start":
            if tag == _P:
                paragraphs.append([])
            elif tag == _TR:
                rows.append([])
            elif tag == _TC:
                cells.append([])
            continue
        if tag == _T or tag in _SEPARATORS:
            piece = (el.text or "") if tag == _T else _SEPARATORS[tag]
            count(len(piece))
            if paragraphs:
                paragraphs[-1].append(piece)
        elif tag == _P and paragraphs:
            text = "".join(paragraphs.pop())
            if cells:
                cells[-1].append(text)
            else:
                yield text
        elif tag == _TC and cells:
            text = "\n".join(cells.pop())
            if rows and (not rows[-1] or rows[-1][-1] != text):  # merged cells repeat their text
                rows[-1].append(text)
        elif tag == _TR and rows:
            line = " | ".join(rows.pop())
            if cells:  # a table inside a cell: its rows are that cell's lines
                cells[-1].append(line)
            else:
                yield line
        elif tag != _R:
            continue
        # What was read is done with: drop it, and the siblings before it.
        el.clear(keep_tail=False)
        parent = el.getparent()
        if parent is not None:
            while el.getprevious() is not None:
                del parent[0]
