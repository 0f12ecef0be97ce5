"""csp fetch: downloads from a local HTTP server (127.0.0.1, in a thread) serving fixture archives.

No test touches the internet. The server supports HTTP Range requests and can be told to
fail, to cut a transfer short, or to ignore ranges, so retries, resume and the size and
checksum checks are exercised.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from csp_analysis import cli, fetch, ingest, params, store

STREET = ",".join(ingest.STREET_HEADER) + "\n"
SS = ",".join(ingest.STOP_SEARCH_HEADER) + "\n"


def _street(month: str, force: str, n: int) -> bytes:
    rows = [f"{i:064x},{month},{force} Police,{force} Police,-1.500000,53.500000,On or near Mill Lane,"
            f"X01000001,Testville 001A,Burglary,Under investigation," for i in range(1, n + 1)]
    return (STREET + "\n".join(rows) + "\n").encode()


def _ss(month: str, n: int) -> bytes:
    rows = [f"Person search,{month}-02T10:00:00+00:00,False,,53.500000,-1.500000,Male,18-24,,White,"
            "Misuse of Drugs Act 1971 (section 23),Controlled drugs,A no further action disposal,False,False"
            for _ in range(n)]
    return (SS + "\n".join(rows) + "\n").encode()


def _archive(last: str, forces=("xa", "xb"), skip=()) -> bytes:
    """A data.police.uk-like archive: YYYY-MM/YYYY-MM-<force>-<kind>.csv for 36 months to ``last``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for m in fetch.months_between(fetch._shift(last, -35), last):
            for f in forces:
                if (m, f) in skip:
                    continue
                z.writestr(f"{m}/{m}-{f}-street.csv", _street(m, f, 3 + int(m[-2:])))
                z.writestr(f"{m}/{m}-{f}-stop-and-search.csv", _ss(m, 2))
                z.writestr(f"{m}/{m}-{f}-outcomes.csv", b"Crime ID,Month\n")
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    fail: dict[str, int] = {}  # path -> number of 503 answers still to give
    cut: dict[str, int] = {}  # path -> number of transfers still to cut at half
    ignore_range = False
    log: list[tuple[str, str | None]] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        type(self).log.append((self.path, rng))
        if self.fail.get(self.path, 0) > 0:
            self.fail[self.path] -= 1
            self.send_error(503, "try later")
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "not found")
            return
        start = 0
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if_range = self.headers.get("If-Range")
        if rng and if_range and if_range != etag:
            rng = None  # the file changed since the partial transfer: send it whole
        if rng and not self.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_error(416, "range not satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        part = body[start:]
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if self.cut.get(self.path, 0) > 0:
            self.cut[self.path] -= 1
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(part)


@pytest.fixture()
def server(monkeypatch):
    _Handler.files, _Handler.fail, _Handler.cut, _Handler.log = {}, {}, {}, []
    _Handler.ignore_range = False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    monkeypatch.setattr(fetch, "CHUNK", 4096)  # small blocks so a cut transfer leaves a partial file
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler
    httpd.shutdown()
    httpd.server_close()


def _params(tmp_path: Path, start="2025-10", end="2025-12", forces=("xa",)) -> Path:
    d = tmp_path / "params"
    d.mkdir(exist_ok=True)
    (d / "testville.yaml").write_text(
        f"name: Testville\nslug: testville\ngroup: fetchtest\nlad_codes: [X07000001]\n"
        f"forces: [{', '.join(forces)}]\nwindow: {{start: {start}, end: {end}}}\n")
    return d


def test_download_retries_resumes_and_checks(server, tmp_path):
    url, h = server
    body = bytes(range(256)) * 200  # 51,200 bytes
    h.files["/f.bin"] = body
    h.fail["/f.bin"] = 2
    h.cut["/f.bin"] = 1
    d = fetch.download(url + "/f.bin", tmp_path / "f.bin", retries=4, backoff=0.01,
                       expected_sha256=hashlib.sha256(body).hexdigest())
    assert (tmp_path / "f.bin").read_bytes() == body and d.status == "resumed" and d.attempts == 4
    ranges = [r for p, r in h.log if p == "/f.bin"]
    assert ranges[:3] == [None, None, None] and ranges[3] == "bytes=25600-"  # resumed after the cut
    assert not (tmp_path / "f.bin.part").exists()
    # complete already: nothing is requested
    n = len(h.log)
    assert fetch.download(url + "/f.bin", tmp_path / "f.bin").status == "cached" and len(h.log) == n


def test_changed_file_is_not_spliced_onto_an_old_part(server, tmp_path):
    url, h = server
    h.files["/v.bin"] = b"a" * 20_000
    h.cut["/v.bin"] = 1
    with pytest.raises(fetch.FetchError):
        fetch.download(url + "/v.bin", tmp_path / "v.bin", retries=0)
    assert (tmp_path / "v.bin.part").stat().st_size == 10_000
    h.files["/v.bin"] = b"b" * 20_000  # a new version is published before the resume
    d = fetch.download(url + "/v.bin", tmp_path / "v.bin", retries=1, backoff=0.01)
    assert (tmp_path / "v.bin").read_bytes() == b"b" * 20_000 and d.status == "downloaded"
    assert h.log[-1][1] == "bytes=10000-"  # a resume was asked for, with If-Range, and refused
    assert not (tmp_path / "v.bin.part.validator").exists()
    # refresh: a complete file is fetched again instead of reused
    assert fetch.download(url + "/v.bin", tmp_path / "v.bin", reuse=False).status == "downloaded"


def test_server_ignoring_ranges_restarts_cleanly(server, tmp_path):
    url, h = server
    body = b"x" * 30_000
    h.files["/g.bin"] = body
    h.cut["/g.bin"] = 1
    h.ignore_range = True
    d = fetch.download(url + "/g.bin", tmp_path / "g.bin", retries=2, backoff=0.01)
    assert (tmp_path / "g.bin").read_bytes() == body and d.status == "downloaded"


def test_checksum_mismatch_and_http_errors(server, tmp_path):
    url, h = server
    h.files["/c.bin"] = b"abc"
    with pytest.raises(fetch.FetchError, match="sha256"):
        fetch.download(url + "/c.bin", tmp_path / "c.bin", retries=1, backoff=0.01, expected_sha256="0" * 64)
    assert not (tmp_path / "c.bin").exists()
    with pytest.raises(fetch.FetchError, match="HTTP 404 .*not published"):
        fetch.download(url + "/none.zip", tmp_path / "n.zip", retries=3, backoff=0.01)
    assert sum(p == "/none.zip" for p, _ in h.log) == 1  # 404 is not retried
    h.fail["/c.bin"] = 10
    with pytest.raises(fetch.FetchError, match="failed after 3 attempts"):
        fetch.download(url + "/c.bin", tmp_path / "c2.bin", retries=2, backoff=0.01)


def test_offline_is_one_clear_line(tmp_path, capsys):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connection refused
    with pytest.raises(fetch.OfflineError) as e:
        fetch.download(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", retries=1, backoff=0.01)
    assert str(e.value).startswith(f"offline: cannot reach 127.0.0.1:{port}") and "\n" not in str(e.value)
    d = _params(tmp_path)
    rc = cli.main(["fetch", "testville", "--params-dir", str(d), "--dest", str(tmp_path / "dl"),
                   "--store", str(tmp_path / "s.duckdb"), "--retries", "0", "--backoff", "0.01",
                   "--archive-url", f"http://127.0.0.1:{port}/{{month}}.zip"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 3 and len(err) == 1 and err[0].startswith("offline:")
    assert not (tmp_path / "s.duckdb").exists()


def test_fetch_archive_then_ingest_then_only_what_changed(server, tmp_path, capsys):
    url, h = server
    h.files["/archive/2025-12.zip"] = _archive("2025-12", skip={("2025-11", "xa")})
    d = _params(tmp_path)
    db, dl = tmp_path / "s.duckdb", tmp_path / "dl"
    args = ["fetch", "testville", "--params-dir", str(d), "--dest", str(dl), "--store", str(db), "--quiet",
            "--backoff", "0.01", "--archive-url", url + "/archive/{month}.zip"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "6 force-month file(s) wanted" in out and "4 file(s) ready to ingest" in out
    assert "2 not published: 2025-11-xa-stop-and-search.csv, 2025-11-xa-street.csv" in out
    files = sorted(p.name for p in dl.rglob("*.csv"))
    assert files == ["2025-10-xa-stop-and-search.csv", "2025-10-xa-street.csv",
                     "2025-12-xa-stop-and-search.csv", "2025-12-xa-street.csv"]  # only this force, no outcomes
    assert not (dl / "archives" / "2025-12.zip").exists()  # archive removed after extraction
    manifest = (dl / "fetch_manifest.json").read_text()
    assert "2025-12/2025-12-xa-street.csv" in manifest and "sha256" in manifest
    con = store.connect(db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM street").fetchone()[0] == (3 + 10) + (3 + 12)
        assert con.execute("SELECT count(*) FROM stop_search").fetchone()[0] == 4
    finally:
        con.close()
    # next month: only what is not in the store is fetched (2025-11 is still unpublished)
    n = len(h.log)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "4 already in the store" in out and "1 download(s)" in out and "0 file(s) ready" in out
    # a new month in the window: the new archive supplies just that month
    h.files["/archive/2026-01.zip"] = _archive("2026-01")
    d = _params(tmp_path, end="2026-01")
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "4 file(s) ready to ingest" in out  # 2026-01, and 2025-11, published in the newer archive
    assert [p for p, _ in h.log[n:]][-1] == "/archive/2026-01.zip"
    # the newest month is not published yet: the previous archive is used, the month reported missing
    d = _params(tmp_path, end="2026-02")
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "2 not published: 2026-02-xa-stop-and-search.csv, 2026-02-xa-street.csv" in out
    assert [p for p, _ in h.log][-2:] == ["/archive/2026-02.zip", "/archive/2026-01.zip"]


def test_corrupt_archive_is_rejected_and_removed(server, tmp_path):
    url, h = server
    good = _archive("2025-12")
    bad = bytearray(good)
    i = good.index(b"2025-12/2025-12-xa-street.csv") + 200  # inside a member's compressed data
    bad[i:i + 8] = b"\x00" * 8
    h.files["/a/2025-12.zip"] = bytes(bad)
    p = params.Partnership.model_validate({"name": "T", "slug": "t", "lad_codes": ["X07000001"], "forces": ["xa"],
                                           "window": {"start": "2025-12", "end": "2025-12"}})
    with pytest.raises(fetch.FetchError, match="corrupt|not a valid zip"):
        fetch.fetch([p], tmp_path, archive_url=url + "/a/{month}.zip", backoff=0.01, log=lambda s: None)
    assert not (tmp_path / "archives" / "2025-12.zip").exists()


def test_per_file_source_with_checksums(server, tmp_path):
    url, h = server
    body = _street("2025-12", "xa", 5)
    h.files["/m/2025-12/2025-12-xa-street.csv"] = body
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{hashlib.sha256(body).hexdigest()}  2025-12-xa-street.csv\n")
    p = params.Partnership.model_validate({"name": "T", "slug": "t", "lad_codes": ["X07000001"], "forces": ["xa"],
                                           "window": {"start": "2025-12", "end": "2025-12"}})
    res = fetch.fetch([p], tmp_path / "dl", source="files", url_template=url + "/m/{month}/{month}-{force}-{kind}.csv",
                      checksums=fetch.read_checksums(sums), backoff=0.01)
    assert [Path(f).name for f in res.files] == ["2025-12-xa-street.csv"]
    assert res.missing == ["2025-12-xa-stop-and-search.csv"]
    sums.write_text("not a checksum line\n")
    with pytest.raises(fetch.FetchError, match="line 1"):
        fetch.read_checksums(sums)


def test_long_window_uses_an_older_archive_too(server, tmp_path):
    url, h = server
    h.files["/a/2025-12.zip"] = _archive("2025-12")
    h.files["/a/2022-12.zip"] = _archive("2022-12")
    p = params.Partnership.model_validate({"name": "T", "slug": "t", "lad_codes": ["X07000001"], "forces": ["xb"],
                                           "window": {"start": "2022-11", "end": "2025-12"}})
    res = fetch.fetch([p], tmp_path, archive_url=url + "/a/{month}.zip", kinds=("street",), backoff=0.01,
                      log=lambda s: None)
    assert [Path(d.path).name for d in res.downloads] == ["2025-12.zip", "2022-12.zip"]
    assert len(res.files) == 38 and not res.missing
