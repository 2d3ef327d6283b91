SET LOCAL lock_timeout = '10s';
UPDATE "s_initech"."accounts" SET "display_name" = "name" WHERE "display_name" IS NULL AND "name" IS NOT NULL;
ALTER TABLE "s_initech"."accounts" DROP COLUMN "name";
ALTER TABLE "s_initech"."orders" DROP COLUMN "legacy_code";
REVOKE ALL ON ALL TABLES IN SCHEMA "s_initech" FROM "dm__a__initech__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "s_initech"."accounts" TO "dm__a__initech__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "s_initech"."orders" TO "dm__a__initech__reviewer";
INSERT INTO "paybill_schema"."unit_version" (unit, version, schema_hash) VALUES ('s_initech', 4, '0ec0a0aa5dc83873f1ff80bd9c0f0a8c3b2ac8d08b806b20a94d9cedeaa35308') ON CONFLICT (unit) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now();
