-- Roles for a PostgreSQL deployment of MARAC Hub.
-- The owner runs migrations; the application role reads and writes but can never
-- rewrite the ledger: it has no UPDATE, DELETE or TRUNCATE on the ledger tables (the
-- triggers refuse them too, for anyone).

CREATE ROLE marac_owner LOGIN PASSWORD 'change-me';
CREATE ROLE marac_app LOGIN PASSWORD 'change-me';
CREATE DATABASE marac OWNER marac_owner;

\connect marac
SET ROLE marac_owner;
-- Run `DATABASE_URL=postgresql+psycopg://marac_owner:...@host/marac hub db upgrade` first,
-- then grant the application role its rights:
GRANT USAGE ON SCHEMA public TO marac_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO marac_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO marac_app;
REVOKE UPDATE, DELETE, TRUNCATE ON
    audit_entries, audit_entry_refs, audit_leaves, audit_nodes, audit_seal_batches,
    audit_checkpoints
FROM marac_app;
