"""Download and safe extraction of the Google Speech Commands archives.

:func:`download_speech_commands` fetches the official ``tar.gz`` into a cache folder and
extracts it next to it, once::

    cache_dir/speech_commands_v0.02/               the dataset root (what SpeechCommands reads)
    cache_dir/speech_commands_v0.02/.audiomix_complete   marker written last
    cache_dir/speech_commands_v0.02.tar.gz.part    while downloading (resumed on the next run)

Every step is atomic: the download goes to ``.part`` and is renamed when complete, the
extraction goes to a temporary folder renamed when complete, so an interrupted run leaves
nothing that a later run could mistake for a finished one.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

from tqdm.auto import tqdm

__all__ = [
    "OFFICIAL_URLS",
    "OFFICIAL_V1_URL",
    "OFFICIAL_V2_URL",
    "ArchiveError",
    "DownloadError",
    "UnsafeArchiveError",
    "download_speech_commands",
    "extract_archive",
]

OFFICIAL_V1_URL = "http://download.tensorflow.org/data/speech_commands_v0.01.tar.gz"
OFFICIAL_V2_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
OFFICIAL_URLS = {"v0.01": OFFICIAL_V1_URL, "v0.02": OFFICIAL_V2_URL}
MARKER = ".audiomix_complete"

_CHUNK = 1 << 20
# Python >= 3.12, and 3.8.17 / 3.9.17 / 3.10.12 / 3.11.4 backports, have tarfile's "data"
# filter; the checks of _check_member run in every case, so older versions stay safe.
_HAS_DATA_FILTER = hasattr(tarfile, "data_filter")
_FILTER_ERROR = getattr(tarfile, "FilterError", ())


class DownloadError(RuntimeError):
    """The archive could not be fetched completely (network error, truncated transfer)."""


class ArchiveError(ValueError):
    """The archive is not a readable gzip-compressed tar file."""


class UnsafeArchiveError(ArchiveError):
    """A member would be written outside the destination, or is a link or device file that
    could make a later write escape it."""


def download_speech_commands(
    cache_dir: str | os.PathLike,
    *,
    url: str | None = None,
    version: str = "v0.02",
    sha256: str | None = None,
    keep_archive: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Downloads and extracts Speech Commands once; returns the dataset folder.

    When ``cache_dir/speech_commands_<version>/`` holds the completion marker, nothing is
    fetched. Otherwise the archive is downloaded to ``<archive>.part`` (resumed with an HTTP
    ``Range`` request when a previous run was cut, restarted when the server ignores it), its
    length checked against ``Content-Length`` and optionally its sha256, renamed, checked to
    be gzip, and extracted by :func:`extract_archive`. A corrupt or unsafe archive is deleted
    so that the next run downloads it again.

    Args:
        cache_dir (str or PathLike): folder for the archive and the extracted dataset; created
            when missing.
        url (str or None): where to fetch from (``http``, ``https`` or ``file``); None takes the
            official URL of ``version``. (Default: ``None``)
        version (str): ``"v0.01"`` or ``"v0.02"``; names the folder. (Default: ``"v0.02"``)
        sha256 (str or None): expected hex digest of the archive, checked when given.
            (Default: ``None``)
        keep_archive (bool): keep the ``.tar.gz`` after extraction (2.3 GB for v0.02).
            (Default: ``False``)
        progress (bool): show tqdm progress bars. (Default: ``True``)
        timeout (float): socket timeout in seconds. (Default: ``60.0``)

    Returns:
        Path: the dataset root, ``cache_dir/speech_commands_<version>``.

    Raises:
        DownloadError: the transfer failed or was truncated (rerun to resume).
        ArchiveError: the file is not a gzip tar or is corrupt (it is deleted).
        UnsafeArchiveError: a member would escape the destination (it is deleted).
        FileExistsError: the destination exists but was not made by this function.

    Example:
        >>> root = download_speech_commands("~/.cache/audiomix")  # doctest: +SKIP
        >>> sorted(p.name for p in root.iterdir())[:3]  # doctest: +SKIP
        ['.audiomix_complete', 'LICENSE', 'README.md']
    """
    if version not in OFFICIAL_URLS:
        raise ValueError(f"`version` must be one of {sorted(OFFICIAL_URLS)}, but got {version!r}.")
    url = OFFICIAL_URLS[version] if url is None else url
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"`url` must be an http, https or file URL, but got {url!r}.")
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValueError(f"`sha256` must be 64 hexadecimal digits, but got {sha256!r}.")
    if timeout <= 0:
        raise ValueError(f"`timeout` must be > 0, but got {timeout}.")

    cache_dir = Path(cache_dir).expanduser()
    destination = cache_dir / f"speech_commands_{version}"
    if (destination / MARKER).is_file():
        return destination
    if destination.exists():
        raise FileExistsError(
            f"{destination} exists but has no {MARKER} marker (not made by this function, or "
            "by an older run that was interrupted); remove it or pass a different `cache_dir`."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / f"speech_commands_{version}.tar.gz"
    if not archive.is_file():
        _fetch(url, archive, progress=progress, timeout=timeout)

    try:
        if sha256 is not None:
            digest = _sha256(archive)
            if digest != sha256.lower():
                raise ArchiveError(f"{archive} has sha256 {digest}, expected {sha256.lower()}")
        extract_archive(archive, destination, progress=progress, source=url)
    except ArchiveError as err:
        archive.unlink(missing_ok=True)
        raise type(err)(f"{err}; deleted it, a new run downloads it again.") from None
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return destination


def _fetch(url: str, archive: Path, *, progress: bool, timeout: float) -> None:
    """Downloads ``url`` to ``archive`` through ``archive.part``, resuming a previous part."""
    part = archive.with_name(archive.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "audiomix"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            # The part is as long as the file or longer: its end is unknown, so start over.
            part.unlink()
            return _fetch(url, archive, progress=progress, timeout=timeout)
        raise DownloadError(f"downloading {url} failed: HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"downloading {url} failed: {reason}.") from None

    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        if offset and getattr(response, "status", 200) == 206:
            if not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
                # Some other range came back: start over rather than splice it in.
                response.close()
                part.unlink()
                return _fetch(url, archive, progress=progress, timeout=timeout)
            mode = "ab"
        else:
            offset, mode = 0, "wb"  # no resume offered: the body is the whole file
        total = offset + expected if expected is not None else None
        received = 0
        with (
            open(part, mode) as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=archive.name,
                disable=not progress,
            ) as bar,
        ):
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as err:
                raise DownloadError(
                    f"downloading {url} was interrupted after {offset + received} bytes ({err}); "
                    f"rerun to resume from {part}."
                ) from None
    if expected is not None and received != expected:
        raise DownloadError(
            f"downloading {url} is truncated: got {offset + received} of {total} bytes; rerun to "
            f"resume from {part}."
        )
    os.replace(part, archive)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _inside(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory


def _check_member(member: tarfile.TarInfo, destination: str) -> None:
    """Rejects a member that could write outside ``destination`` (a resolved real path).

    Paths are resolved with ``realpath`` against what is already extracted, so a member that
    goes through an earlier symlink is judged by where it really lands.
    """
    name = member.name
    if not name or name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    if ".." in re.split(r"[/\\]", name):
        raise UnsafeArchiveError(f"archive member {name!r} contains '..'")
    path = os.path.join(destination, name)
    if not _inside(os.path.realpath(path), destination):
        raise UnsafeArchiveError(
            f"archive member {name!r} resolves outside the destination (through a link)"
        )
    if member.issym():
        link = member.linkname
        target = os.path.realpath(os.path.join(os.path.dirname(path), link))
        if os.path.isabs(link) or not _inside(target, destination):
            raise UnsafeArchiveError(
                f"archive member {name!r} is a symlink to {link!r}, outside the destination"
            )
    elif member.islnk():
        link = member.linkname
        target = os.path.realpath(os.path.join(destination, link))
        if os.path.isabs(link) or not _inside(target, destination):
            raise UnsafeArchiveError(
                f"archive member {name!r} is a hard link to {link!r}, outside the destination"
            )
    elif not (member.isfile() or member.isdir()):
        kind = (
            "a FIFO"
            if member.isfifo()
            else "a device file"
            if member.isdev()
            else "not a regular file"
        )
        raise UnsafeArchiveError(f"archive member {name!r} is {kind}")


def _dataset_root(folder: Path) -> Path:
    """The folder itself, or its single subfolder when the archive wrapped the dataset in one.

    The official archives hold the word folders at their top level; a wrapper folder is
    recognised as a single directory without .wav files of its own.
    """
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        if not any(p.suffix == ".wav" for p in entries[0].iterdir()):
            return entries[0]
    return folder


def extract_archive(
    archive: str | os.PathLike,
    destination: str | os.PathLike,
    *,
    progress: bool = False,
    source: str | None = None,
) -> Path:
    """Extracts a ``tar.gz`` safely and atomically into a new folder.

    The archive is read as a stream, each member checked before it is written: absolute paths,
    ``..`` components, symlinks or hard links resolving outside the destination, paths through
    such links, and device or FIFO members raise :class:`UnsafeArchiveError`. Where Python has
    it, tarfile's ``"data"`` filter applies too (it also drops setuid bits and ownership).
    Members go to a temporary sibling folder that is renamed to ``destination`` once complete,
    with a marker file inside; on any error the temporary folder is removed.

    Args:
        archive (str or PathLike): a gzip-compressed tar file.
        destination (str or PathLike): folder to create; must not exist.
        progress (bool): show a tqdm counter of members. (Default: ``False``)
        source (str or None): recorded in the marker file. (Default: ``None``)

    Returns:
        Path: ``destination``.

    Raises:
        ArchiveError: not gzip, or a corrupt or truncated archive.
        UnsafeArchiveError: a member is unsafe; nothing is left behind.
        FileExistsError: ``destination`` exists.
    """
    archive, destination = Path(archive), Path(destination)
    with open(archive, "rb") as f:
        magic = f.read(2)
    if magic != b"\x1f\x8b":
        raise ArchiveError(f"{archive} is not a gzip file (it starts with {magic!r})")
    if destination.exists():
        raise FileExistsError(f"`destination` must not exist, but {destination} does.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(
        tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    )
    real = os.path.realpath(temporary)
    try:
        # gzip.open, not tarfile's "r|gz": it checks the gzip trailer (CRC, length), so a file
        # cut after the last member (the tar end blocks, the trailer) is caught too.
        with gzip.open(archive, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tqdm(
                tar, unit=" files", desc=f"extracting {archive.name}", disable=not progress
            ):
                _check_member(member, real)
                if _HAS_DATA_FILTER:
                    tar.extract(member, real, filter="data")
                else:
                    tar.extract(member, real, set_attrs=False)
            while stream.read(_CHUNK):
                pass
        root = _dataset_root(temporary)
        (root / MARKER).write_text(f"{source or archive}\n", encoding="utf-8")
        os.rename(root, destination)
    except (UnsafeArchiveError, _FILTER_ERROR) as err:
        raise UnsafeArchiveError(f"{archive}: {err}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        if isinstance(err, OSError) and err.filename is not None:
            raise  # a local file-system problem (disk full, permissions), not the archive
        raise ArchiveError(f"{archive} is corrupt or truncated ({err})") from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return destination
