CREATE SCHEMA IF NOT EXISTS "paybill_provisioner";
REVOKE ALL ON SCHEMA "paybill_provisioner" FROM PUBLIC;
CREATE TABLE IF NOT EXISTS "paybill_provisioner"."provisioning_lock" ();
REVOKE ALL ON "paybill_provisioner"."provisioning_lock" FROM PUBLIC;
LOCK TABLE "paybill_provisioner"."provisioning_lock" IN EXCLUSIVE MODE;
REVOKE CONNECT ON DATABASE "postgres", "template1" FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION "pg_catalog"."lo_creat"(integer), "pg_catalog"."lo_create"(oid), "pg_catalog"."lo_from_bytea"(oid, bytea) FROM PUBLIC;
