#!/bin/sh
# compose.yaml's `roles` step, after each `migrate`: applies roles.sql (a role that exists
# already is reported and kept; ownership and grants are applied again, so tables a new
# migration added are covered), then sets paydown_app's password.
set -eu
if [ -z "${PAYDOWN_APP_PASSWORD:-}" ]; then
  echo "set PAYDOWN_APP_PASSWORD (see compose.yaml)" >&2
  exit 1
fi
psql -v ON_ERROR_STOP=0 -q -f /roles.sql
printf '%s\n' "ALTER ROLE paydown_app PASSWORD :'app';" | psql -v ON_ERROR_STOP=1 -q -v app="$PAYDOWN_APP_PASSWORD"
