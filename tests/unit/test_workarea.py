"""app.domain.workarea: private scratch directories and the sweep of abandoned ones (the kill -9
case against a real service is tests/integration/test_service_spool.py)."""

from __future__ import annotations

import stat
from pathlib import Path

from app.domain.workarea import OWNER, WorkArea, sweep


def test_a_held_area_survives_another_claim_and_close_removes_it(tmp_path: Path) -> None:
    first = WorkArea.claim(tmp_path)
    (first.path / "glider-upload-1.part").write_bytes(b"x" * 10)
    second = WorkArea.claim(tmp_path)  # flock is per open file: a second claim in-process is "another owner"
    try:
        assert first.path != second.path
        assert (first.path / "glider-upload-1.part").exists()
        assert stat.S_IMODE(first.path.stat().st_mode) == 0o700
    finally:
        first.close()
        first.close()  # idempotent
    assert not first.path.exists()
    assert second.path.is_dir()
    second.close()


def test_unlocked_and_lockless_directories_are_swept(tmp_path: Path) -> None:
    released = tmp_path / "proc-dead"
    released.mkdir()
    (released / OWNER).touch()  # its owner died: nobody holds the lock
    (released / "glider-x.delta").write_bytes(b"y" * 7)
    unlocked = tmp_path / "proc-unborn"
    unlocked.mkdir()  # killed between mkdir and lock
    unrelated = tmp_path / "keep-me.txt"
    unrelated.write_text("not ours")
    swept = sweep(tmp_path)
    assert (swept.directories, swept.files, swept.bytes) == (2, 1, 7)
    assert not released.exists()
    assert not unlocked.exists()
    assert unrelated.exists()
