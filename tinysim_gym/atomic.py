"""Output files: atomic writes, several files as one, and safe names for files named after user input.

A write goes to a temporary file beside the target, which is fsynced and then renamed into place: an error
or an interrupt (SIGINT) at any point leaves either the previous file or a complete new one, and no
temporary file behind. :func:`write_files` writes several files as one: every temporary file is written
and fsynced (where a full disk or a quota shows) before the first is renamed, so a run leaves all of its
outputs or none.

What a target may be, deliberately:

* **a regular file or a new name**: replaced atomically, as above.
* **a symbolic link**: followed. The file it points to is replaced (its temporary file beside that file)
  and the link stays a link; a dangling link creates the file it names. A link loop is an error.
* **a character device or a FIFO** (``/dev/null``, ``/dev/stdout``, a named pipe): written through, in
  place, never replaced (replacing ``/dev/null`` as root would break the system). Such a write cannot be
  atomic. A FIFO with no reader is an error at once (``No such device or address``), never a hang; a
  device that refuses the data (``/dev/full``) is an error naming the path.
* **anything else** (a directory, a block device, a socket): refused before anything is written.

Errors are :class:`OSError` carrying the path the user gave (``filename``): the command line turns them
into one line, ``tinysim: error: <path>: <reason>``.

:func:`safe_file_name` is the one sanitiser for file and directory names built from user input (a
scenario's ``name:``, a training cell's name): the result is one path component that cannot leave its
directory.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_paths", "safe_file_name", "write_bytes", "write_files", "write_text"]

#: the longest name :func:`safe_file_name` returns (file systems allow 255 bytes; room is left for affixes)
MAX_NAME_CHARS = 120


def safe_file_name(name: str, fallback: str = "unnamed") -> str:
    """``name`` as one safe path component: ``[A-Za-z0-9._-]`` only, no leading dot, at most 120 characters.

    Every run of other characters (a ``/``, a space, a NUL byte) becomes ``_``, so ``../../x`` becomes
    ``_.._x``: no separator survives and the name never starts with a dot (never ``.``, ``..`` or hidden).

    Args:
        name: the text the name is built from.
        fallback: the name when nothing usable is left.
    """
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).lstrip(".")[:MAX_NAME_CHARS]
    return clean or fallback


def _oserror(code: int, path: str | os.PathLike[str], reason: str | None = None) -> OSError:
    return OSError(code, reason or os.strerror(code), str(path))


class _Output:
    """One target of an atomic write: where its data goes, and how it gets there."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tmp: Path | None = None
        try:
            st = os.stat(self.path)  # follows symbolic links
        except FileNotFoundError:
            st = None
        except NotADirectoryError:  # a file where a directory should be: name that file
            blocker = next((q for q in self.path.parents if q.exists() and not q.is_dir()), self.path)
            raise _oserror(errno.ENOTDIR, blocker) from None
        except OSError as exc:  # a link loop
            raise _oserror(exc.errno or errno.EINVAL, self.path) from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise _oserror(errno.EISDIR, self.path)
        self.through = st is not None and (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode))
        if st is not None and not self.through and not stat.S_ISREG(st.st_mode):
            raise _oserror(errno.EINVAL, self.path, "not a regular file, a character device or a FIFO")
        self.target = self.path if self.through else Path(os.path.realpath(self.path))
        if not self.through and self.target.is_symlink():
            raise _oserror(errno.ELOOP, self.path)

    def stage(self) -> Path:
        """Create the temporary file the data is written to (beside the target, unless written through)."""
        where: Path | None = None
        if not self.through:
            where = self.target.parent
            if where.exists() and not where.is_dir():
                raise _oserror(errno.ENOTDIR, where)
            where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=where)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def sync(self) -> None:
        """Flush the temporary file to disk: where a full disk shows, before anything is renamed."""
        assert self.tmp is not None
        with open(self.tmp, "rb+") as fh:
            os.fsync(fh.fileno())

    def commit(self) -> None:
        """Rename the temporary file into place, or copy it through to the device or FIFO."""
        assert self.tmp is not None
        if self.through:
            self._write_through()
            return
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes the file private
        os.replace(self.tmp, self.target)

    def _write_through(self) -> None:
        import fcntl  # POSIX only, like devices and FIFOs: imported here so that the module loads everywhere

        assert self.tmp is not None
        try:
            # O_NONBLOCK: a FIFO without a reader fails at once instead of waiting for one
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise _oserror(exc.errno or errno.EIO, self.path) from None
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
            view = memoryview(self.tmp.read_bytes())
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            raise _oserror(exc.errno or errno.EIO, self.path) from None
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Remove the temporary file if it is still there."""
        if self.tmp is not None and os.path.lexists(self.tmp):
            os.unlink(self.tmp)


@contextmanager
def atomic_paths(*paths: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Yield one temporary path per target; when the block ends without error, all of them go into place.

    Every target is checked before the block runs; after it, every temporary file is fsynced before the
    first one is renamed, so an error (a full disk) leaves every target as it was. See the module
    docstring for symbolic links, devices and FIFOs.
    """
    outs = [_Output(p) for p in paths]
    with ExitStack() as stack:
        for out in outs:
            stack.callback(out.discard)
        tmps = [out.stage() for out in outs]
        try:
            yield tmps
            for out in outs:
                out.sync()
            for out in outs:
                out.commit()
        except OSError as exc:
            raise _named(exc, outs) from None


def _named(exc: OSError, outs: list[_Output]) -> OSError:
    """``exc`` naming the target the user gave instead of a temporary file (or nothing: a failed write)."""
    by_tmp = {str(out.tmp): out.path for out in outs if out.tmp is not None}
    if exc.filename is not None and str(exc.filename) not in by_tmp:
        return exc
    path = by_tmp.get(str(exc.filename)) if exc.filename is not None else (outs[0].path if len(outs) == 1 else None)
    if path is None:
        return exc
    return _oserror(exc.errno or errno.EIO, path, exc.strerror)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path for ``path``; when the block ends without error it replaces ``path``.

    The new file gets the usual permissions (``0o666`` less the umask) and is fsynced before the rename.
    """
    with atomic_paths(path) as (tmp,):
        yield tmp


def write_files(files: Mapping[str | os.PathLike[str], str | bytes]) -> list[Path]:
    """Write several files as one (all or none): text as UTF-8 with newlines as given, bytes as they are.

    Returns:
        The paths, in the mapping's order.
    """
    with atomic_paths(*files) as tmps:
        for tmp, (path, data) in zip(tmps, files.items(), strict=True):
            try:
                if isinstance(data, str):
                    tmp.write_text(data, encoding="utf-8", newline="")
                else:
                    tmp.write_bytes(data)
            except OSError as exc:  # a write error names no file: name the target
                raise _oserror(exc.errno or errno.EIO, path, exc.strerror) from None
    return [Path(p) for p in files]


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; return the path."""
    return write_files({path: text})[0]


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    return write_files({path: data})[0]
