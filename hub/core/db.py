"""The database kernel: typed Base, engine, and the unit of work with its single commit point."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

#: One naming convention so SQLite and PostgreSQL constraints get the same names and
#: Alembic batch migrations can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        from hub.core.clock import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from hub.core.clock import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class Code(TypeDecorator[E]):
    """A code from a StrEnum, stored as its value in a VARCHAR of ``length``.

    A row gives back the enum member, never a bare string; a write (or a comparison in a
    query) takes the member or its value and refuses anything else, so a mistyped status
    fails where it is written instead of matching nothing. The column stays a plain VARCHAR,
    so adding a member to the enum needs no migration.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    """Base of every model; constraint names follow NAMING_CONVENTION."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def _configure_sqlite(engine: Engine) -> None:
    """Let SQLite's one writer be explicit: every transaction begins IMMEDIATE.

    A page view is a disclosure that writes a ledger entry, so nearly every request writes;
    taking the write lock at BEGIN avoids deadlocks from lock upgrades and lets the ledger
    seal inline with dense indexes.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        # So before_outbound_call() can tell whether this transaction has written.
        connection.info["changes_at_begin"] = connection.connection.dbapi_connection.total_changes


#: PostgreSQL limits on the hub's own sessions (the roles carry the same defaults, see
#: deploy/postgres-roles.sql). An open transaction holds back the ledger's horizon and
#: vacuum; no request or job needs a statement this long.
IDLE_IN_TRANSACTION_TIMEOUT = "60s"
STATEMENT_TIMEOUT = "30s"
#: Seconds to wait for a new PostgreSQL connection, so a page fails fast when it is down.
CONNECT_TIMEOUT = 5


def make_engine(url: str, *, statement_timeout: str | None = None, **kwargs: Any) -> Engine:
    """Create the engine for a database URL with the hub's per-dialect settings.

    Statement parameters never appear in error messages or logs (they can hold personal
    data). ``statement_timeout`` bounds each PostgreSQL statement (migrations go without).
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": CONNECT_TIMEOUT},
    }
    options.update(kwargs)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'"
            )
            if statement_timeout:
                cursor.execute(f"SET statement_timeout = '{statement_timeout}'")
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()

    return engine


def is_connection_failure(error: BaseException) -> bool:
    """Whether an error is the database connection failing, not the database refusing.

    A connection the server dropped (restart, terminated backend, network) or one that could
    not be opened; not a statement the server refused, nor a timeout.
    """
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    # psycopg raises OperationalError without an SQLSTATE when it cannot connect at all;
    # class 08 is "connection exception".
    return isinstance(error, OperationalError) and (sqlstate is None or sqlstate.startswith("08"))


class Database:
    """Holds the engine and the session factory of one application."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        engine_kwargs.setdefault("statement_timeout", STATEMENT_TIMEOUT)
        self.engine = make_engine(url, **engine_kwargs)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        #: The application's domain-event bus (hub.core.events), set by create_app.
        self.bus: Any = None

        @event.listens_for(self.engine, "after_cursor_execute")
        def _count(*_args: Any) -> None:
            # How much a unit of work has done: a request that failed before its first
            # statement completed may be tried again.
            uow = _current.get()
            if uow is not None:
                uow.statements += 1

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """One transaction with one commit point, and side effects that run only after it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.session: Session = database.session_factory()
        self._after_commit: list[Callable[[], None]] = []
        self._after_end: list[Callable[[], None]] = []
        #: Ledger entries of disclosures made in this transaction, to be written again in
        #: their own transaction when the request rolls back but its response still shows
        #: the case data (a form re-rendered with its errors): ``keep_disclosures``.
        self._disclosures: list[Callable[[Session, dict[str, Any]], None]] = []
        self.closed = False
        #: Statements that completed in this unit of work (counted by the engine).
        self.statements = 0
        self.committing = False

    def after_commit(self, effect: Callable[[], None]) -> None:
        """Queue work (mail, PDF jobs) that must happen only if the transaction commits."""
        self._after_commit.append(effect)

    def after_end(self, work: Callable[[], None]) -> None:
        """Queue work for its own transaction once this one has committed or rolled back.

        Refusals and ended sessions are recorded this way: they must stick even though
        the request's own transaction rolls back, and SQLite's single writer means they
        cannot be written while this transaction still holds the lock.
        """
        self._after_end.append(work)

    def disclosed(self, write: Callable[[Session, dict[str, Any]], None]) -> None:
        """Remember how to write a disclosure's entry again (see ``keep_disclosures``)."""
        self._disclosures.append(write)

    def keep_disclosures(self, **extra: Any) -> int:
        """After a rollback, write this transaction's disclosure entries in their own.

        A response that carries case data must have its committed ledger entry whatever its
        status; the request's own transaction rolls back on a 4xx, taking the entries with
        it. ``extra`` details (the response status) are added to each. Returns how many.
        """
        writes, self._disclosures = self._disclosures, []
        database = self.database
        for write in writes:

            def again(write: Callable[[Session, dict[str, Any]], None] = write) -> None:
                _write_alone(database, lambda session: write(session, extra))

            self.after_end(again)
        return len(writes)

    def commit(self) -> None:
        self._disclosures.clear()
        self.committing = True
        self.session.commit()
        effects, self._after_commit = self._after_commit, []
        for effect in effects:
            try:
                effect()
            except Exception:  # a failed e-mail must not turn a committed request into an error
                log.exception("side effect failed after commit")

    def rollback(self) -> None:
        try:
            self.session.rollback()
        except DBAPIError as error:
            if not is_connection_failure(error):
                raise
            # The connection is gone, and the server rolled the transaction back with it.
            self._discard()
        self._after_commit.clear()

    def _discard(self) -> None:
        with contextlib.suppress(Exception):
            self.session.invalidate()

    def has_done_nothing(self) -> bool:
        """Whether nothing has happened in this unit: no statement done, no commit begun."""
        return not self.statements and not self.committing and not self._after_end

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.session.close()
        except DBAPIError as error:
            if not is_connection_failure(error):
                raise
            self._discard()  # as above: nothing is left open on a lost connection
        self.closed = True
        pending, self._after_end = self._after_end, []
        for work in pending:
            try:
                work()
            except Exception:
                log.exception("deferred write failed after the transaction ended")


