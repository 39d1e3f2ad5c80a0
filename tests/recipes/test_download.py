"""Tests of recipes/speech_commands/download.py against a local HTTP server on 127.0.0.1.

Archives are made here; nothing contacts the internet.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from recipes.speech_commands import download as dl
from recipes.speech_commands.dataset import SpeechCommands
from recipes.speech_commands.download import (
    MARKER,
    ArchiveError,
    DownloadError,
    UnsafeArchiveError,
    download_speech_commands,
    extract_archive,
)

SR = 16000
CLIPS = [
    f"{word}/{speaker}_nohash_0.wav"
    for word in ("yes", "no", "cat")
    for speaker in ("00000000", "00000001", "00000002")
]


def _wav_bytes(seconds: float, seed: int) -> bytes:
    data = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR)).astype(np.float32)
    out = io.BytesIO()
    sf.write(out, data, SR, format="WAV", subtype="PCM_16")
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _archive(prefix: str = "./", extra=()) -> bytes:
    """A tiny Speech Commands archive: 9 clips of 0.1 s, one noise file, the two lists.

    ``extra`` adds TarInfo members (with empty data) after the good ones.
    """
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for i, rel in enumerate(CLIPS):
            _add(tar, prefix + rel, _wav_bytes(0.1, i))
        _add(tar, prefix + "_background_noise_/white_noise.wav", _wav_bytes(2.0, 99))
        _add(tar, prefix + "validation_list.txt", b"yes/00000000_nohash_0.wav\n")
        _add(tar, prefix + "testing_list.txt", b"no/00000002_nohash_0.wav\n")
        _add(tar, prefix + "README.md", b"tiny\n")
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return out.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = 1 if kind == tarfile.REGTYPE else 0
    return info


class _Server:
    """Serves ``files`` by name; ``modes[name]`` may be "truncate" (send half of the body,
    then close) or "norange" (ignore Range requests). Records (path, Range header) per request.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                asked = self.headers.get("Range")
                server.requests.append((name, asked))
                if name not in server.files:
                    self.send_error(404)
                    return
                body, mode = server.files[name], server.modes.get(name, "ok")
                start = 0
                if asked and mode != "norange":
                    start = int(re.fullmatch(r"bytes=(\d+)-", asked)[1])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if mode == "truncate":
                    payload = payload[: len(payload) // 2]
                    self.close_connection = True
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def good() -> bytes:
    return _archive()


def _download(server: _Server, cache: Path, name: str = "sc.tar.gz", **kwargs) -> Path:
    return download_speech_commands(cache, url=server.url(name), progress=False, **kwargs)


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_download_extracts_the_dataset_and_is_idempotent(server, good, tmp_path):
    server.files["sc.tar.gz"] = good
    cache = tmp_path / "cache"
    root = download_speech_commands(cache, url=server.url("sc.tar.gz"), progress=True)
    assert root == cache / "speech_commands_v0.02"
    assert (root / MARKER).read_text().strip() == server.url("sc.tar.gz")
    assert sorted(f"{p.parent.name}/{p.name}" for p in root.glob("[!_]*/*.wav")) == sorted(CLIPS)
    assert _leftovers(cache) == ["speech_commands_v0.02"]  # archive and temporaries gone
    ds = SpeechCommands(root, "validation", task="35")
    assert [p.name for p in ds.paths] == ["00000000_nohash_0.wav"]
    assert _download(server, cache) == root
    assert len(server.requests) == 1  # the second call fetched nothing


def test_keep_archive_and_sha256(server, good, tmp_path):
    server.files["sc.tar.gz"] = good
    digest = hashlib.sha256(good).hexdigest()
    root = _download(server, tmp_path, keep_archive=True, sha256=digest.upper())
    assert (tmp_path / "speech_commands_v0.02.tar.gz").read_bytes() == good
    assert (root / "README.md").is_file()


def test_wrong_sha256_deletes_the_archive(server, good, tmp_path):
    server.files["sc.tar.gz"] = good
    with pytest.raises(ArchiveError, match=r"has sha256 [0-9a-f]{64}, expected 0{64}; deleted it"):
        _download(server, tmp_path, sha256="0" * 64)
    assert _leftovers(tmp_path) == []


def test_archive_with_a_wrapper_folder_is_unwrapped(server, tmp_path):
    server.files["sc.tar.gz"] = _archive(prefix="speech_commands_v0.02/")
    root = _download(server, tmp_path)
    assert (root / "validation_list.txt").is_file() and (root / "yes").is_dir()


def test_truncated_download_is_an_error_then_resumes(server, good, tmp_path):
    server.files["sc.tar.gz"] = good
    server.modes["sc.tar.gz"] = "truncate"
    half = len(good) // 2
    with pytest.raises(
        DownloadError, match=rf"is truncated: got {half} of {len(good)} bytes; rerun to resume"
    ):
        _download(server, tmp_path)
    part = tmp_path / "speech_commands_v0.02.tar.gz.part"
    assert part.stat().st_size == half
    assert not (tmp_path / "speech_commands_v0.02").exists()
    del server.modes["sc.tar.gz"]
    root = _download(server, tmp_path)
    assert server.requests[-1] == ("sc.tar.gz", f"bytes={half}-")
    assert (root / MARKER).is_file() and _leftovers(tmp_path) == ["speech_commands_v0.02"]


def test_a_server_ignoring_range_restarts_the_download(server, good, tmp_path):
    server.files["sc.tar.gz"] = good
    server.modes["sc.tar.gz"] = "norange"
    (tmp_path / "speech_commands_v0.02.tar.gz.part").write_bytes(b"stale bytes of another file")
    root = _download(server, tmp_path, keep_archive=True)
    assert server.requests[-1][1] == "bytes=27-"
    assert (tmp_path / "speech_commands_v0.02.tar.gz").read_bytes() == good
    assert (root / "README.md").is_file()


def test_a_part_longer_than_the_file_restarts_the_download(server, good, tmp_path):
    server.files["sc.tar.gz"] = good
    (tmp_path / "speech_commands_v0.02.tar.gz.part").write_bytes(good + b"junk")
    root = _download(server, tmp_path)
    assert [r[1] for r in server.requests] == [f"bytes={len(good) + 4}-", None]
    assert (root / MARKER).is_file()


def test_http_errors_and_bad_files_are_clear(server, good, tmp_path):
    with pytest.raises(
        DownloadError, match=r"downloading http://127\.0\.0\.1:\d+/missing failed: HTTP 404"
    ):
        _download(server, tmp_path, name="missing")
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(
        DownloadError, match=rf"downloading http://127\.0\.0\.1:{port}/x failed: .*refused"
    ):
        download_speech_commands(tmp_path, url=f"http://127.0.0.1:{port}/x", progress=False)
    server.files["page"] = b"<html>moved</html>"
    with pytest.raises(
        ArchiveError, match=r"is not a gzip file \(it starts with b'<h'\); deleted it"
    ):
        _download(server, tmp_path, name="page")
    server.files["cut.tar.gz"] = good[:-200]  # a complete transfer of a damaged file
    with pytest.raises(ArchiveError, match="is corrupt or truncated"):
        _download(server, tmp_path, name="cut.tar.gz")
    assert _leftovers(tmp_path) == []  # damaged archives and temporary folders removed
    server.files["sc.tar.gz"] = good
    assert (_download(server, tmp_path) / MARKER).is_file()


def test_arguments_are_checked(tmp_path):
    with pytest.raises(
        ValueError, match=r"`version` must be one of \['v0.01', 'v0.02'\], but got 'v3'"
    ):
        download_speech_commands(tmp_path, version="v3")
    with pytest.raises(
        ValueError, match="`url` must be an http, https or file URL, but got 'ftp://x/y'"
    ):
        download_speech_commands(tmp_path, url="ftp://x/y")
    with pytest.raises(ValueError, match="`sha256` must be 64 hexadecimal digits"):
        download_speech_commands(tmp_path, url="http://127.0.0.1:9/x", sha256="abc")
    with pytest.raises(ValueError, match="`timeout` must be > 0, but got 0"):
        download_speech_commands(tmp_path, url="http://127.0.0.1:9/x", timeout=0)
    (tmp_path / "speech_commands_v0.01").mkdir()
    with pytest.raises(FileExistsError, match="exists but has no .audiomix_complete marker"):
        download_speech_commands(tmp_path, version="v0.01", url="http://127.0.0.1:9/x")
    assert download_speech_commands.__kwdefaults__["url"] is None
    assert (
        dl.OFFICIAL_URLS["v0.02"]
        == "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
    )


# ------------------------------------------------------------------------------------------
# Malicious archives
# ------------------------------------------------------------------------------------------


def _malicious(outside: Path) -> dict[str, tuple[list[tarfile.TarInfo], str]]:
    """Archive extras that must be rejected, with the message expected."""
    return {
        "absolute": ([_member(str(outside / "abs.txt"))], "has an absolute path"),
        "dotdot": ([_member("yes/../../outside/dotdot.txt")], "contains '..'"),
        "symlink-out": (
            [_member("escape", tarfile.SYMTYPE, "../outside"), _member("escape/through.txt")],
            r"'escape' is a symlink to '../outside', outside the destination",
        ),
        "symlink-absolute": ([_member("etc", tarfile.SYMTYPE, str(outside))], "is a symlink to '/"),
        # Lexically inside ("d/../outside") but "d" points at the top, so it lands outside.
        "symlink-chain": (
            [_member("d", tarfile.SYMTYPE, "."), _member("d/up", tarfile.SYMTYPE, "../outside")],
            r"'d/up' is a symlink to '../outside', outside the destination",
        ),
        "hardlink-out": (
            [_member("hard", tarfile.LNKTYPE, "../outside/x")],
            "is a hard link to '../outside/x'",
        ),
        "device": ([_member("dev", tarfile.CHRTYPE)], "'dev' is a device file"),
        "fifo": ([_member("pipe", tarfile.FIFOTYPE)], "'pipe' is a FIFO"),
    }


CASES = sorted(_malicious(Path("/x")))


@pytest.mark.parametrize("data_filter", [True, False], ids=["data-filter", "own-checks-only"])
@pytest.mark.parametrize("case", CASES)
def test_malicious_archives_are_rejected_and_write_nothing(
    case, data_filter, tmp_path, monkeypatch
):
    monkeypatch.setattr(dl, "_HAS_DATA_FILTER", data_filter and dl._HAS_DATA_FILTER)
    outside = tmp_path / "outside"
    outside.mkdir()
    extra, message = _malicious(outside)[case]
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_archive(extra=extra))
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(UnsafeArchiveError, match=message):
        extract_archive(archive, cache / "sc")
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz", "cache", "outside"]
    assert _leftovers(cache) == []


