-- each on its own, before the transaction:
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "accounts_display_name_key" ON "pooled"."accounts" ("tenant_id", "display_name");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_account_total_idx" ON "pooled"."orders" ("account_id", "total_cents");
-- one transaction:
SET LOCAL lock_timeout = '10s';
ALTER TABLE "pooled"."accounts" ADD COLUMN email TEXT;
CREATE INDEX "accounts_email_idx" ON "pooled"."accounts" ("email");
REVOKE ALL ON ALL TABLES IN SCHEMA "pooled" FROM "dm__a__acme__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "pooled"."accounts" TO "dm__a__acme__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "pooled"."orders" TO "dm__a__acme__reviewer";
REVOKE ALL ON ALL TABLES IN SCHEMA "pooled" FROM "dm__a__globex__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "pooled"."accounts" TO "dm__a__globex__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "pooled"."orders" TO "dm__a__globex__reviewer";
INSERT INTO "paybill_schema"."unit_version" (unit, version, schema_hash) VALUES ('pooled', 5, '62db7e420efd62b00fe6139bf84fd6cb09e6c441b2d262e6cee190f1eecc74e8') ON CONFLICT (unit) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now();
