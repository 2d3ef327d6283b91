SET LOCAL lock_timeout = '10s';
ALTER TABLE "s_initech"."accounts" ADD COLUMN display_name TEXT;
UPDATE "s_initech"."accounts" SET "display_name" = "name";
REVOKE ALL ON ALL TABLES IN SCHEMA "s_initech" FROM "dm__a__initech__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "s_initech"."accounts" TO "dm__a__initech__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "s_initech"."orders" TO "dm__a__initech__reviewer";
INSERT INTO "paybill_schema"."unit_version" (unit, version, schema_hash) VALUES ('s_initech', 3, '8568133a2e1c34ddd4e5edabefacc8ea3d1c30f327b8bc682ff0837ecc38604d') ON CONFLICT (unit) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now();
