"""Files to text, for file search: chosen by the file name's extension, as OpenAI does.

Plain text, Markdown, JSON, CSV and source code are read as text (UTF-8, UTF-16 with a
byte-order mark, else Latin-1; a NUL byte means it is not text); HTML loses its tags,
scripts and styles; PDF goes through pypdf, DOCX through python-docx.  Any other
extension is ``unsupported_file``; a file that does not parse as what its name says, or
holds no text, is ``invalid_file`` (``DocumentError`` carries the code).
"""

from __future__ import annotations

import html
import re
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


def parse_file(path: str | Path, filename: str) -> str:
    """The text of the file at ``path`` whose name is ``filename`` (its extension decides how)."""
    ext = Path(filename).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = ext or "(none)"
        raise DocumentError("unsupported_file",
                            f"Files with extension [{shown}] are not supported for file search. Supported "
                            f"extensions: {', '.join(sorted(SUPPORTED_EXTENSIONS))}.")
    path = Path(path)
    if ext == ".pdf":
        text = _pdf(path)
    elif ext == ".docx":
        text = _docx(path)
    elif ext in HTML_EXTENSIONS:
        text = html_to_text(decode_text(path.read_bytes()))
    else:
        text = decode_text(path.read_bytes())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentError("invalid_file", "The file contains no text that could be indexed.")
    return text


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


def _pdf(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("invalid_file", "The PDF is encrypted.")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except DocumentError:
        raise
    except Exception as err:
        raise DocumentError("invalid_file", f"The PDF could not be read: {type(err).__name__}: {err}") from None
    return "\n\n".join(p for p in pages if p)


def _docx(path: Path) -> str:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as err:
        raise DocumentError("invalid_file", f"The DOCX could not be read: {type(err).__name__}: {err}") from None
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            cells = []
            for cell in row.cells:
                if not cells or cell.text != cells[-1]:  # merged cells repeat their text
                    cells.append(cell.text)
            blocks.append(" | ".join(cells))
    return "\n".join(b for b in blocks if b.strip())
