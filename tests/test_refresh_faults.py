"""``cnisim catalog refresh`` against endpoints that misbehave, and writes that fail.

Every endpoint is a server on 127.0.0.1 started here (moto's, or a few lines of socket code
that drip, stall, or answer HTML or garbage); nothing reaches another address. Each case runs
the installed command as a user would and asks for: a non-zero exit, one line on stderr, the
old snapshot byte for byte, and no file left behind. Write failures use a file-size limit
(RLIMIT_FSIZE, set in the child only) and ``/dev/full``: the tests run as root, so mode bits
would not make a directory read-only.
"""

from __future__ import annotations

import contextlib
import importlib
import resource
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clihelp import CNISIM, MOTO_TIMEOUT, assert_one_line_error, run_cnisim

from cnisim.catalog import PROVENANCE_FILE, RAW_FILE, TABLE_FILE

PACKAGED_DIR = Path(str(importlib.import_module("cnisim.data").__file__)).parent
SNAPSHOT_FILES = (RAW_FILE, TABLE_FILE, PROVENANCE_FILE)

pytestmark = pytest.mark.usefixtures("aws_credentials")


def old_snapshot(directory: Path) -> dict[str, bytes]:
    """A copy of the packaged snapshot in ``directory``; its bytes per file name."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in SNAPSHOT_FILES:
        (directory / name).write_bytes((PACKAGED_DIR / name).read_bytes())
    return every_file(directory)


def every_file(directory: Path) -> dict[str, bytes]:
    """Every file in ``directory``, hidden temp files included (not subdirectories)."""
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


class TinyServer:
    """A TCP server on 127.0.0.1 whose every connection is handed to ``serve(conn)``."""

    def __init__(self, serve: Callable[[socket.socket, threading.Event], None]) -> None:
        self._serve = serve
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _handle(self, conn: socket.socket) -> None:
        # OSError: the client gave up, which is the point of most of these servers.
        with conn, contextlib.suppress(OSError):
            self._serve(conn, self._stop)

    def close(self) -> None:
        self._stop.set()
        self._accepting.join()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()


def read_request(conn: socket.socket) -> None:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


def answer_html(conn: socket.socket, stop: threading.Event) -> None:
    """HTTP 200 with a web page, as a captive portal or a proxy's login page answers."""
    read_request(conn)
    body = b"<html><body><h1>Please log in</h1></body></html>"
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def answer_garbage(conn: socket.socket, stop: threading.Event) -> None:
    """Bytes that are not HTTP at all."""
    read_request(conn)
    conn.sendall(bytes(range(256)) * 4)


def drip(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 whose body comes one byte every 0.2 s: no single read ever times out."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.2):
        conn.sendall(b" ")


def stall(conn: socket.socket, stop: threading.Event) -> None:
    """Accept the connection, read the request, never answer."""
    read_request(conn)
    stop.wait()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[TinyServer]:
    tiny = TinyServer(request.param)
    yield tiny
    tiny.close()


def refresh(
    output: Path, endpoint: str, *extra: str, **kwargs: object
) -> subprocess.CompletedProcess:
    args = ["catalog", "refresh", "-r", "us-east-1", "--endpoint-url", endpoint]
    return subprocess.run(
        [str(CNISIM), *args, "--output", str(output), *extra],
        capture_output=True,
        text=True,
        timeout=200,  # a hang guard, above any --timeout given here
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize(
    ("server", "fragment"),
    [
        (answer_html, "not an EC2 response"),
        (answer_garbage, "EC2"),
        (drip, "within 2 s"),
        (stall, "within 2 s"),
    ],
    indirect=["server"],
    ids=["html", "garbage", "drip", "stall"],
)
def test_misbehaving_endpoint_fails_in_one_line_and_keeps_the_snapshot(
    tmp_path: Path, server: TinyServer, fragment: str
) -> None:
    before = old_snapshot(tmp_path)
    started_s = time.monotonic()
    done = refresh(tmp_path, server.url, "--timeout", "2")
    elapsed_s = time.monotonic() - started_s
    assert done.returncode == 1 and done.stdout == ""
    assert_one_line_error(done.stderr, fragment)
    assert every_file(tmp_path) == before
    # The deadline is total: well under the 4 attempts x 10 s read timeout it replaced.
    assert elapsed_s < 20


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("http://127.0.0.1:99999", "--endpoint-url"),
        ("http://127.0.0.1:0", "port 0"),
        ("ftp://127.0.0.1:21", "http"),
        ("http://", "http"),
    ],
)
def test_malformed_endpoint_is_a_usage_error(tmp_path: Path, endpoint: str, fragment: str) -> None:
    before = old_snapshot(tmp_path)
    done = refresh(tmp_path, endpoint)
    assert done.returncode == 2
    assert_one_line_error(done.stderr, fragment)
    assert every_file(tmp_path) == before


