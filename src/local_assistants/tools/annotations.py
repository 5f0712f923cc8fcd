"""Annotations that tie an answer's text to files: ``file_path`` for files the code wrote.

OpenAI's answers mention such files as ``sandbox:/mnt/data/<name>`` links, annotated
with the file's id.  A produced file the text does not mention gets a link line.
"""

from __future__ import annotations

import re


def link_files(text: str, produced) -> tuple[str, list[dict]]:
    """The text (with a link appended for each unmentioned file) and its annotations."""
    annotations = []
    for item in produced:
        link = f"sandbox:/mnt/data/{item.name}"
        match = re.search(re.escape(link), text)
        if match is None:
            bare = re.search(r"(?<![\w:])/mnt/data/" + re.escape(item.name), text)
            if bare is not None:
                text = text[:bare.start()] + "sandbox:" + text[bare.start():]
                match = re.search(re.escape(link), text)
        if match is None:
            text = f"{text.rstrip()}\n\n[{item.name}]({link})" if text.strip() else f"[{item.name}]({link})"
            match = re.search(re.escape(link), text)
        annotations.append({"type": "file_path", "text": link, "start_index": match.start(),
                            "end_index": match.end(), "file_path": {"file_id": item.file_id}})
    # Inserting "sandbox:" shifts later spans: recompute every span on the final text.
    for ann in annotations:
        found = text.find(ann["text"])
        ann["start_index"], ann["end_index"] = found, found + len(ann["text"])
    return text, annotations
