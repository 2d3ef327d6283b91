INSERT INTO "paybill"."tenant_roles" (role_name, tenant_id) VALUES ('t_acme_app', 'acme');
GRANT CONNECT ON DATABASE "paybill" TO "t_acme_app";
GRANT USAGE ON SCHEMA "paybill", "pooled" TO "t_acme_app";
GRANT SELECT ON "paybill"."tenant_roles" TO "t_acme_app";
GRANT EXECUTE ON FUNCTION "paybill"."current_tenant"() TO "t_acme_app";
GRANT SELECT, INSERT, UPDATE, DELETE ON "pooled"."customers" TO "t_acme_app";
GRANT SELECT, INSERT, UPDATE, DELETE ON "pooled"."invoices" TO "t_acme_app";
