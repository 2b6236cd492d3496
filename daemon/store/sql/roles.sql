-- name: create_reader_role
-- meraki_reader reads every table and view of the meraki schema and can write nothing at all.
--
-- Privileges in PostgreSQL only add up: a role has whatever PUBLIC has. Out of the box PUBLIC
-- may create temporary tables in every database (TEMPORARY), create large objects (lo_create,
-- lo_creat, lo_from_bytea), and before PostgreSQL 15 create tables in schema public. So a
-- read-only role needs those taken from PUBLIC, in this database only:
--   - TEMPORARY on this database is revoked from PUBLIC and granted explicitly to the roles that
--     stage rows in temp tables: the owner of the meraki schema (the daemon's role) and the
--     role running this migration. Other roles that need temp tables in this database must be
--     granted TEMPORARY by name. This assumes the database is meraki-sync's own, as the install
--     guide sets it up; no other database of the cluster is touched.
--   - CONNECT stays with PUBLIC: connecting writes nothing, and pg_hba.conf is the place that
--     decides who may connect.
--   - EXECUTE on the large-object creating functions is revoked from PUBLIC (function rights
--     are per database; meraki-sync uses no large objects). Server-side lo_import is already
--     superuser-only.
--   - CREATE on schema public is revoked from PUBLIC, as PostgreSQL 15 does by default.
--   - The partition functions are revoked from PUBLIC in schema.sql already.
-- Everything here is idempotent and needs a superuser (the pg_catalog functions and schema
-- public belong to one). The check at the end fails the migration, naming what is left, when a
-- right could not be taken away, rather than leaving a "read-only" role that can write.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'meraki_reader') THEN
        CREATE ROLE meraki_reader NOLOGIN;
    END IF;
END $$;
COMMENT ON ROLE meraki_reader IS 'Read-only access to the meraki schema (tables and views). GRANT it to the login roles of reporting tools.';
REVOKE ALL ON SCHEMA meraki FROM meraki_reader;
GRANT USAGE ON SCHEMA meraki TO meraki_reader;
REVOKE ALL ON ALL TABLES IN SCHEMA meraki FROM meraki_reader;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA meraki FROM meraki_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA meraki TO meraki_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA meraki GRANT SELECT ON TABLES TO meraki_reader;
-- The report functions (schema.sql grants them too, but only where the role already exists).
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'meraki' AND p.proname LIKE 'report\_%'
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO meraki_reader', fn);
    END LOOP;
END $$;
DO $$
DECLARE
    schema_owner text := (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'meraki');
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %s', current_database(), schema_owner);
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM meraki_reader', current_database());
END $$;
REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.lo_creat(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        REVOKE ALL ON SCHEMA public FROM meraki_reader;
    END IF;
END $$;
DO $$
DECLARE
    left_over text[] := ARRAY[]::text[];
    fn text;
BEGIN
    IF has_database_privilege('meraki_reader', current_database(), 'TEMPORARY') THEN
        left_over := left_over || 'TEMPORARY on the database';
    END IF;
    IF has_database_privilege('meraki_reader', current_database(), 'CREATE') THEN
        left_over := left_over || 'CREATE on the database';
    END IF;
    IF to_regnamespace('public') IS NOT NULL
            AND has_schema_privilege('meraki_reader', 'public', 'CREATE') THEN
        left_over := left_over || 'CREATE on schema public';
    END IF;
    IF has_schema_privilege('meraki_reader', 'meraki', 'CREATE') THEN
        left_over := left_over || 'CREATE on schema meraki';
    END IF;
    FOREACH fn IN ARRAY ARRAY[
        'pg_catalog.lo_create(oid)', 'pg_catalog.lo_creat(integer)',
        'pg_catalog.lo_from_bytea(oid, bytea)', 'pg_catalog.lo_import(text)',
        'pg_catalog.lo_import(text, oid)'
    ] LOOP
        IF has_function_privilege('meraki_reader', fn, 'EXECUTE') THEN
            left_over := left_over || ('EXECUTE on ' || fn);
        END IF;
    END LOOP;
    IF cardinality(left_over) > 0 THEN
        RAISE EXCEPTION 'meraki_reader could still write: %', array_to_string(left_over, ', ')
            USING HINT = 'run `meraki-sync migrate --create-roles` as a PostgreSQL superuser';
    END IF;
END $$;
