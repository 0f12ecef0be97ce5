"""Download the data.police.uk files a partnership needs (``csp fetch``), then ingest them.

Sources
-------
``archive`` (default)
    The published monthly archives, ``https://data.police.uk/data/archive/YYYY-MM.zip``:
    each holds every force's street, stop-and-search and outcomes files for the
    :data:`ARCHIVE_MONTHS` months up to ``YYYY-MM``. The newest archive (the last month
    wanted, or an earlier one when that month is not published yet) is downloaded once, older
    archives only for months it does not cover, and only the files of the partnerships'
    forces and months are extracted (an archive is 1-2 GB; the extracted files are kept).
``files``
    One URL per file from a template such as
    ``https://mirror.example/{month}/{month}-{force}-{kind}.csv`` (a mirror, or files
    saved from the custom-download page), with ``{month}``, ``{force}`` and ``{kind}``
    (``street`` or ``stop-and-search``) filled in.

Guarantees
----------
* **Retries**: a failed request (connection error, timeout, HTTP 5xx or 429) is retried
  with exponential back-off; HTTP 4xx other than 429 is not retried (404: not published).
* **Resume**: a download goes to ``<file>.part``; an interrupted one continues from where
  it stopped with an HTTP ``Range`` request (a server that ignores ranges sends it whole).
* **Checks**: the size must equal the server's ``Content-Length`` / ``Content-Range``
  total; a zip must open and every extracted member pass its CRC-32; an expected sha256
  (``--checksums`` file, ``sha256sum`` format) must match. The sha256 and size of every
  file are written to ``fetch_manifest.json`` beside the downloads.
* **Offline**: when the host cannot be reached at all, one line says so (and how to load
  files by hand) and nothing is changed.
* **Only what changed**: force-months already in the store are not fetched again unless
  ``refresh`` (newer copies carry revised outcomes: refresh when you want them).

Written with the standard library's ``urllib`` (no extra dependency; ranged requests and
retries are a few lines).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

ARCHIVE_URL = "https://data.police.uk/data/archive/{month}.zip"
#: Months of data in one published archive (the archive for M covers M-35 ... M).
ARCHIVE_MONTHS = 36
KINDS = ("street", "stop-and-search")
USER_AGENT = "csp-analysis (https://data.police.uk open data; fetch)"
CHUNK = 1 << 20


class FetchError(Exception):
    """A download failed for good (after retries); the message names the URL."""


class OfflineError(FetchError):
    """The host cannot be reached at all (no network, DNS failure, connection refused)."""


@dataclass
class Download:
    """One downloaded file."""

    url: str
    path: str
    size: int
    sha256: str
    status: str  # downloaded, resumed, cached
    attempts: int = 1


@dataclass
class FetchResult:
    """What :func:`fetch` did."""

    wanted: list[tuple[str, str, str]] = field(default_factory=list)  # (month, force, kind)
    skipped_in_store: list[tuple[str, str, str]] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # data files ready to ingest
    missing: list[str] = field(default_factory=list)  # wanted but not published

    def summary(self) -> str:
        mb = sum(d.size for d in self.downloads) / 1e6
        parts = [f"{len(self.wanted)} force-month file(s) wanted", f"{len(self.skipped_in_store)} already in the store",
                 f"{len(self.downloads)} download(s) ({mb:,.1f} MB; "
                 f"{sum(d.status == 'resumed' for d in self.downloads)} resumed, "
                 f"{sum(d.status == 'cached' for d in self.downloads)} already complete)",
                 f"{len(self.files)} file(s) ready to ingest"]
        if self.missing:
            parts.append(f"{len(self.missing)} not published: " + ", ".join(self.missing[:6])
                         + (" ..." if len(self.missing) > 6 else ""))
        return "; ".join(parts)


# ----------------------------------------------------------------------------- months
def months_between(start: str, end: str) -> list[str]:
    """Every month ``YYYY-MM`` from start to end inclusive."""
    y0, m0 = map(int, start[:7].split("-"))
    y1, m1 = map(int, end[:7].split("-"))
    return [f"{k // 12}-{k % 12 + 1:02d}" for k in range(y0 * 12 + m0 - 1, y1 * 12 + m1)]


def _shift(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 + n
    return f"{k // 12}-{k % 12 + 1:02d}"


# ----------------------------------------------------------------------------- downloads
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _is_offline(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, (socket.gaierror, ConnectionRefusedError, ConnectionResetError, TimeoutError,
                               socket.timeout, OSError)) and not isinstance(exc, urllib.error.HTTPError)


def offline_message(url: str, exc: BaseException) -> str:
    """The one line printed when the host cannot be reached."""
    host = url.split("/")[2] if "//" in url else url
    reason = getattr(exc, "reason", exc)
    return (f"offline: cannot reach {host} ({reason}); check the network or proxy (HTTPS_PROXY), or download "
            "the files from https://data.police.uk/data/ by hand and run `csp ingest FOLDER`")


def download(url: str, dest: str | os.PathLike, *, retries: int = 4, backoff: float = 1.0, timeout: float = 60,
             expected_sha256: str | None = None, progress: Callable[[int, int | None], None] | None = None,
             reuse: bool = True, opener: Callable = urllib.request.urlopen) -> Download:
    """Download ``url`` to ``dest`` with retries, resume and size / checksum checks.

    Parameters
    ----------
    url : str
    dest : path
        Final file; the transfer goes to ``dest + '.part'`` and is renamed when complete
        and checked. An existing complete ``dest`` (matching ``expected_sha256`` if given)
        is kept (status ``cached``) when ``reuse``; otherwise downloaded again.
    retries : int
        Attempts after the first for connection errors, timeouts, HTTP 5xx and 429.
    backoff : float
        Seconds before the first retry, doubled each time.
    expected_sha256 : str, optional
        Checked after the download; a mismatch deletes the file and raises.

    Raises
    ------
    OfflineError
        The host cannot be reached (after the retries).
    FetchError
        HTTP errors (404: not published), a size or checksum mismatch that persists.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if reuse and dest.exists() and (expected_sha256 is None or _sha256(dest) == expected_sha256.lower()):
        return Download(url, str(dest), dest.stat().st_size, _sha256(dest), "cached", 0)
    part = dest.with_name(dest.name + ".part")
    # the ETag / Last-Modified of the partial transfer: sent as If-Range, so a file that changed on
    # the server since is sent whole instead of being spliced onto the old part
    validator = dest.with_name(dest.name + ".part.validator")
    resumed = False
    last: BaseException | None = None
    for attempt in range(1, retries + 2):
        have = part.stat().st_size if part.exists() else 0
        try:
            with opener(_request(url, have, validator), timeout=timeout) as resp:
                total, was_resumed = _receive(resp, part, validator, have, progress)
                resumed = resumed or was_resumed
            size = part.stat().st_size
            if total is not None and size != total:
                last = FetchError(f"{url}: received {size:,} of {total:,} bytes")
                raise _Retry()
            sha = _sha256(part)
            if expected_sha256 and sha != expected_sha256.lower():
                part.unlink()
                last = FetchError(f"{url}: sha256 {sha} does not match the expected {expected_sha256}")
                raise _Retry()
            os.replace(part, dest)
            validator.unlink(missing_ok=True)
            return Download(url, str(dest), size, sha, "resumed" if resumed else "downloaded", attempt)
        except _Retry:
            pass
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # the range starts at or past the end: start again
                part.unlink(missing_ok=True)
                last = exc
            elif exc.code in (429,) or exc.code >= 500:
                last = exc
            else:
                raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}"
                                 + (" (not published)" if exc.code == 404 else "")) from exc
        except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as exc:  # connection-level
            last = exc
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    if last is not None and _is_offline(last) and not part.exists():
        raise OfflineError(offline_message(url, last)) from last
    raise FetchError(f"{url}: failed after {retries + 1} attempts ({last})") from last