def test_malicious_download_is_deleted(server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    server.files["sc.tar.gz"] = _archive(extra=_malicious(outside)["dotdot"][0])
    cache = tmp_path / "cache"
    with pytest.raises(
        UnsafeArchiveError, match=r"contains '\.\.'; deleted it, a new run downloads it again"
    ):
        _download(server, cache)
    assert _leftovers(cache) == [] and list(outside.iterdir()) == []


@pytest.mark.parametrize("data_filter", [True, False], ids=["data-filter", "own-checks-only"])
def test_links_inside_the_archive_are_allowed(data_filter, tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "_HAS_DATA_FILTER", data_filter and dl._HAS_DATA_FILTER)
    archive = tmp_path / "ok.tar.gz"
    extra = [
        _member("alias", tarfile.SYMTYPE, "yes"),
        _member("copy.wav", tarfile.LNKTYPE, "./yes/00000000_nohash_0.wav"),
    ]
    archive.write_bytes(_archive(extra=extra))
    root = extract_archive(archive, tmp_path / "sc")
    assert (root / "alias" / "00000001_nohash_0.wav").is_file()
    assert (root / "copy.wav").read_bytes() == (root / "yes" / "00000000_nohash_0.wav").read_bytes()
    with pytest.raises(FileExistsError, match="`destination` must not exist"):
        extract_archive(archive, root)
