DELETE FROM "pooled"."invoices" WHERE "tenant_id" = 'acme';
DELETE FROM "pooled"."customers" WHERE "tenant_id" = 'acme';
DELETE FROM "paybill"."tenant_roles" WHERE role_name = 'r_acme';
DROP OWNED BY "r_acme";
