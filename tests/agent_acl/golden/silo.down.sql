-- database of acme
\connect "postgres"
DROP DATABASE IF EXISTS "billing__t__acme" WITH (FORCE);

-- roles of acme
\connect "postgres"
BEGIN;
DROP ROLE IF EXISTS "billing__t__acme";
DROP ROLE IF EXISTS "billing__a__acme__collector";
DROP ROLE IF EXISTS "billing__a__acme__support_bot";
COMMIT;

-- database of globex
\connect "postgres"
DROP DATABASE IF EXISTS "billing__t__globex" WITH (FORCE);

-- roles of globex
\connect "postgres"
BEGIN;
DROP ROLE IF EXISTS "billing__t__globex";
DROP ROLE IF EXISTS "billing__a__globex__collector";
DROP ROLE IF EXISTS "billing__a__globex__support_bot";
COMMIT;

-- cluster roles
\connect "postgres"
BEGIN;
DROP ROLE IF EXISTS "billing__app";
DROP ROLE IF EXISTS "billing__migrator";
DROP ROLE IF EXISTS "billing__owner";
COMMIT;

