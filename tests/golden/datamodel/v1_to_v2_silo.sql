SET LOCAL lock_timeout = '10s';
SET LOCAL ROLE "r_umbrella";
CREATE TABLE app.notes (
	id UUID DEFAULT pg_catalog.uuidv7() NOT NULL, 
	tenant_id TEXT NOT NULL, 
	account_id UUID NOT NULL, 
	body TEXT NOT NULL, 
	CONSTRAINT notes__pkey PRIMARY KEY (id), 
	CONSTRAINT notes__tenant_key UNIQUE (tenant_id, id), 
	CONSTRAINT notes__account__fkey FOREIGN KEY(tenant_id, account_id) REFERENCES app.accounts (tenant_id, id) ON DELETE CASCADE
);
RESET ROLE;
REVOKE ALL ON "app"."notes" FROM PUBLIC;
ALTER TABLE "app"."accounts" ADD COLUMN phone TEXT;
ALTER TABLE "app"."orders" ALTER COLUMN "total_cents" TYPE BIGINT USING "total_cents"::BIGINT;
REVOKE ALL ON ALL TABLES IN SCHEMA "app" FROM "dm__a__umbrella__reviewer";
GRANT SELECT ("id", "plan_code", "tenant_id") ON "app"."accounts" TO "dm__a__umbrella__reviewer";
GRANT SELECT ("account_id", "id", "tenant_id") ON "app"."orders" TO "dm__a__umbrella__reviewer";
INSERT INTO "paybill_schema"."unit_version" (unit, version, schema_hash) VALUES ('app', 2, '484f7411efc4f2b6697fe29391db8af3d0e54b6995941ebedf8debff4fc3a4ba') ON CONFLICT (unit) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now();
