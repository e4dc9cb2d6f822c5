"""Atomic file writes that respect the user's umask.

Every file sklearn-isd writes for a user goes through :func:`atomic_write`:
the content is written to a temporary file beside the target, flushed to
disk, given the permissions a plain ``open(path, "w")`` would give, and
renamed over the target, so a reader sees the old file or the new one, never
a part of it. A process killed mid-write leaves at most a temporary file
named ``.<target name>.<random>.tmp``; :func:`remove_stale_temporaries`
removes those once no writer can be running.
"""

import os
import re
import tempfile
from pathlib import Path

#: Name of a temporary file of atomic_write: ".<target>.<8 random>.tmp".
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def current_umask():
    """The umask of the process, read without changing it where possible.

    Linux gives it in ``/proc/self/status`` (since 4.7). Elsewhere it is read
    with :func:`os.umask` set-and-restore; a file another thread creates
    between the two calls would get the temporary mask ``0o077`` (the
    stricter one, so nothing is ever exposed), which is why ``/proc`` is
    preferred.

    Returns
    -------
    umask : int
        The permission bits removed from new files, e.g. ``0o022``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def atomic_write(path, write, *, binary=False):
    """Write a file atomically, with the permissions of the user's umask.

    ``write(handle)`` fills a temporary file created in the target's
    folder; the file is flushed and synced to disk, its mode set to
    ``0o666 & ~umask`` (what ``open(path, "w")`` gives; a bare temporary
    file would be ``0o600``, unreadable to colleagues sharing the folder),
    then renamed over ``path`` with :func:`os.replace`, and the folder is
    synced so that the rename survives a power cut. On any failure, an
    interruption included, the temporary file is removed and ``path`` is
    left as it was.

    Parameters
    ----------
    path : str or path-like
        The file to write. Its folder must exist.
    write : callable
        ``write(handle)`` writes the content to an open file: text (UTF-8,
        ``newline=""`` as the :mod:`csv` module wants) or, with
        ``binary=True``, bytes.
    binary : bool, default=False
        Open the temporary file in binary mode.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    OSError
        If the file cannot be written (disk full, read-only folder, file
        size limit...); its ``filename`` is ``path`` when the system call
        did not name a file. Whatever else ``write`` raises is raised unchanged.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
            if binary:
                handle = os.fdopen(fd, "wb")
            else:
                handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except BaseException:
            os.close(fd)
            raise
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder):
    """fsync a folder so that a rename in it is durable (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename is done
    finally:
        os.close(fd)


def remove_stale_temporaries(folder, targets=None):
    """Remove the temporary files that killed writers left in a folder.

    Call it only while no :func:`atomic_write` into ``folder`` can be
    running (e.g. holding the folder's lock): a temporary file being written
    looks the same as one left behind.

    Parameters
    ----------
    folder : str or path-like
        The folder to clean.
    targets : callable or None, default=None
        ``targets(name)`` is true for the target file names whose temporary
        files may be removed; None removes those of any target.

    Returns
    -------
    removed : list of pathlib.Path
        The files removed.
    """
    removed = []
    for entry in os.scandir(folder):
        match = _TEMPORARY.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        if targets is not None and not targets(match["target"]):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(Path(entry.path))
    return removed
