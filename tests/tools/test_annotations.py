"""file_path annotations: files the code wrote, tied to the answer's text as
``sandbox:/mnt/data/<name>`` links (added when the text does not mention them)."""

from __future__ import annotations

from local_assistants.ports import ProducedFile
from local_assistants.tools.annotations import link_files


def _spans(text, annotations):
    return [(a["file_path"]["file_id"], text[a["start_index"]:a["end_index"]]) for a in annotations]


def test_a_link_in_the_text_is_annotated_where_it_is():
    text = "See [the plot](sandbox:/mnt/data/plot.png)."
    out, annotations = link_files(text, [ProducedFile("plot.png", "file-1")])
    assert out == text
    assert annotations == [{"type": "file_path", "text": "sandbox:/mnt/data/plot.png", "start_index": 15,
                            "end_index": 41, "file_path": {"file_id": "file-1"}}]


def test_a_bare_path_becomes_a_link_and_later_spans_follow_the_shift():
    text = "Saved /mnt/data/a.csv and sandbox:/mnt/data/b.csv."
    out, annotations = link_files(text, [ProducedFile("b.csv", "file-b"), ProducedFile("a.csv", "file-a")])
    assert out == "Saved sandbox:/mnt/data/a.csv and sandbox:/mnt/data/b.csv."
    assert _spans(out, annotations) == [("file-b", "sandbox:/mnt/data/b.csv"), ("file-a", "sandbox:/mnt/data/a.csv")]


def test_a_path_inside_another_path_or_link_is_not_taken_for_the_file():
    out, annotations = link_files("Read /tmp/mnt/data/a.csv.", [ProducedFile("a.csv", "file-a")])
    assert out == "Read /tmp/mnt/data/a.csv.\n\n[a.csv](sandbox:/mnt/data/a.csv)"
    assert _spans(out, annotations) == [("file-a", "sandbox:/mnt/data/a.csv")]


def test_an_unmentioned_file_gets_a_link_line():
    out, annotations = link_files("Done.  ", [ProducedFile("out.txt", "file-o")])
    assert out == "Done.\n\n[out.txt](sandbox:/mnt/data/out.txt)"
    assert _spans(out, annotations) == [("file-o", "sandbox:/mnt/data/out.txt")]
    out, _ = link_files("", [ProducedFile("out.txt", "file-o")])
    assert out == "[out.txt](sandbox:/mnt/data/out.txt)"
    assert link_files("Nothing made.", []) == ("Nothing made.", [])
