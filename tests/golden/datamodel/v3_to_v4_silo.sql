SET LOCAL lock_timeout = '10s';
UPDATE "app"."accounts" SET "display_name" = "name" WHERE "display_name" IS NULL AND "name" IS NOT NULL;
ALTER TABLE "app"."accounts" DROP COLUMN "name";
ALTER TABLE "app"."orders" DROP COLUMN "legacy_code";
REVOKE ALL ON ALL TABLES IN SCHEMA "app" FROM "dm__a__umbrella__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "app"."accounts" TO "dm__a__umbrella__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "app"."orders" TO "dm__a__umbrella__reviewer";
INSERT INTO "paybill_schema"."unit_version" (unit, version, schema_hash) VALUES ('app', 4, '0ec0a0aa5dc83873f1ff80bd9c0f0a8c3b2ac8d08b806b20a94d9cedeaa35308') ON CONFLICT (unit) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now();
