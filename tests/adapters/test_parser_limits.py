"""Parsers are bounded: decompression bombs are refused after a bounded amount of work, in a
process whose memory is capped (the old python-docx path took a 3 MB DOCX past 8 GB), and
no file yields more text than the limit."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
import zlib

import pytest

from documents import make_docx, make_pdf
from local_assistants.adapters.parsers import ParseLimits, parse_file
from local_assistants.ports import DocumentError

MiB = 1 << 20
MEMORY_CAP = 1024 * MiB  # address space of the parsing process: a bomb may not get near it


def docx_bomb(path, xml_mib: int) -> None:
    """A real DOCX whose document.xml inflates to ``xml_mib`` MiB of paragraphs (about 1000:1)."""
    base = zipfile.ZipFile(io.BytesIO(make_docx(["x"])))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in base.infolist():
            data = base.read(info)
            if info.filename != "word/document.xml":
                out.writestr(info, data)
                continue
            head, rest = data.split(b"<w:body>", 1)
            tail = rest[rest.index(b"</w:body>"):]
            with out.open("word/document.xml", "w", force_zip64=True) as f:
                f.write(head + b"<w:body>")
                block = (b"<w:p><w:r><w:t>" + b"A" * 1000 + b"</w:t></w:r></w:p>") * 1000
                for _ in range(xml_mib * MiB // len(block)):
                    f.write(block)
                f.write(tail)


def pdf_bomb(path, pages: int, page_mib: int) -> None:
    """A PDF whose pages' content streams each inflate to ``page_mib`` MiB (mostly spaces)."""
    plain = make_pdf([["Hello"]] * pages)
    content = b"BT /F1 11 Tf 72 740 Td (Hello) Tj ET\n" + b" " * (page_mib * MiB)
    packed = zlib.compress(content, 9)
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
    # Rebuild with the packed stream in place of every page's content (objects 5, 7, 9 ...).
    objects = []
    for part in plain.split(b" 0 obj\n")[1:]:
        objects.append(part.split(b"\nendobj\n")[0])
    for i in range(pages):
        objects[4 + 2 * i] = stream
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())


def parse_capped(path, name: str) -> dict:
    """Parse in a child process whose address space is capped; its outcome and peak memory."""
    script = (
        "import json, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n"
        "from local_assistants.adapters.parsers import parse_file\n"
        "from local_assistants.ports import DocumentError\n"
        "try:\n"
        f"    out = {{'text_chars': len(parse_file({str(path)!r}, {name!r}))}}\n"
        "except DocumentError as err:\n"
        "    out = {'code': err.code, 'message': err.message}\n"
        # VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's over exec).
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "out['max_rss_mib'] = int(peak) // 1024\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_docx_zip_bomb_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "bomb.docx"
    docx_bomb(path, 800)  # about 2 MB on disk, 800 MiB of XML
    assert path.stat().st_size < 4 * MiB
    out = parse_capped(path, "report.docx")
    assert out.get("code") == "invalid_file", out
    assert "decompression bomb" in out["message"]
    assert out["max_rss_mib"] < 200


def test_a_pdf_bomb_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "bomb.pdf"
    pdf_bomb(path, pages=12, page_mib=60)  # 720 MiB of page content in well under 1 MB
    assert path.stat().st_size < 2 * MiB
    out = parse_capped(path, "paper.pdf")
    assert out.get("code") == "invalid_file", out
    assert "decompression bomb" in out["message"]
    assert out["max_rss_mib"] < 300


def test_documents_within_the_limits_still_parse(tmp_path):
    path = tmp_path / "ok.docx"
    docx_bomb(path, 2)  # 2 MiB of XML at 1000:1: refused by the default ratio, read with a looser one
    limits = ParseLimits(max_ratio=2000)
    assert len(parse_file(path, "ok.docx", limits)) > 1_000_000
    pdf = tmp_path / "ok.pdf"
    pdf_bomb(pdf, pages=2, page_mib=1)
    assert parse_file(pdf, "ok.pdf", ParseLimits(max_ratio=2000)).count("Hello") == 2


@pytest.mark.parametrize("name, make", [
    ("big.txt", lambda p: p.write_text("word " * 3000)),
    ("big.html", lambda p: p.write_text("<p>" + "word " * 3000 + "</p>")),
    ("big.docx", lambda p: p.write_bytes(make_docx(["word " * 1000] * 3))),
    ("big.pdf", lambda p: p.write_bytes(make_pdf([["word " * 200] * 10]))),
])
def test_no_file_yields_more_text_than_the_limit(tmp_path, name, make):
    path = tmp_path / name
    make(path)
    assert len(parse_file(path, name)) > 5000
    with pytest.raises(DocumentError) as info:
        parse_file(path, name, ParseLimits(max_text_chars=5000))
    assert info.value.code == "invalid_file" and "5,000 characters" in info.value.message


def test_a_text_file_far_over_the_limit_is_refused_unread(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(50 * MiB)  # sparse: nothing to read, and it must not be read
    with pytest.raises(DocumentError) as info:
        parse_file(path, "huge.txt", ParseLimits(max_text_chars=1_000_000))
    assert "1,000,000 characters" in info.value.message


def test_docx_tables_and_paragraphs_keep_document_order(tmp_path):
    path = tmp_path / "t.docx"
    path.write_bytes(make_docx(["Before the table."], table=[["k", "v"], ["colour", "blue"]]))
    text = parse_file(path, "t.docx")
    assert text.splitlines() == ["Before the table.", "k | v", "colour | blue"]
