"""Files to text: each supported format, unsupported extensions, broken files."""

from __future__ import annotations

import pytest

from local_assistants.adapters.parsers import SUPPORTED_EXTENSIONS, decode_text, html_to_text, parse_file
from local_assistants.ports import DocumentError
from documents import make_docx, make_pdf


def parse(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / "blob"
    path.write_bytes(data)
    return parse_file(path, name)


@pytest.mark.parametrize("name, data, expected", [
    ("notes.txt", b"plain text here", "plain text here"),
    ("README.md", b"# Title\n\n* item", "# Title\n\n* item"),
    ("data.json", b'{"a": [1, 2]}', '{"a": [1, 2]}'),
    ("table.csv", b"name,age\r\nada,36\r\n", "name,age\nada,36\n"),
    ("main.py", b"def f():\n    return 1\n", "def f():\n    return 1\n"),
    ("App.JAVA", b"class A {}", "class A {}"),
    ("bom.txt", b"\xef\xbb\xbfwith bom", "with bom"),
    ("utf16.txt", "héllo".encode("utf-16"), "héllo"),
    ("latin.txt", "café".encode("latin-1"), "café"),
])
def test_text_formats(tmp_path, name, data, expected):
    assert parse(tmp_path, name, data) == expected


def test_html_loses_tags_scripts_and_styles(tmp_path):
    html = (b"<html><head><title>Page T</title><style>p{color:red}</style></head><body>"
            b"<h1>Heading</h1><p>First &amp; second</p><script>var x = 1;</script><ul><li>one</li><li>two</li></ul>"
            b"</body></html>")
    text = parse(tmp_path, "page.html", html)
    assert "Heading" in text and "First & second" in text and "one" in text and "two" in text
    assert "Page T" in text
    assert "color" not in text and "var x" not in text and "<" not in text


def test_pdf(tmp_path):
    data = make_pdf([["The first page says hello.", "A second line (with parens)."], ["Page two: goodbye."]])
    text = parse(tmp_path, "doc.pdf", data)
    assert "first page says hello" in text
    assert "(with parens)" in text
    assert "Page two: goodbye." in text


def test_docx(tmp_path):
    data = make_docx(["Opening paragraph.", "Closing paragraph."], table=[["k", "v"], ["colour", "blue"]])
    text = parse(tmp_path, "doc.docx", data)
    assert "Opening paragraph." in text and "Closing paragraph." in text
    assert "colour | blue" in text


@pytest.mark.parametrize("name", ["image.png", "archive.zip", "slides.pptx", "old.doc", "noextension", "x.exe"])
def test_unsupported_extensions(tmp_path, name):
    with pytest.raises(DocumentError) as info:
        parse(tmp_path, name, b"whatever")
    assert info.value.code == "unsupported_file"


@pytest.mark.parametrize("name, data", [
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf"),
    ("broken.pdf", b"hello"),
    ("broken.docx", b"PK\x03\x04 not a zip"),
    ("broken.docx", b"plain text"),
    ("binary.txt", b"\x00\x01\x02\x03"),
    ("empty.txt", b""),
    ("blank.md", b"   \n\n  "),
])
def test_broken_files_are_invalid(tmp_path, name, data):
    with pytest.raises(DocumentError) as info:
        parse(tmp_path, name, data)
    assert info.value.code == "invalid_file"


def test_supported_list_has_the_documented_formats():
    assert {".txt", ".md", ".html", ".json", ".csv", ".py", ".pdf", ".docx"} <= SUPPORTED_EXTENSIONS


def test_helpers():
    assert decode_text(b"abc") == "abc"
    assert html_to_text("<p>a</p><p>b</p>") == "a\n\nb"
