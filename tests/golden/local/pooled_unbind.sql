DELETE FROM "pooled"."invoices" WHERE "tenant_id" = 'acme';
DELETE FROM "pooled"."customers" WHERE "tenant_id" = 'acme';
DELETE FROM "paybill"."tenant_roles" WHERE role_name = 't_acme_app';
DROP OWNED BY "t_acme_app";
