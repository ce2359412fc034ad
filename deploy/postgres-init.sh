#!/bin/sh
# Run by the postgres image on its first start (deploy/compose.yaml mounts it into
# /docker-entrypoint-initdb.d): the hub's roles and database, from postgres-roles.sql.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_password="$MARAC_OWNER_PASSWORD" \
  -v app_password="$MARAC_APP_PASSWORD" \
  -v sealer_password="$MARAC_SEALER_PASSWORD" \
  -f /docker-entrypoint-initdb.d/postgres-roles.sql.in