def test_malformed_region_is_blamed_on_the_region(tmp_path: Path, moto_endpoint: str) -> None:
    args = ["catalog", "refresh", "-r", "us east 1", "--endpoint-url", moto_endpoint]
    done = run_cnisim(*args, "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "--region")
    assert "--endpoint-url" not in done.stderr


@pytest.mark.parametrize("output", ["", "   "])
def test_empty_output_is_refused(tmp_path: Path, moto_endpoint: str, output: str) -> None:
    args = ["catalog", "refresh", "-r", "us-east-1", "--endpoint-url", moto_endpoint]
    done = run_cnisim(*args, "--output", output, cwd=tmp_path)
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "--output")
    assert list(tmp_path.iterdir()) == []


def test_the_packaged_snapshot_is_never_overwritten(tmp_path: Path, moto_endpoint: str) -> None:
    before = every_file(PACKAGED_DIR)
    for target in (PACKAGED_DIR, PACKAGED_DIR / "sub"):
        args = ["catalog", "refresh", "-r", "us-east-1", "--endpoint-url", moto_endpoint]
        done = run_cnisim(*args, "--output", str(target), cwd=tmp_path)
        assert done.returncode == 2
        assert_one_line_error(done.stderr, "shipped with cnisim")
    assert every_file(PACKAGED_DIR) == before


def limit_file_size(n_bytes: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))

    return limit


@pytest.mark.parametrize("n_bytes", [0, 4096, 100_000])
def test_file_size_limit_while_writing_keeps_the_old_snapshot(
    tmp_path: Path, moto_endpoint: str, n_bytes: int
) -> None:
    # 0: the first file fails at once; 4096: part-way into the first; 100,000: the raw file
    # (~86 kB) fits and the table (~135 kB) does not.
    before = old_snapshot(tmp_path)
    done = refresh(tmp_path, moto_endpoint, *MOTO_TIMEOUT, preexec_fn=limit_file_size(n_bytes))
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "cannot write the snapshot", "old snapshot is kept")
    assert every_file(tmp_path) == before


def test_file_size_limit_on_a_new_directory_leaves_nothing(
    tmp_path: Path, moto_endpoint: str
) -> None:
    out = tmp_path / "new"
    done = refresh(out, moto_endpoint, *MOTO_TIMEOUT, preexec_fn=limit_file_size(50_000))
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "cannot write the snapshot")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["maxpods", "t3.large"],
        ["maxpods", "--all", "-o", "json"],
        ["describe", "m5.large"],
        ["warmpool", "t3.small", "-o", "csv"],
        ["catalog", "info"],
    ],
)
def test_output_to_a_full_disk_or_past_a_file_size_limit_fails_in_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(CNISIM), *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "cannot write the output")
    # Past a file-size limit: the answer is cut short, which must not pass for success.
    with open(tmp_path / "out.txt", "w") as out:
        done = subprocess.run(
            [str(CNISIM), *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            preexec_fn=limit_file_size(1),
        )
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "cannot write the output")


def test_closed_stdout_fails_in_one_line() -> None:
    done = subprocess.run(
        [str(CNISIM), "maxpods", "t3.large"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=lambda: __import__("os").close(1),
    )
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "stdout is closed")


def test_a_reader_that_stops_early_ends_cnisim_quietly() -> None:
    # `cnisim maxpods --all -o json | head -c 10`: the pipe closes; exit 1 without a word, as
    # click does (no traceback, no "Exception ignored" at exit).
    reader = subprocess.Popen(
        ["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    assert reader.stdin is not None
    done = subprocess.run(
        [str(CNISIM), "maxpods", "--all", "-o", "json"],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    reader.stdin.close()
    reader.wait(timeout=60)
    assert (done.returncode, done.stderr) == (1, "")
