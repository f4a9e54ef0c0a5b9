"""Downloading, checking and reading dataset files.

Downloads stream into a temporary file in the target directory, checked against the expected
MD5 and the announced length, and are renamed into place only when both match: an interrupted
or corrupted transfer never leaves a file that looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from typing import Any

import numpy as np

__all__ = ["calculate_md5", "check_md5", "check_integrity", "download_url",
           "download_and_extract_archive", "extract_archive", "read_idx"]

USER_AGENT = "chainrule"


def calculate_md5(fpath: str, chunk_size: int = 1024 * 1024) -> str:
    """The hex MD5 digest of a file."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath: str, md5: str) -> bool:
    """Whether the file's MD5 is ``md5``."""
    return md5 == calculate_md5(fpath)


def check_integrity(fpath: str, md5: str | None = None) -> bool:
    """Whether ``fpath`` exists and (when ``md5`` is given) has that MD5.

    Example:
        >>> check_integrity("/nonexistent/file")
        False
    """
    if not os.path.isfile(fpath):
        return False
    return md5 is None or check_md5(fpath, md5)


def download_url(url: str, root: str, filename: str | None = None, md5: str | None = None,
                 timeout: float = 60.0) -> str:
    """Download ``url`` to ``root/filename`` unless a file with that MD5 is already there.

    The bytes go to a temporary file in ``root``; it is renamed to ``filename`` only when the
    transfer is complete (as long as the server's ``Content-Length``) and its MD5 matches.

    Args:
        url: what to fetch.
        root: the directory to save into (created if needed).
        filename: the name to save under. Default: the URL's last path component.
        md5: the expected MD5 (hex). ``None`` skips the check.
        timeout: seconds to wait on the network.

    Returns:
        The path of the downloaded file.

    Raises:
        RuntimeError: the transfer broke off, or the MD5 differs (the message names the URL).
        urllib.error.URLError: the server could not be reached.
    """
    root = os.path.expanduser(root)
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5):
        return fpath
    os.makedirs(root, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=root)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as r:
            total = r.headers.get("Content-Length")
            total = int(total) if total is not None else None
            bar = _progress(total, filename)
            try:
                while True:
                    try:
                        chunk = r.read(1024 * 256)
                    except http.client.IncompleteRead as e:
                        raise RuntimeError(f"Download of {url} was interrupted after "
                                           f"{received + len(e.partial)} of {total} bytes; "
                                           "nothing was saved") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
            out.flush()
            os.fsync(out.fileno())
        if total is not None and received != total:
            raise RuntimeError(f"Download of {url} was interrupted after {received} of {total} "
                               "bytes; nothing was saved")
        if md5 is not None and digest.hexdigest() != md5:
            raise RuntimeError(f"Download of {url} is corrupt: MD5 {digest.hexdigest()} "
                               f"instead of {md5}; nothing was saved")
        os.replace(tmp, fpath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return fpath


def _progress(total: int | None, desc: str) -> Any:
    from tqdm import tqdm  # imported here: only downloads need it

    # tqdm's disable=None turns the bar off when stderr is not a terminal (CI logs, tests)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=None,
                file=sys.stderr)


def _safe_members(archive: tarfile.TarFile, path: str) -> list[tarfile.TarInfo]:
    """Regular files and directories that stay inside ``path`` (no links, no ``..``)."""
    root = os.path.realpath(path)
    members = []
    for m in archive.getmembers():
        target = os.path.realpath(os.path.join(path, m.name))
        if not (target == root or target.startswith(root + os.sep)):
            raise RuntimeError(f"{archive.name}: archive member {m.name!r} would be written "
                               f"outside {path}; refusing to extract")
        if m.isfile() or m.isdir():
            members.append(m)
    return members


def extract_archive(from_path: str, to_path: str | None = None,
                    remove_finished: bool = False) -> str:
    """Extract a ``.tar``/``.tar.gz``/``.tgz`` archive or decompress a ``.gz`` file.

    Only regular files and directories inside ``to_path`` are written.

    Returns:
        The directory extracted into.
    """
    to_path = to_path or os.path.dirname(from_path)
    try:
        if tarfile.is_tarfile(from_path):
            with tarfile.open(from_path) as archive:
                archive.extractall(to_path, members=_safe_members(archive, to_path))
        elif from_path.endswith(".gz"):
            out = os.path.join(to_path, os.path.basename(from_path)[:-3])
            with gzip.open(from_path, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            raise RuntimeError(f"{from_path}: unknown archive type (expected .tar, .tar.gz, "
                               ".tgz or .gz)")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise RuntimeError(f"{from_path}: corrupt or truncated archive ({e})") from None
    if remove_finished:
        os.remove(from_path)
    return to_path


def download_and_extract_archive(url: str, download_root: str, extract_root: str | None = None,
                                 filename: str | None = None, md5: str | None = None,
                                 remove_finished: bool = False) -> None:
    """:func:`download_url`, then :func:`extract_archive` into ``extract_root``."""
    path = download_url(url, download_root, filename, md5)
    extract_archive(path, extract_root or download_root, remove_finished)


# IDX: big-endian header, magic 0x00 0x00 <type> <ndim>, then ndim uint32 sizes.
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_bytes(path: str) -> bytes:
    """A file's bytes, gunzipped when it is gzip data (by its magic number, not its name)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise RuntimeError(f"{path}: truncated gzip file (the compressed stream ends early); "
                           "download or copy it again") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        raise RuntimeError(f"{path}: corrupt gzip file ({e}); download or copy it again") \
            from None


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) into a native-endian array.

    Raises:
        RuntimeError: the file is not IDX, or is truncated or corrupt; the message names it.

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte")
        >>> _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
        >>> read_idx(p)
        array([7, 8, 9], dtype=uint8)
    """
    data = read_bytes(path)
    if len(data) < 4:
        raise RuntimeError(f"{path}: truncated IDX file ({len(data)} bytes, not even a header)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path}: not an IDX file (magic number 0x{data[:4].hex()}; expected "
                           "0x0000 followed by a type code in 08 09 0b 0c 0d 0e and a rank)")
    dtype = _IDX_TYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RuntimeError(f"{path}: truncated IDX header ({len(data)} bytes; a rank-{ndim} "
                           f"header needs {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: sizes near 2**32 never wrap
    found = len(data) - header
    if found < expected:
        raise RuntimeError(f"{path}: truncated IDX file: shape {shape} needs {expected} bytes "
                           f"of data, found {found}; download or copy it again")
    if found > expected:
        raise RuntimeError(f"{path}: corrupt IDX file: {found - expected} bytes after the "
                           f"{expected} that shape {shape} needs")
    arr = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return arr.reshape(shape).astype(dtype.newbyteorder("="))