def _request(url: str, have: int, validator: Path) -> urllib.request.Request:
    """The GET, asking for the rest of a partial transfer (Range, with If-Range) when ``have`` > 0."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        req.add_header("Range", f"bytes={have}-")
        if validator.exists():
            req.add_header("If-Range", validator.read_text(encoding="utf-8").strip())
    return req


def _receive(resp, part: Path, validator: Path, have: int, progress) -> tuple[int | None, bool]:
    """Write the response into ``part`` (appending on a 206 to a resumed range, from scratch
    otherwise) and keep its validator. Returns the expected total size and whether it resumed."""
    code = getattr(resp, "status", 200)
    resumed = False
    if have and code == 206:
        total = _range_total(resp.headers.get("Content-Range"), have + int(resp.headers.get("Content-Length") or 0))
        mode, resumed = "ab", True
    else:  # 200: the whole file (the server ignored the range, or nothing to resume)
        total = int(resp.headers["Content-Length"]) if resp.headers.get("Content-Length") else None
        mode, have = "wb", 0
    tag = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
    if tag and mode == "wb":
        validator.write_text(tag, encoding="utf-8")
    elif mode == "wb":
        validator.unlink(missing_ok=True)
    done = have
    with open(part, mode) as f:
        while True:
            block = resp.read(CHUNK)
            if not block:
                break
            f.write(block)
            done += len(block)
            if progress:
                progress(done, total)
    return total, resumed


class _Retry(Exception):
    pass


def _range_total(content_range: str | None, fallback: int) -> int:
    """Total size from ``Content-Range: bytes a-b/total`` (fallback when absent or ``*``)."""
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1].strip()
        if tail.isdigit():
            return int(tail)
    return fallback


def read_checksums(path: str | os.PathLike) -> dict[str, str]:
    """``sha256sum``-format lines (``<hex>  <file name>``) -> {file name: sha256}."""
    out = {}
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise FetchError(f"{path}, line {i}: expected '<sha256>  <file name>'")
        out[Path(parts[1].lstrip("*")).name] = parts[0].lower()
    return out


# ----------------------------------------------------------------------------- what is needed
def wanted_files(partnerships, kinds: Iterable[str] = KINDS) -> list[tuple[str, str, str]]:
    """(month, force, kind) for every force and window month of the partnerships' params."""
    out = set()
    for p in partnerships:
        for m in months_between(p.window.start.strftime("%Y-%m"), p.window.end.strftime("%Y-%m")):
            for f in p.forces:
                for k in kinds:
                    out.add((m, f, k))
    return sorted(out)


