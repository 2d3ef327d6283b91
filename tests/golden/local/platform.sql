CREATE ROLE "paybill_owner" NOLOGIN NOINHERIT NOBYPASSRLS;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA "paybill" AUTHORIZATION "paybill_owner";
CREATE TABLE "paybill"."tenant_roles" (role_name name PRIMARY KEY, tenant_id text NOT NULL UNIQUE);
ALTER TABLE "paybill"."tenant_roles" OWNER TO "paybill_owner";
ALTER TABLE "paybill"."tenant_roles" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "paybill"."tenant_roles" FORCE ROW LEVEL SECURITY;
CREATE POLICY "own_mapping_only" ON "paybill"."tenant_roles" FOR SELECT USING (role_name = current_user);
CREATE SCHEMA "pooled" AUTHORIZATION "paybill_owner";
SET LOCAL ROLE "paybill_owner";
CREATE TABLE pooled.customers (
	id UUID DEFAULT pg_catalog.uuidv7() NOT NULL, 
	tenant_id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	email TEXT, 
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
	CONSTRAINT customers__pkey PRIMARY KEY (id), 
	CONSTRAINT customers__tenant_key UNIQUE (tenant_id, id)
);
CREATE TABLE pooled.invoices (
	id UUID DEFAULT pg_catalog.uuidv7() NOT NULL, 
	tenant_id TEXT NOT NULL, 
	customer_id UUID NOT NULL, 
	amount_cents BIGINT NOT NULL, 
	currency TEXT DEFAULT 'USD' NOT NULL, 
	status TEXT DEFAULT 'open' NOT NULL, 
	CONSTRAINT invoices__pkey PRIMARY KEY (id), 
	CONSTRAINT invoices__tenant_key UNIQUE (tenant_id, id), 
	CONSTRAINT invoices__customer__fkey FOREIGN KEY(tenant_id, customer_id) REFERENCES pooled.customers (tenant_id, id) ON DELETE CASCADE
);
RESET ROLE;
ALTER TABLE "pooled"."customers" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "pooled"."customers" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "pooled"."customers" FOR ALL USING ("tenant_id" = (SELECT "paybill"."tenant_roles"."tenant_id" FROM "paybill"."tenant_roles" WHERE "paybill"."tenant_roles"."role_name" = current_user)) WITH CHECK ("tenant_id" = (SELECT "paybill"."tenant_roles"."tenant_id" FROM "paybill"."tenant_roles" WHERE "paybill"."tenant_roles"."role_name" = current_user));
ALTER TABLE "pooled"."invoices" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "pooled"."invoices" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "pooled"."invoices" FOR ALL USING ("tenant_id" = (SELECT "paybill"."tenant_roles"."tenant_id" FROM "paybill"."tenant_roles" WHERE "paybill"."tenant_roles"."role_name" = current_user)) WITH CHECK ("tenant_id" = (SELECT "paybill"."tenant_roles"."tenant_id" FROM "paybill"."tenant_roles" WHERE "paybill"."tenant_roles"."role_name" = current_user));
