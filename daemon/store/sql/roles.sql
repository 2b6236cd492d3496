-- name: create_reader_role
-- Roles are cluster-wide; creating one is guarded so migrate stays idempotent.
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
GRANT SELECT ON ALL TABLES IN SCHEMA meraki TO meraki_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA meraki GRANT SELECT ON TABLES TO meraki_reader;