def in_store(con) -> set[tuple[str, str, str]]:
    """(month, force, kind) already loaded in the store."""
    if con is None:
        return set()
    rows = con.execute("SELECT DISTINCT strftime(month, '%Y-%m'), force, kind FROM ingest_log "
                       "WHERE status IN ('loaded', 'replaced', 'unchanged')").fetchall()
    return {(m, f, k) for m, f, k in rows}


def _member_name(month: str, force: str, kind: str) -> str:
    return f"{month}/{month}-{force}-{kind}.csv"


def extract(zip_path: str | os.PathLike, wanted: Iterable[tuple[str, str, str]], dest: str | os.PathLike
            ) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Extract the wanted members of a data.police.uk archive into ``dest/YYYY-MM/``.

    Every member is read through :mod:`zipfile`, which checks its CRC-32 (a corrupt
    member raises :class:`FetchError`). Written atomically (``.part`` then rename).

    Returns
    -------
    (files, missing)
    """
    dest = Path(dest)
    files, missing = [], []
    try:
        z = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{zip_path}: not a valid zip archive ({exc})") from exc
    with z:
        names = {Path(n).name: n for n in z.namelist()}
        for month, force, kind in wanted:
            base = Path(_member_name(month, force, kind)).name
            member = names.get(base)
            if member is None:
                missing.append((month, force, kind))
                continue
            out = dest / month / base
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            try:
                with z.open(member) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            except (zipfile.BadZipFile, OSError) as exc:  # CRC mismatch, truncated member
                tmp.unlink(missing_ok=True)
                raise FetchError(f"{zip_path}: member {member} is corrupt ({exc})") from exc
            os.replace(tmp, out)
            files.append(str(out))
    return files, missing


# ----------------------------------------------------------------------------- the command
def fetch(partnerships, dest: str | os.PathLike, *, source: str = "archive", archive_url: str = ARCHIVE_URL,
          url_template: str | None = None, latest: str | None = None, con=None, refresh: bool = False,
          kinds: Iterable[str] = KINDS, checksums: dict[str, str] | None = None, retries: int = 4,
          backoff: float = 1.0, timeout: float = 60, keep_archives: bool = False,
          log: Callable[[str], None] = print) -> FetchResult:
    """Download what the partnerships need into ``dest`` (see the module docstring).

    Parameters
    ----------
    partnerships : list of params.Partnership
    dest : path
        Folder for the files (``dest/YYYY-MM/YYYY-MM-<force>-<kind>.csv``), archives
        (``dest/archives/``) and ``fetch_manifest.json``.
    source : {'archive', 'files'}
    archive_url : str
        Archive URL with ``{month}`` (default the data.police.uk archive).
    url_template : str
        For ``source='files'``: URL with ``{month}``, ``{force}``, ``{kind}``.
    latest : str, optional
        Newest archive month to use (default: the last month wanted).
    con : duckdb connection, optional
        The store: force-months already loaded are skipped unless ``refresh``.
    checksums : dict, optional
        File name -> expected sha256.

    Returns
    -------
    FetchResult
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    res = FetchResult(wanted=wanted_files(partnerships, kinds))
    have = set() if refresh else in_store(con)
    todo = [w for w in res.wanted if w not in have]
    res.skipped_in_store = [w for w in res.wanted if w in have]
    if not todo:
        return res
    dl = dict(retries=retries, backoff=backoff, timeout=timeout, checksums=checksums or {}, reuse=not refresh)
    if source == "files":
        if not url_template:
            raise FetchError("source 'files' needs a URL template with {month}, {force} and {kind}")
        _fetch_files(todo, dest, url_template, res, dl)
    elif source == "archive":
        _fetch_archives(todo, dest, archive_url, latest or res.wanted[-1][0], res, dl, keep_archives, log)
    else:
        raise FetchError(f"unknown source {source!r} (use 'archive' or 'files')")
    _write_manifest(dest, res)
    return res


