INSERT INTO "paybill"."tenant_roles" (role_name, tenant_id) VALUES ('r_acme', 'acme');
GRANT CONNECT ON DATABASE "paybill" TO "r_acme";
GRANT USAGE ON SCHEMA "paybill", "pooled" TO "r_acme";
GRANT SELECT ON "paybill"."tenant_roles" TO "r_acme";
GRANT SELECT, INSERT, UPDATE, DELETE ON "pooled"."customers" TO "r_acme";
GRANT SELECT, INSERT, UPDATE, DELETE ON "pooled"."invoices" TO "r_acme";
