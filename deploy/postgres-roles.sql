-- Roles for a PostgreSQL deployment of MARAC Hub (deploy/runbook-operations.md, "Roles").
-- Run once, as a superuser, with the passwords as psql variables:
--
--   psql -v owner_password=... -v app_password=... -v sealer_password=... \
--        -f deploy/postgres-roles.sql
--
-- * marac_owner owns the schema and runs `hub db upgrade` and `hub db grant`; nothing else.
-- * marac_app is the web's role (`hub serve`): reads everything, writes the hub's tables,
--   and on the ledger only appends entries. It can neither seal nor sign.
-- * marac_sealer is the scheduler's role (`hub scheduler`, `hub audit seal|checkpoint|
--   export`): the application's rights, and alone it inserts seal batches, leaves,
--   subtree hashes and checkpoints.
-- Nobody may UPDATE, DELETE or TRUNCATE a ledger table (the triggers refuse it for anyone).
-- The table privileges themselves come from `hub db grant`, run as marac_owner after every
-- `hub db upgrade`:
--
--   DATABASE_URL=postgresql+psycopg://marac_owner:...@host/marac hub db upgrade
--   DATABASE_URL=postgresql+psycopg://marac_owner:...@host/marac hub db grant

CREATE ROLE marac_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE marac_app LOGIN PASSWORD :'app_password';
CREATE ROLE marac_sealer LOGIN PASSWORD :'sealer_password';

-- Bounds on the hub's own sessions (the hub also sets them on each connection). An open
-- transaction holds back vacuum and the ledger's horizon; no request or job needs longer.
ALTER ROLE marac_app SET statement_timeout = '30s';
ALTER ROLE marac_app SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE marac_sealer SET statement_timeout = '30s';
ALTER ROLE marac_sealer SET idle_in_transaction_session_timeout = '60s';
-- The owner's migrations may take longer, but must not sit idle inside a transaction.
ALTER ROLE marac_owner SET idle_in_transaction_session_timeout = '10min';

CREATE DATABASE marac OWNER marac_owner;
REVOKE ALL ON DATABASE marac FROM PUBLIC;
GRANT CONNECT ON DATABASE marac TO marac_app, marac_sealer;

\connect marac
-- Only the owner creates objects in the schema (PostgreSQL 15 already keeps PUBLIC out).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO marac_owner;
