"""Atomic writes with the user's umask, and the removal of stale temporaries."""

import errno
import os
import stat

import pytest

from sklearn_isd.utils._files import (
    atomic_write,
    current_umask,
    remove_stale_temporaries,
)


@pytest.fixture
def umask():
    """Set a umask for the test, restoring the previous one after it."""
    previous = os.umask(0o022)
    os.umask(previous)

    def set_(mask):
        os.umask(mask)

    yield set_
    os.umask(previous)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_files_get_the_permissions_of_the_umask(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    path = atomic_write(tmp_path / "a.csv", lambda h: h.write("id,value\n"))
    assert path.read_text() == "id,value\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    plain = tmp_path / "plain.csv"
    plain.write_text("x")  # what open(path, "w") gives
    assert stat.S_IMODE(plain.stat().st_mode) == stat.S_IMODE(path.stat().st_mode)


def test_binary_write_replaces_the_target(tmp_path):
    path = tmp_path / "b.bin"
    path.write_bytes(b"old")
    atomic_write(path, lambda h: h.write(b"\x00new"), binary=True)
    assert path.read_bytes() == b"\x00new"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [ValueError("bad row"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_target_and_no_temporary(tmp_path, error):
    path = tmp_path / "c.csv"
    path.write_text("before\n")

    def write(handle):
        handle.write("half")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, write)
    assert path.read_text() == "before\n"
    assert _leftovers(tmp_path) == []


def test_os_errors_name_the_target(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("before\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic_write(path, lambda h: h.write("after\n"))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert path.read_text() == "before\n"
    assert _leftovers(tmp_path) == []


def test_missing_folder_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "nowhere" / "e.csv", lambda h: h.write("x"))


def test_stale_temporaries_are_removed_by_target(tmp_path):
    names = [
        ".batch_001.csv.ab12cd34.tmp",
        ".campaign.isd.npz.zz_9xy01.tmp",
        ".notes.txt.ab12cd34.tmp",
        ".batch_001.csv.tmp",  # not a name of atomic_write
        "batch_001.csv",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    (tmp_path / ".dir.ab12cd34.tmp").mkdir()
    removed = remove_stale_temporaries(tmp_path, lambda target: target != "notes.txt")
    assert sorted(p.name for p in removed) == sorted(names[:2])
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([*names[2:], ".dir.ab12cd34.tmp"])
    assert [p.name for p in remove_stale_temporaries(tmp_path)] == [names[2]]
