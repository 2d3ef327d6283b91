SET LOCAL lock_timeout = '10s';
ALTER TABLE "app"."accounts" ADD COLUMN display_name TEXT;
UPDATE "app"."accounts" SET "display_name" = "name";
REVOKE ALL ON ALL TABLES IN SCHEMA "app" FROM "dm__a__umbrella__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "app"."accounts" TO "dm__a__umbrella__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "app"."orders" TO "dm__a__umbrella__reviewer";
INSERT INTO "paybill_schema"."unit_version" (unit, version, schema_hash) VALUES ('app', 3, '8568133a2e1c34ddd4e5edabefacc8ea3d1c30f327b8bc682ff0837ecc38604d') ON CONFLICT (unit) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now();
