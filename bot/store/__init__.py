"""SQLite data access: the connection, migrations, and the delivery ledger.

Feature repositories live beside this module (``bot/store/<feature>.py``) as small functions that
take a `Store` and return dataclasses; SQL never appears in cogs.

The connection is in autocommit mode: a lone statement is its own transaction, so repository
functions never call ``commit()`` (on a connection shared by every coroutine, a stray commit
would end another coroutine's open transaction). Several statements that must stand or fall
together go in ``async with store.transaction()``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import aiosqlite.context

from bot.clock import Clock, utc_now
from bot.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
#: Rows per trip of `Store.fetch_paged` (reads that may be large: exports, the report).
PAGE_ROWS = 1000


class StoreError(Exception):
    """The database cannot be used as it is (for example it is newer than this code)."""


class Store:
    """The bot's SQLite database, opened in `setup_hook`.

    Two aiosqlite connections: `db`, in autocommit mode, for reads and lone writes from every
    coroutine; and a second one used only inside `transaction()` (one at a time, under a lock).
    Keeping explicit transactions on their own connection means a rollback can never undo
    another coroutine's lone write (say a ledger `mark_sent`) that ran meanwhile. WAL journal
    (readers never block the writer), foreign keys on, and a busy timeout so a lone write waits
    for a running transaction (and the CLI's read-only `preview`) instead of failing.

    With ``read_only=True`` (the CLI's `preview`) the file is opened through SQLite's
    ``mode=ro`` URI: never created, migrated or written (SQLite itself refuses writes, and
    `transaction()` raises `StoreError`), so previewing a live bot's database is safe.
    """

    def __init__(
        self, path: str | Path, *, clock: Clock = utc_now, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.read_only = read_only
        # Identifies this process's ledger claims: a claim left by another run was interrupted.
        self.run_id = uuid.uuid4().hex
        self._db: aiosqlite.Connection | None = None
        self._tx: aiosqlite.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._tx_lock = asyncio.Lock()
        #: In-memory copies of rows only this process writes (per-guild settings), by feature;
        #: each feature's store module fills and invalidates its own. Emptied on close.
        self.cache: dict[str, dict[Any, Any]] = {}

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    @property
    def is_open(self) -> bool:
        return self._db is not None

    async def open(self) -> None:
        """Connect, set pragmas, and apply pending migrations. Idempotent.

        Every failure to open (a directory, an unreadable or corrupt file, a full disk, a
        database newer than this code) is a StoreError naming the file and the cause, so the
        command line prints one clear line instead of a traceback and a restart loop.
        """
        if self._db is not None:
            return
        if str(self.path) == ":memory:":
            raise StoreError("the store needs a database file (two connections share it)")
        if self.read_only:
            self._db = await _connect_read_only(self.path)
            return
        if self.path.is_dir():
            # Checked here: aiosqlite leaves its worker thread finishing a failed connect.
            raise StoreError(f"cannot open the database {self.path}: it is a folder, not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = await _connect(self.path, shared=True)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        try:
            # Refuse a newer database before anything (even the journal mode) touches the file.
            await check_version(db)
            await db.execute("PRAGMA journal_mode = WAL")
            await migrate(db)
            tx = await _connect(self.path)
        except (OSError, sqlite3.Error) as exc:
            await db.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        except BaseException:
            await db.close()
            raise
        try:
            inline = _connect_inline(self.path)
        except sqlite3.Error as exc:
            await tx.close()
            await db.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        self._db, self._tx, self._inline = db, tx, inline

    async def close(self) -> None:
        db, tx, inline = self._db, self._tx, self._inline
        self._db = self._tx = self._inline = None
        self.cache.clear()
        if inline is not None:
            inline.close()
        for connection in (tx, db):
            if connection is not None:
                await connection.close()

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run several statements atomically on the transaction connection; rolled back on error.

        Use only the yielded connection inside the block: a lone write on `db` would wait for
        this transaction's write lock.

        The BEGIN is inside the ``try``: a task cancelled (at shutdown) while its BEGIN is on
        the way to SQLite's thread still has it run there, and used to leave the write lock
        held until the store closed, so every lone write meanwhile failed after the busy
        timeout ("database is locked"). The ROLLBACK queued after it undoes it.
        """
        if self.read_only:
            raise StoreError("the store is read-only: no transaction")
        async with self._tx_lock:
            db = self._tx
            if db is None:
                raise StoreError("the store is not open")
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.execute("COMMIT")
            except BaseException as exc:
                await _rollback(db, exc)
                raise

    async def write_row(self, sql: str, parameters: Iterable[Any] = ()) -> int:
        """A lone write of one row found by its key (the interest button's); returns the
        rowcount. Run on the event loop itself when SQLite's write lock is free, else on the
        shared connection (through aiosqlite's thread, waiting for the lock like any write).

        Why: this write is on a member's answer path, and the trip to aiosqlite's thread and
        back costs several times the statement (`bench/store_bench.py`). It never waits on
        the loop: the inline connection has no busy timeout (a held lock sends the write to the
        thread) and never checkpoints (the other connections' commits fold the WAL into the
        database, and only they sync it to disk).
        """
        params = tuple(parameters)
        inline = self._inline
        if inline is not None:
            try:
                return inline.execute(sql, params).rowcount
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
        cursor = await self.db.execute(sql, params)
        return cursor.rowcount

    async def fetch_one(self, sql: str, parameters: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """The first row of a read, or None, in one trip to SQLite's thread.

        Why not ``async with db.execute(...) as cur: await cur.fetchone()``: that takes three
        trips, and while the cursor is open the shared connection holds a read snapshot, which
        makes a lone write from another coroutine meanwhile fail with "database is locked"
        (see `SharedConnection`). Here the statement runs to its end inside the thread.
        """
        rows = await self.db.execute_fetchall(sql, tuple(parameters))
        for row in rows:
            return row  # type: ignore[no-any-return]
        return None

    async def fetch_all(self, sql: str, parameters: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Every row of a read, in one trip (see `fetch_one` for why not a cursor)."""
        return list(await self.db.execute_fetchall(sql, tuple(parameters)))

    async def fetch_paged(
        self,
        sql: str,
        parameters: Iterable[Any],
        key: Sequence[str],
        *,
        page: int | None = None,
    ) -> list[aiosqlite.Row]:
        """Every row of a read that may be large, ``page`` (`PAGE_ROWS`) rows per trip (keyset
        pagination).

        ``sql`` is a SELECT ending with its WHERE clause (no ORDER BY or LIMIT); ``key`` lists
        selected columns that together are unique, in the order wanted (``alias.column`` is
        fine). Each trip is bounded, and between trips other coroutines' statements run with
        no snapshot held; a row written meanwhile is seen at most once.
        """
        page = page or PAGE_ROWS
        params = tuple(parameters)
        order = ", ".join(key)
        names = [column.rsplit(".", 1)[-1] for column in key]
        after_key = f" AND ({order}) > ({', '.join('?' * len(key))})"
        rows: list[aiosqlite.Row] = []
        after: tuple[Any, ...] | None = None
        while True:
            if after is None:
                query, args = f"{sql} ORDER BY {order} LIMIT ?", (*params, page)
            else:
                query, args = f"{sql}{after_key} ORDER BY {order} LIMIT ?", (*params, *after, page)
            batch = list(await self.db.execute_fetchall(query, args))
            rows.extend(batch)
            if len(batch) < page:
                return rows
            after = tuple(batch[-1][name] for name in names)

    async def schema_version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0])


#: Ids per statement in `in_chunks` (SQLite's host-parameter limit is far above this; chunks
#: keep each statement small).
CHUNK = 500


def in_chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[tuple[list[int], str]]:
    """``ids`` without repeats, in order, as (chunk, "?, ?, ...") pairs for ``IN (...)``
    statements of at most ``size`` parameters each."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), size):
        chunk = unique[start : start + size]
        yield chunk, ", ".join("?" * len(chunk))


async def _rollback(db: aiosqlite.Connection, cause: BaseException) -> None:
    """Roll back what is still open after ``cause``, never hiding ``cause``.

    SQLite itself ends the transaction on some errors (a full disk, an I/O error), and a task
    cancelled during BEGIN or COMMIT cannot tell whether that statement has run yet (it runs
    in SQLite's thread anyway). So the ROLLBACK is always queued (after the statement, on the
    same thread), "no transaction is active" is fine, and any other failure is logged, not
    raised (it used to replace the real error).
    """
    try:
        await db.execute("ROLLBACK")
    except sqlite3.OperationalError as rollback_error:
        if "no transaction is active" not in str(rollback_error):
            log.error("rollback after %r failed: %s", cause, rollback_error)
    except Exception as rollback_error:  # sqlite3's, or aiosqlite's "connection closed"
        log.error("rollback after %r failed: %s", cause, rollback_error)


#: Pauses before retrying a lone write that met a stale read snapshot (see `SharedConnection`).
STALE_SNAPSHOT_RETRIES = (0.01, 0.05, 0.2, 0.5)
#: A "database is locked" quicker than this did not wait out the busy timeout: a stale snapshot.
_IMMEDIATE = 0.5
_READS = ("select", "pragma", "with", "explain")


class SharedConnection(aiosqlite.Connection):
    """The autocommit connection every coroutine shares, with one repair.

    While one coroutine reads through a cursor (``async for`` over it spans several awaits), the
    connection holds a read transaction; a lone write another coroutine runs on it meanwhile
    joins that transaction, and if the transaction connection committed since the read began,
    SQLite refuses the write at once with "database is locked" (a stale snapshot; the busy
    timeout does not apply). Reproduced in tests/unit/store/test_store.py. Such a write is
    retried shortly, once the reader is done; a lock that outlasted the busy timeout is not.

    The bot's own reads no longer do this (`Store.fetch_one`/`fetch_all`/`fetch_paged` run each
    statement to its end in one trip; tests/unit/store/test_store.py keeps cursor reads out of
    bot/), so the retry is a safety net for a reader that still holds a cursor (a test, a
    cancelled task, a future function), not a path the bot takes.
    """

    @aiosqlite.context.contextmanager
    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> aiosqlite.Cursor:
        loop = asyncio.get_running_loop()
        for pause in (*STALE_SNAPSHOT_RETRIES, None):
            started = loop.time()
            try:
                return await super().execute(sql, parameters)
            except sqlite3.OperationalError as exc:
                stale = (
                    "database is locked" in str(exc)
                    and loop.time() - started < _IMMEDIATE
                    and not sql.lstrip().lower().startswith(_READS)
                )
                if pause is None or not stale:
                    raise
                log.debug("write met a stale read snapshot; retrying in %s s", pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")


async def _connect(path: Path, *, shared: bool = False) -> aiosqlite.Connection:
    """An autocommit connection (isolation_level=None: Python's implicit transactions would let
    one coroutine's commit or rollback cover another's statements) with the bot's pragmas;
    ``shared``: the connection every coroutine uses (`SharedConnection`)."""
    kind = SharedConnection if shared else aiosqlite.Connection
    db = await kind(lambda: sqlite3.connect(str(path), isolation_level=None), 64)
    try:
        db.row_factory = aiosqlite.Row
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await db.execute("PRAGMA foreign_keys = ON")
        await db.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        await db.close()
        raise
    return db


def _connect_inline(path: Path) -> sqlite3.Connection:
    """The connection `Store.write_row` uses on the event loop: autocommit, no busy timeout
    (it never waits for a lock), no automatic checkpoint (it never syncs the file)."""
    inline = sqlite3.connect(str(path), isolation_level=None)
    try:
        inline.execute("PRAGMA busy_timeout = 0")
        inline.execute("PRAGMA foreign_keys = ON")
        inline.execute("PRAGMA synchronous = NORMAL")
        inline.execute("PRAGMA wal_autocheckpoint = 0")
    except BaseException:
        inline.close()
        raise
    return inline


def read_only_uri(path: Path) -> str:
    """A read-only SQLite URI. Without a ``-wal`` file (the bot is not running) the file is also
    opened ``immutable``, so SQLite creates no ``-wal``/``-shm`` files beside it; with one (the
    bot is running) it reads through the WAL like any reader, writing nothing."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return uri


async def _connect_read_only(path: Path) -> aiosqlite.Connection:
    """A connection that can only read ``path`` (which must exist; SQLite refuses writes)."""
    if not await asyncio.to_thread(path.is_file):
        raise StoreError(f"no database at {path}")
    db = await aiosqlite.connect(read_only_uri(path), uri=True)
    try:
        db.row_factory = aiosqlite.Row
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except BaseException:
        await db.close()
        raise
    return db


async def check_version(db: aiosqlite.Connection) -> int:
    """The database's schema version; StoreError when it is newer than this code knows."""
    rows = await db.execute_fetchall("PRAGMA user_version")
    current = int(next(iter(rows))[0])
    latest = len(MIGRATIONS)
    if current > latest:
        raise StoreError(
            f"the database is at schema version {current} but this version of qiweek-bot knows "
            f"only up to {latest}: upgrade qiweek-bot (the database was left unchanged)"
        )
    return current


async def migrate(db: aiosqlite.Connection) -> int:
    """Apply every migration newer than the database's `user_version`; returns the new version.

    A database newer than this code is refused untouched: running old code on it could lose data.
    """
    current = await check_version(db)
    latest = len(MIGRATIONS)
    for version in range(current + 1, latest + 1):
        log.info("applying database migration %d", version)
        # executescript commits first; the version bump is inside the same script so a crash
        # mid-way leaves the previous version recorded and the migration is re-run whole.
        await db.executescript(
            f"BEGIN;\n{MIGRATIONS[version - 1]}\nPRAGMA user_version = {version};\nCOMMIT;"
        )
    return latest


async def database_problems(path: str | Path) -> list[str]:
    """What keeps the bot from using the database at ``path``, read-only (for ``check``).

    A missing file is fine (it is created on start) as long as its folder can be made; an
    existing one must be an SQLite database this code can open and is not newer than it knows.
    Nothing is created, migrated or written.
    """
    path = Path(path)
    if not path.exists():
        folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        if folder is None or not folder.is_dir():
            return [f"database {path}: its folder cannot be created ({folder} is not a folder)"]
        if not os.access(folder, os.W_OK | os.X_OK):
            return [f"database {path}: cannot create it, {folder} is not writable"]
        return []
    if path.is_dir():
        return [f"database {path} is a folder, not a file: set QIWEEK_DB to a file path"]
    try:
        db = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except (OSError, sqlite3.Error) as exc:
        return [f"database {path} cannot be opened: {exc}"]
    try:
        await check_version(db)
    except StoreError as exc:
        return [f"database {path}: {exc}"]
    except sqlite3.Error as exc:
        return [f"database {path} cannot be read ({exc}): is it a qiweek-bot database?"]
    finally:
        await db.close()
    if not os.access(path, os.W_OK):
        return [f"database {path} is read-only for this user: the bot needs to write it"]
    return []


from bot.store.ledger import Claim, Ledger  # noqa: E402  (re-exported for convenience)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "PAGE_ROWS",
    "Claim",
    "Ledger",
    "Store",
    "StoreError",
    "database_problems",
    "migrate",
]
