SET LOCAL lock_timeout = '10s';
SET LOCAL ROLE "pool_owner";
CREATE TABLE pooled.notes (
	id UUID DEFAULT pg_catalog.uuidv7() NOT NULL, 
	tenant_id TEXT NOT NULL, 
	account_id UUID NOT NULL, 
	body TEXT NOT NULL, 
	CONSTRAINT notes__pkey PRIMARY KEY (id), 
	CONSTRAINT notes__tenant_key UNIQUE (tenant_id, id), 
	CONSTRAINT notes__account__fkey FOREIGN KEY(tenant_id, account_id) REFERENCES pooled.accounts (tenant_id, id) ON DELETE CASCADE
);
RESET ROLE;
REVOKE ALL ON "pooled"."notes" FROM PUBLIC;
ALTER TABLE "pooled"."notes" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "pooled"."notes" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "pooled"."notes" FOR ALL USING ("tenant_id" = (SELECT "paybill"."tenant_roles"."tenant_id" FROM "paybill"."tenant_roles" WHERE "paybill"."tenant_roles"."role_name" = current_user)) WITH CHECK ("tenant_id" = (SELECT "paybill"."tenant_roles"."tenant_id" FROM "paybill"."tenant_roles" WHERE "paybill"."tenant_roles"."role_name" = current_user));
GRANT SELECT, INSERT, UPDATE, DELETE ON "pooled"."notes" TO "r_acme";
GRANT SELECT, INSERT, UPDATE, DELETE ON "pooled"."notes" TO "r_globex";
ALTER TABLE "pooled"."accounts" ADD COLUMN phone TEXT;
ALTER TABLE "pooled"."orders" ALTER COLUMN "total_cents" TYPE BIGINT USING "total_cents"::BIGINT;
REVOKE ALL ON ALL TABLES IN SCHEMA "pooled" FROM "dm__a__acme__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "pooled"."accounts" TO "dm__a__acme__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "pooled"."orders" TO "dm__a__acme__reviewer";
REVOKE ALL ON ALL TABLES IN SCHEMA "pooled" FROM "dm__a__globex__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "pooled"."accounts" TO "dm__a__globex__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "pooled"."orders" TO "dm__a__globex__reviewer";
INSERT INTO "paybill_schema"."unit_version" (unit, version, schema_hash) VALUES ('pooled', 2, '484f7411efc4f2b6697fe29391db8af3d0e54b6995941ebedf8debff4fc3a4ba') ON CONFLICT (unit) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now();
