"""The gallery index: every image we write, and every folder the user adds, as a row in an SQLite database (stdlib
``sqlite3``, WAL, FTS5 full-text search over the prompt and the negative prompt) under the user data folder
(platformdirs: ``XDG_DATA_HOME`` moves it; ``DDPM_STUDIO_GALLERY`` names the file).

The PNGs are the truth. The folders the index has seen are also kept beside it in a JSON file, so that a database
that is missing, not SQLite, of another schema, or locked past the timeout is moved aside (``…broken-<time>``) and
rebuilt from the files, with a note for the user (``notes``) — never a traceback, never a lost image. A file deleted
or moved outside the app drops out of the results the next time a search meets it; a changed file is read again
(by size and time) when its folder is scanned. Schema versions migrate in ``MIGRATIONS``. Stars and tags live only
here: a rebuild starts them afresh. No Qt.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from ddpm_studio.engine.gallery.query import Query, parse_query
from ddpm_studio.engine.gallery.rows import COLUMNS, SAMPLER_KEYS, RowError, row_from_png
from ddpm_studio.engine.gallery.walk import pictures

SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 10.0
BATCH = 500  # rows written per transaction while scanning
ORDERS = {"newest": "created DESC, id DESC", "oldest": "created ASC, id ASC", "stars": "rating DESC, created DESC"}

MIGRATIONS = {  # version → the statements that bring the version before it there
    1: [
        "CREATE TABLE images (id INTEGER PRIMARY KEY, "
        f"{', '.join(c + ' UNIQUE' if c == 'path' else c for c in COLUMNS)}, "
        "rating INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '')",
        "CREATE INDEX images_seed ON images(seed)",
        "CREATE INDEX images_created ON images(created)",
        "CREATE VIRTUAL TABLE images_fts USING fts5(prompt, negative, content='images', content_rowid='id')",
        "CREATE TRIGGER images_ai AFTER INSERT ON images BEGIN INSERT INTO images_fts(rowid, prompt, negative) "
        "VALUES (new.id, new.prompt, new.negative); END",
        "CREATE TRIGGER images_ad AFTER DELETE ON images BEGIN INSERT INTO images_fts(images_fts, rowid, prompt, "
        "negative) VALUES ('delete', old.id, old.prompt, old.negative); END",
        "CREATE TRIGGER images_au AFTER UPDATE ON images BEGIN INSERT INTO images_fts(images_fts, rowid, prompt, "
        "negative) VALUES ('delete', old.id, old.prompt, old.negative); INSERT INTO images_fts(rowid, prompt, "
        "negative) VALUES (new.id, new.prompt, new.negative); END",
    ],
}


class SchemaError(Exception):
    """The database is SQLite but not ours, or from a newer DDPM Studio."""


def index_path() -> Path:
    override = os.environ.get("DDPM_STUDIO_GALLERY")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("ddpm-studio", appauthor=False)) / "gallery.sqlite"


@dataclass
class ScanReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): not in the index
    partial: list[tuple[str, str]] = field(default_factory=list)  # (file, what was left out): indexed without it
    cancelled: bool = False

    def merge(self, other: "ScanReport") -> None:
        for name in ("added", "updated", "unchanged", "removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped += other.skipped
        self.partial += other.partial
        self.cancelled = self.cancelled or other.cancelled


class GalleryIndex:
    def __init__(self, path: str | Path | None = None, timeout: float = LOCK_TIMEOUT_S, rescan: bool = True) -> None:
        """``rescan`` False: a rebuild's folders are left in ``pending_folders`` for the caller to scan (the
        Gallery tab does it on a thread of its own, not while the window waits)."""
        self.path = Path(path) if path is not None else index_path()
        self.folders_file = self.path.with_name(self.path.stem + "-folders.json")
        self.timeout = timeout
        self.rescan = rescan
        self.pending_folders: list[str] = []
        self.notes: list[str] = []  # for the user: what was moved aside and rebuilt
        self.path.parent.mkdir(parents=True, exist_ok=True)
        missing = not self.path.exists()
        try:
            self.conn = self._connect()
        except (sqlite3.DatabaseError, SchemaError) as exc:
            self.conn = self._replace(exc)
            return
        if missing and self.folders():  # lost (deleted by hand, a new disk): the pictures are still there
            self.notes.append(f"The gallery index {self.path} was missing; it was rebuilt from the pictures in "
                              f"{len(self.folders())} folder(s).")
            self._rescan()

    # ---- opening ----
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate(conn)
            conn.execute("BEGIN IMMEDIATE")  # can we write? a lock held past the timeout raises here
            conn.execute("ROLLBACK")
            return conn
        except BaseException:
            conn.close()
            raise

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version > SCHEMA_VERSION:
            raise SchemaError(f"it was written by a newer DDPM Studio (schema {version}, this one reads "
                              f"{SCHEMA_VERSION})")
        if version == 0 and tables:
            raise SchemaError("it is an SQLite database, but not DDPM Studio's gallery")
        if version and "images" not in tables:
            raise SchemaError("its images table is missing")
        with conn:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={step}")

    def _replace(self, why: Exception) -> sqlite3.Connection:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                os.replace(part, f"{aside}{suffix}")
        self.notes.append(f"The gallery index {self.path} could not be used ({why}); it was moved aside to "
                          f"{aside.name} and rebuilt from the pictures (their stars and tags start afresh).")
        self.conn = self._connect()
        self._rescan()
        return self.conn

    def _rescan(self) -> None:
        folders = [folder for folder in self.folders() if Path(folder).is_dir()]
        if not self.rescan:
            self.pending_folders = folders
            return
        report = ScanReport()
        for folder in folders:
            report.merge(self.add_folder(folder))
        if report.skipped:
            self.notes.append(f"{len(report.skipped)} file(s) could not be read and are not in the gallery: "
                              + " ".join(why for _, why in report.skipped))

    def close(self) -> None:
        self.conn.close()

    # ---- folders ----
    def folders(self) -> list[str]:
        try:
            value = json.loads(self.folders_file.read_text(encoding="utf-8"))
            return [str(f) for f in value if isinstance(f, str)] if isinstance(value, list) else []
        except (OSError, ValueError):
            return []

    def _remember(self, folders: set[str]) -> None:
        known = self.folders()
        new = sorted(folders - set(known))
        if new:
            tmp = self.folders_file.with_name(f"{self.folders_file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known + new, indent=1), encoding="utf-8")
            os.replace(tmp, self.folders_file)

    # ---- writing ----
    def add(self, paths) -> int:
        """Index these files now (the app and the CLI call this for every image they save)."""
        rows = []
        for path in paths:
            try:
                rows.append(row_from_png(path))
            except (RowError, OSError):
                continue
        refused = {row["path"] for row, _ in self._write(rows)}
        rows = [row for row in rows if row["path"] not in refused]
        self._remember({str(Path(row["path"]).parent) for row in rows})
        return len(rows)

    def _write(self, rows: list[dict]) -> list[tuple[dict, str]]:
        """Insert or update ``rows`` together; when SQLite refuses one (a value it cannot store), each on its own,
        so that one row never keeps the others out. Returns the refused rows with why."""
        if not rows:
            return []
        names = ", ".join(COLUMNS)
        marks = ", ".join(f":{c}" for c in COLUMNS)
        updates = ", ".join(f"{c}=excluded.{c}" for c in COLUMNS if c != "path")
        statement = f"INSERT INTO images ({names}) VALUES ({marks}) ON CONFLICT(path) DO UPDATE SET {updates}"
        try:
            with self.conn:
                self.conn.executemany(statement, rows)
            return []
        except (OverflowError, sqlite3.InterfaceError, sqlite3.DataError, sqlite3.IntegrityError):
            pass
        refused = []
        for row in rows:
            try:
                with self.conn:
                    self.conn.execute(statement, row)
            except (OverflowError, sqlite3.InterfaceError, sqlite3.DataError, sqlite3.IntegrityError) as exc:
                refused.append((row, f"{row['path']} could not be stored in the gallery index: {exc}."))
        return refused

    def add_folder(self, folder: str | Path, progress=None, should_stop=lambda: False) -> ScanReport:
        """Index every PNG under ``folder`` (new and changed files read, vanished ones dropped); ``progress(done,
        total)`` is called as it goes. A file that cannot be read is left out and named in the report's
        ``skipped``, a value that cannot be read or stored is left out of its row and named in ``partial``: one
        bad file never stops the others."""
        root = Path(folder).expanduser().resolve()
        report = ScanReport()
        if not root.is_dir():
            raise FileNotFoundError(f"{root} is not a folder.")
        files = pictures(root, report.skipped)
        below = (f"{root}{os.sep}", f"{root}{chr(ord(os.sep) + 1)}")  # every path that starts with root/
        known = {r["path"]: (r["size"], r["mtime"]) for r in self.conn.execute(
            "SELECT path, size, mtime FROM images WHERE path >= ? AND path < ?", below)}
        rows, seen = [], set()
        for number, path in enumerate(files, 1):
            if should_stop():
                report.cancelled = True
                break
            key = str(path)
            seen.add(key)
            try:
                stat = path.stat()
                if known.get(key) == (stat.st_size, stat.st_mtime):
                    report.unchanged += 1
                else:
                    problems: list[str] = []
                    rows.append(row_from_png(path, problems))
                    report.partial += [(key, why) for why in problems]
                    report.added += key not in known
                    report.updated += key in known
            except RowError as exc:
                report.skipped.append((key, str(exc)))
            except (OSError, RuntimeError) as exc:  # gone or unreadable since the folder was listed
                report.skipped.append((key, f"{path} could not be read: {exc}"))
            if len(rows) >= BATCH:
                self._written(rows, known, report)
                rows = []
            if progress is not None:
                progress(number, len(files))
        self._written(rows, known, report)
        if not report.cancelled:
            gone = [(p,) for p in known if p not in seen]
            with self.conn:
                self.conn.executemany("DELETE FROM images WHERE path = ?", gone)
            report.removed = len(gone)
        if files:
            self._remember({str(root)})
        return report

    def _written(self, rows: list[dict], known: dict, report: ScanReport) -> None:
        for row, why in self._write(rows):
            report.skipped.append((row["path"], why))
            if row["path"] in known:
                report.updated -= 1
            else:
                report.added -= 1

    def remove(self, paths) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM images WHERE path = ?", [(str(Path(p).resolve()),) for p in paths])

    def set_rating(self, path: str, stars: int) -> None:
        with self.conn:
            self.conn.execute("UPDATE images SET rating = ? WHERE path = ?", (max(0, min(5, stars)), path))

    def set_tags(self, path: str, tags: list[str]) -> None:
        text = ", ".join(t.strip() for t in tags if t.strip())
        with self.conn:
            self.conn.execute("UPDATE images SET tags = ? WHERE path = ?", (text, path))

    # ---- reading ----
    def _read(self, sql: str, values) -> list:
        """A query; a database found damaged by it (a torn page past a good header) is set aside and rebuilt from
        the pictures, then asked again."""
        try:
            return self.conn.execute(sql, values).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
                raise
            self.conn.close()
            self.conn = self._replace(exc)
            return self.conn.execute(sql, values).fetchall()

    def _where(self, query: Query) -> tuple[str, list]:
        joins, conditions, values = "", [], []
        match = query.match_text()
        if match:
            joins = "JOIN images_fts ON images_fts.rowid = images.id"
            conditions.append("images_fts MATCH ?")
            values.append(match)
        excluded = query.excluded_text()
        if excluded:  # -word: none of these (FTS5's NOT needs a word to take from, so a subquery)
            conditions.append("images.id NOT IN (SELECT rowid FROM images_fts WHERE images_fts MATCH ?)")
            values.append(excluded)
        if query.seed is not None:
            conditions.append("seed = ?")
            values.append(query.seed)
        if query.model:
            conditions.append("model LIKE ? ESCAPE '\\'")
            values.append(f"%{_like(query.model)}%")
        if query.tag:  # a whole tag of the comma-separated list
            conditions.append("(', ' || tags || ',') LIKE ? ESCAPE '\\'")
            values.append(f"%, {_like(query.tag)},%")
        if query.sampler:
            names = {query.sampler.lower()} | {key for (sampler, _), key in SAMPLER_KEYS.items()
                                               if sampler.lower() == query.sampler.lower()}
            conditions.append(f"lower(scheduler) IN ({', '.join('?' * len(names))})")
            values += sorted(names)
        for column, value, op in (("kind", query.kind or None, "="), ("steps", query.steps, "="),
                                  ("created", query.since, ">="),
                                  ("created", query.until, "<"), ("rating", query.stars or None, ">=")):
            if value is not None:
                conditions.append(f"{column} {op} ?")
                values.append(value)
        return f"{joins} WHERE {' AND '.join(conditions) or '1'}", values

    def search(self, query: Query | str = "", limit: int | None = 200, offset: int = 0,
               order: str = "newest", check_files: bool = True) -> list[dict]:
        """The rows that match, in ``order``; files that are gone are dropped from the index as they are met
        (``check_files`` False: the rows as they are, files not looked for)."""
        query = parse_query(query) if isinstance(query, str) else query
        where, values = self._where(query)
        page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = [dict(r) for r in self._read(f"SELECT images.* FROM images {where} ORDER BY {ORDERS[order]}{page}",
                                            values)]
        gone = [r["path"] for r in rows if check_files and not os.path.exists(r["path"])]
        if gone:
            self.remove(gone)
        return [r for r in rows if r["path"] not in set(gone)]

    def count(self, query: Query | str = "") -> int:
        query = parse_query(query) if isinstance(query, str) else query
        where, values = self._where(query)
        return self._read(f"SELECT count(*) FROM images {where}", values)[0][0]

    def get(self, path: str) -> dict | None:
        rows = self._read("SELECT * FROM images WHERE path = ?", (str(Path(path).resolve()),))
        return dict(rows[0]) if rows else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def index_saved(paths: list[str]) -> None:
    """Add images just written to the gallery index; the index never stops a save (it can be rebuilt)."""
    if not paths or os.environ.get("DDPM_STUDIO_GALLERY") == "off":
        return
    try:
        index = GalleryIndex()
        try:
            index.add(paths)
        finally:
            index.close()
    except (sqlite3.Error, OSError):
        pass
