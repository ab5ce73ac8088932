"""Reading files the package owns (run folders, caches) without ever blocking on a special file.

`open(path).read()` on a named pipe waits for a writer that may never come, and on a device it may
read forever. Everything mi-starter reads back from a run folder (manifest.json, results.jsonl) or
a cache entry goes through `read_regular`: a path that is not a regular file is refused at once
with one line naming it, whatever it is.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> with open(f"{folder}/rows.jsonl", "w") as f:
...     _ = f.write("{}\\n")
>>> read_regular(f"{folder}/rows.jsonl"), read_regular(f"{folder}/missing.json")
(b'{}\\n', None)
>>> os.mkfifo(f"{folder}/pipe.json")
>>> read_regular(f"{folder}/pipe.json")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
starter.files.NotRegularFile: .../pipe.json is a named pipe, not a regular file; ...
"""

from __future__ import annotations

import os
import stat

from starter.errors import UsageError

_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class NotRegularFile(UsageError):
    """A path that should hold a file holds a pipe, socket, device or folder (exit status 2)."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ("a named pipe").

    >>> kind_of(stat.S_IFIFO | 0o644)
    'a named pipe'
    """
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def read_regular(path: str | os.PathLike) -> bytes | None:
    """The bytes of `path`, or None when it does not exist; NotRegularFile for anything but a
    regular file (checked on the opened descriptor, so a swap after the check cannot fool it).

    The open itself is non-blocking: opening a named pipe for reading would otherwise wait for a
    writer. Other OSErrors (permissions, ...) propagate for the caller to word.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):  # no such file (or a file in its path)
        return None
    except IsADirectoryError:
        raise _refusal(path, "a folder") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refusal(path, kind_of(mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _refusal(path: str | os.PathLike, what: str) -> NotRegularFile:
    return NotRegularFile(f"{os.fspath(path)} is {what}, not a regular file; mi-starter reads only "
                          "regular files there: remove or rename it (nothing was read or changed)")
