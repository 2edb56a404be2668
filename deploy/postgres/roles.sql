-- Least privilege on PostgreSQL (issue 17): an owner role that applies migrations and an
-- application role that `paydown serve` connects as. Neither is a superuser or may
-- replicate, so neither can `SET session_replication_role = replica` (which switches every
-- trigger off, the ledger's guards included); the application role may not change or
-- delete ledger entries or audit records at all, by trigger or by grant.
--
-- Run once as a superuser, connected to paydown's database, then set passwords:
--   psql -v ON_ERROR_STOP=1 -d paydown -f deploy/postgres/roles.sql
--   psql -d paydown -c "ALTER ROLE paydown_owner PASSWORD '…'" -c "ALTER ROLE paydown_app PASSWORD '…'"
--   paydown migrate --database-url postgres://paydown_owner:…@db/paydown   # and after each upgrade
--   paydown serve   --database-url postgres://paydown_app:…@db/paydown
-- Run it again after a migration adds a table (it is idempotent but for CREATE ROLE).

CREATE ROLE paydown_owner LOGIN NOSUPERUSER NOREPLICATION NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE paydown_app LOGIN NOSUPERUSER NOREPLICATION NOBYPASSRLS NOCREATEDB NOCREATEROLE;

GRANT USAGE, CREATE ON SCHEMA public TO paydown_owner;
GRANT USAGE ON SCHEMA public TO paydown_app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- What exists already becomes the owner's.
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO paydown_owner', item.tablename);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO paydown_owner', item.signature);
    END LOOP;
END
$$;

-- The application reads and writes facts, and appends to the ledger and the audit log.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO paydown_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO paydown_app;
ALTER DEFAULT PRIVILEGES FOR ROLE paydown_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO paydown_app;
ALTER DEFAULT PRIVILEGES FOR ROLE paydown_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO paydown_app;

-- What it never does: change or remove an entry or an audit record, remove a period,
-- touch the migrations' bookkeeping.
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_entries, audit_log FROM paydown_app;
REVOKE DELETE, TRUNCATE ON pay_periods FROM paydown_app;
REVOKE UPDATE, DELETE, TRUNCATE ON pay_run_steps, adjustments, payroll_exports FROM paydown_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON __diesel_schema_migrations FROM paydown_app;

-- The accrual worker vacuums the pay journal after a large run: its deleted rows would
-- otherwise be read by every idle pass until autovacuum reaches them. VACUUM needs the
-- MAINTAIN privilege, which PostgreSQL 17 introduced; on an older server the worker's
-- VACUUM is skipped with a warning, and the journal's own autovacuum settings (migration
-- 000018) do the work.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE 'GRANT MAINTAIN ON pay_journal TO paydown_app';
    END IF;
END
$$;