def _download(url: str, out: Path, dl: dict):
    """:func:`download` with the run's retry, timeout, checksum and reuse settings."""
    return download(url, out, retries=dl["retries"], backoff=dl["backoff"], timeout=dl["timeout"],
                    expected_sha256=dl["checksums"].get(out.name), reuse=dl["reuse"])


def _fetch_files(todo: list, dest: Path, url_template: str, res: FetchResult, dl: dict) -> None:
    """``source='files'``: one download per force-month-kind; unpublished files are listed as missing."""
    for month, force, kind in todo:
        url = url_template.format(month=month, force=force, kind=kind)
        out = dest / month / f"{month}-{force}-{kind}.csv"
        try:
            d = _download(url, out, dl)
        except OfflineError:
            raise
        except FetchError as exc:
            if "not published" in str(exc):
                res.missing.append(out.name)
                continue
            raise
        res.downloads.append(d)
        res.files.append(d.path)


def _download_archive(arch: str, dest: Path, archive_url: str, dl: dict):
    """The archive for month ``arch``, stepping back up to two months while the newest is not
    published yet. Returns (download, archive month, url, path)."""
    tried = []
    for _ in range(3):
        url = archive_url.format(month=arch)
        zpath = dest / "archives" / f"{arch}.zip"
        try:
            return _download(url, zpath, dl), arch, url, zpath
        except FetchError as exc:
            if isinstance(exc, OfflineError) or "not published" not in str(exc):
                raise
            tried.append(arch)
            arch = _shift(arch, -1)
    raise FetchError(f"no archive published for {', '.join(tried)} ({archive_url})")


def _fetch_archives(todo: list, dest: Path, archive_url: str, arch: str, res: FetchResult, dl: dict,
                    keep_archives: bool, log) -> None:
    """``source='archive'``: walk back from the newest archive (it carries the latest outcomes),
    each covering :data:`ARCHIVE_MONTHS` months, extracting the files wanted."""
    pending = sorted({w[0] for w in todo})
    while pending:
        if _shift(arch, -(ARCHIVE_MONTHS - 1)) > pending[-1]:
            arch = pending[-1]
        d, arch, url, zpath = _download_archive(arch, dest, archive_url, dl)
        first = _shift(arch, -(ARCHIVE_MONTHS - 1))
        months = [m for m in pending if first <= m <= arch]
        newer = [w for w in todo if w[0] > arch and w[0] in pending]
        res.missing += [Path(_member_name(*w)).name for w in newer]  # later than any archive
        log(f"archive {url}: {len(months)} month(s) wanted" + (f" ({months[0]} ... {months[-1]})" if months else ""))
        res.downloads.append(d)
        need = [w for w in todo if w[0] in months]
        try:
            files, missing = extract(zpath, need, dest)
        except FetchError:
            zpath.unlink(missing_ok=True)  # corrupt: fetched again next time
            raise
        res.files += files
        res.missing += [Path(_member_name(*m)).name for m in missing]
        if not keep_archives:
            zpath.unlink(missing_ok=True)
        pending = [m for m in pending if m < first]
        arch = _shift(first, -1)


def _write_manifest(dest: Path, res: FetchResult) -> None:
    path = dest / "fetch_manifest.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    entries = old.get("files", {})
    for f in res.files:
        p = Path(f)
        entries[str(p.relative_to(dest))] = {"size": p.stat().st_size, "sha256": _sha256(p),
                                             "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    downloads = old.get("downloads", []) + [asdict(d) for d in res.downloads]
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps({"files": entries, "downloads": downloads[-500:]}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
