"""Uploads from the browser: traversal names are cut to their last part, unknown types and
oversized files are refused with a reason, and nothing lands outside the upload folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.library.uploads import UploadRefused, safe_name, save_upload


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("../../x.txt", "x.txt"), ("..\\..\\win.md", "win.md"), ("/etc/passwd.txt", "passwd.txt"),
     ("...hidden.txt", "hidden.txt"), ("ok\x00name.txt", "okname.txt"), ("notes.md", "notes.md")],
)
def test_names_lose_their_directories(sent: str, kept: str) -> None:
    assert safe_name(sent) == kept


def test_nothing_is_written_outside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "uploads"
    for name in ("../../escape.txt", "../escape.txt", "/tmp/escape.txt", "sub/../../escape.txt"):
        saved = save_upload(name, b"some text", folder, max_mb=1)
        assert saved.parent == folder.resolve()
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [f"data/uploads/{n}" for n in ("escape-1.txt", "escape-2.txt", "escape-3.txt", "escape.txt")]


def test_unknown_types_and_oversized_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UploadRefused, match=r"tool\.exe: unknown file type; accepted: .*\.pdf"):
        save_upload("tool.exe", b"MZ", tmp_path, max_mb=1)
    with pytest.raises(UploadRefused, match=r"big\.txt: 2\.0 MB is over the upload limit of 1 MB"):
        save_upload("big.txt", b"x" * (2 * 1024 * 1024), tmp_path, max_mb=1)
    with pytest.raises(UploadRefused, match="not a usable file name"):
        save_upload("../..", b"x", tmp_path, max_mb=1)
    assert not any(tmp_path.iterdir())
