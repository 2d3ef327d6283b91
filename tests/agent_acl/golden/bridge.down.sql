-- objects and grants of acme
\connect "billing"
BEGIN;
DROP SCHEMA IF EXISTS "t__acme" CASCADE;
DO 'BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''billing__t__acme'') THEN EXECUTE ''DROP OWNED BY "billing__t__acme"''; END IF; END';
DO 'BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''billing__a__acme__collector'') THEN EXECUTE ''DROP OWNED BY "billing__a__acme__collector"''; END IF; END';
DO 'BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''billing__a__acme__support_bot'') THEN EXECUTE ''DROP OWNED BY "billing__a__acme__support_bot"''; END IF; END';
COMMIT;

-- roles of acme
\connect "postgres"
BEGIN;
DROP ROLE IF EXISTS "billing__t__acme";
DROP ROLE IF EXISTS "billing__a__acme__collector";
DROP ROLE IF EXISTS "billing__a__acme__support_bot";
COMMIT;

-- objects and grants of globex
\connect "billing"
BEGIN;
DROP SCHEMA IF EXISTS "t__globex" CASCADE;
DO 'BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''billing__t__globex'') THEN EXECUTE ''DROP OWNED BY "billing__t__globex"''; END IF; END';
DO 'BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''billing__a__globex__collector'') THEN EXECUTE ''DROP OWNED BY "billing__a__globex__collector"''; END IF; END';
DO 'BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''billing__a__globex__support_bot'') THEN EXECUTE ''DROP OWNED BY "billing__a__globex__support_bot"''; END IF; END';
COMMIT;

-- roles of globex
\connect "postgres"
BEGIN;
DROP ROLE IF EXISTS "billing__t__globex";
DROP ROLE IF EXISTS "billing__a__globex__collector";
DROP ROLE IF EXISTS "billing__a__globex__support_bot";
COMMIT;

-- shared database
\connect "postgres"
DROP DATABASE IF EXISTS "billing" WITH (FORCE);

-- cluster roles
\connect "postgres"
BEGIN;
DROP ROLE IF EXISTS "billing__app";
DROP ROLE IF EXISTS "billing__migrator";
DROP ROLE IF EXISTS "billing__owner";
COMMIT;