_current: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar(
    "hub_unit_of_work", default=None
)
_database: contextvars.ContextVar[Database | None] = contextvars.ContextVar(
    "hub_database", default=None
)


def bind_database(database: Database) -> contextvars.Token[Database | None]:
    """Make a database the default for unit_of_work() in this context."""
    return _database.set(database)


def current_database() -> Database:
    database = _database.get()
    if database is None:
        try:
            from flask import current_app

            database = current_app.extensions["hub.db"]
        except (RuntimeError, KeyError):
            raise RuntimeError("no database bound: create the app or bind_database()") from None
    assert database is not None
    return database


@contextmanager
def unit_of_work(database: Database | None = None) -> Iterator[UnitOfWork]:
    """Run a block in one transaction: commit at the end, roll back on any exception.

    CLI commands and scheduled jobs use this; requests get theirs from the app shell.
    Nested use joins the outer unit of work rather than committing early.
    """
    outer = _current.get()
    if outer is not None and not outer.closed:
        yield outer
        return
    uow = UnitOfWork(database or current_database())
    token = _current.set(uow)
    try:
        yield uow
        uow.commit()
    except BaseException:
        uow.rollback()
        raise
    finally:
        _current.reset(token)
        uow.close()


def begin_request_unit(database: Database) -> tuple[UnitOfWork, contextvars.Token[Any]]:
    """Open the unit of work of one HTTP request (committed by the app shell)."""
    uow = UnitOfWork(database)
    return uow, _current.set(uow)


def end_request_unit(uow: UnitOfWork, token: contextvars.Token[Any]) -> None:
    _current.reset(token)
    uow.close()


def _write_alone(database: Database, work: Callable[[Session], None]) -> None:
    uow = UnitOfWork(database)
    try:
        work(uow.session)
        uow.commit()
    except BaseException:
        uow.rollback()
        raise
    finally:
        uow.close()


def in_own_transaction(work: Callable[[Session], None], database: Database | None = None) -> None:
    """Run work in a short transaction of its own: now, or after the current one ends.

    It waits only while the current unit of work holds an open transaction (SQLite's one
    writer lock would make the two wait on each other); otherwise it runs at once.
    """
    target = database or current_database()
    outer = _current.get()
    if outer is not None and not outer.closed and outer.session.in_transaction():
        outer.after_end(lambda: _write_alone(target, work))
    else:
        _write_alone(target, work)


def keep_disclosure(write: Callable[[Session, dict[str, Any]], None]) -> None:
    """Register a disclosure's entry with the current unit of work (see keep_disclosures)."""
    uow = _current.get()
    if uow is not None and not uow.closed:
        uow.disclosed(write)


class WritesPending(RuntimeError):
    """An outbound call was about to wait while the unit of work held uncommitted writes."""


def has_written(session: Session) -> bool:
    """Whether the session's open transaction has changed anything (flushed or not)."""
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # A transaction id is assigned at its first write, and only then.
        return bool(
            connection.exec_driver_sql(
                "SELECT pg_current_xact_id_if_assigned() IS NOT NULL"
            ).scalar()
        )
    if connection.dialect.name == "sqlite":
        started = connection.info.get("changes_at_begin")
        current = connection.connection.dbapi_connection.total_changes  # type: ignore[union-attr]
        return started is None or current != started
    return True  # unknown database: assume the worst


def end_read_transaction() -> None:
    """End the current unit of work's transaction, which must not have written anything.

    Objects loaded before are expired and load again when next touched, in a new
    transaction. Raises WritesPending if the transaction has written: that is a bug.
    """
    uow = _current.get()
    if uow is None or uow.closed:
        return
    session = uow.session
    if has_written(session):
        raise WritesPending(
            "an outbound call must not wait inside a transaction that has written: "
            "call the other system before writing"
        )
    if session.in_transaction():
        session.rollback()  # nothing was written: this only gives the lock and connection back


def before_outbound_call() -> None:
    """End the current unit of work's transaction before waiting on another system.

    Every call to an identity provider (discovery, key sets, tokens, userinfo) goes through
    here first. A request holds SQLite's single write lock from its first query, and a
    PostgreSQL connection from the pool, for as long as its transaction lasts: a provider
    that takes ten seconds to answer must not make every other request wait with it. The
    transaction must not have written anything yet (a bug, refused loudly): writes come
    after the answer. Objects loaded before are expired and load again when next touched,
    in a new transaction.
    """
    end_read_transaction()


def session() -> Session:
    """The session of the current unit of work; services use it and never commit."""
    uow = _current.get()
    if uow is None or uow.closed:
        raise RuntimeError("no unit of work: services run inside a request or unit_of_work()")
    return uow.session


def current_unit() -> UnitOfWork:
    uow = _current.get()
    if uow is None or uow.closed:
        raise RuntimeError("no unit of work")
    return uow


def after_commit(effect: Callable[[], None]) -> None:
    """Queue a side effect on the current unit of work."""
    current_unit().after_commit(effect)
