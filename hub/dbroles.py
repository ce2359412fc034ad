"""PostgreSQL privileges for the hub's three roles (`hub db grant`).

* The **owner** owns the schema and runs the migrations (`hub db upgrade`), nothing else.
* The **application** role (`hub serve`) reads everything and writes the hub's own tables,
  but on the ledger it may only insert entries (not their transaction id, which the
  column's default stamps) and their search references. It can neither seal nor sign: a
  web process, however compromised, cannot stop sealing or forge the tree.
* The **sealer** role (`hub scheduler`, `hub audit seal | checkpoint | export`) has the
  application's rights (its jobs do the same work) and alone may insert seal batches,
  leaves, subtree hashes and checkpoints.

Nobody gets UPDATE, DELETE or TRUNCATE on a ledger table (the triggers refuse them too).
Run as the owner after every upgrade: new tables get no privileges until granted. The roles
themselves, and their timeouts, come from deploy/postgres-roles.sql.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from audit.models import LEDGER_TABLES

#: Ledger tables only the sealer writes.
SEALED_TABLES = ("audit_leaves", "audit_nodes", "audit_seal_batches", "audit_checkpoints")
#: Columns of an entry its writer supplies; ``id`` and ``txid`` come from their defaults.
ENTRY_COLUMNS = ("body", "action", "at")


def grant_statements(app_role: str, sealer_role: str) -> list[str]:
    """The statements that give both roles exactly their rights (roles quoted)."""
    app, sealer = _quote(app_role), _quote(sealer_role)
    both = f"{app}, {sealer}"
    ledger = ", ".join(LEDGER_TABLES)
    return [
        f"GRANT USAGE ON SCHEMA public TO {both}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {both}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {both}",
        # The ledger and the migration record: read, and insert only as below.
        f"REVOKE ALL ON {ledger}, alembic_version FROM {both}",
        f"GRANT SELECT ON {ledger}, alembic_version TO {both}",
        f"GRANT INSERT ({', '.join(ENTRY_COLUMNS)}) ON audit_entries TO {both}",
        f"GRANT INSERT ON audit_entry_refs TO {both}",
        f"GRANT INSERT ON {', '.join(SEALED_TABLES)} TO {sealer}",
        *(
            f"REVOKE ALL ON SEQUENCE {_sequence(table)} FROM {app}"
            for table in ("audit_seal_batches", "audit_checkpoints")
        ),
    ]


def grant(conn: Connection, app_role: str, sealer_role: str) -> None:
    """Apply the grants on an owner's (or superuser's) connection, in its transaction."""
    missing = [
        role
        for role in (app_role, sealer_role)
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        is None
    ]
    if missing:
        raise LookupError(
            f"no database role {missing[0]!r}: create the roles first (deploy/postgres-roles.sql)"
        )
    if app_role == sealer_role:
        raise ValueError("the application and sealer roles must be different roles")
    for statement in grant_statements(app_role, sealer_role):
        conn.execute(text(statement))


#: The sealer's tables the current role may insert into.
_WRITABLE = text(
    "SELECT t FROM unnest(CAST(:tables AS text[])) AS t WHERE has_table_privilege(t, 'INSERT')"
)


def sealer_tables_writable(conn: Connection) -> list[str]:
    """Which of the tables only the sealer writes the connection's role may insert into."""
    return [row[0] for row in conn.execute(_WRITABLE, {"tables": list(SEALED_TABLES)})]


def _sequence(table: str) -> str:
    # Serial primary keys: the sequence PostgreSQL created for the column.
    return f"{table}_id_seq"


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError(f"{name!r} is not a plain role name (letters, digits, underscores)")
    return f'"{name}"'
