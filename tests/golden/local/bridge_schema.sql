GRANT CONNECT ON DATABASE "paybill" TO "r_acme";
CREATE SCHEMA "s_acme" AUTHORIZATION "r_acme";
SET LOCAL ROLE "r_acme";
CREATE TABLE s_acme.customers (
	id UUID DEFAULT pg_catalog.uuidv7() NOT NULL, 
	tenant_id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	email TEXT, 
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
	CONSTRAINT customers__pkey PRIMARY KEY (id), 
	CONSTRAINT customers__tenant_key UNIQUE (tenant_id, id)
);
CREATE TABLE s_acme.invoices (
	id UUID DEFAULT pg_catalog.uuidv7() NOT NULL, 
	tenant_id TEXT NOT NULL, 
	customer_id UUID NOT NULL, 
	amount_cents BIGINT NOT NULL, 
	currency TEXT DEFAULT 'USD' NOT NULL, 
	status TEXT DEFAULT 'open' NOT NULL, 
	CONSTRAINT invoices__pkey PRIMARY KEY (id), 
	CONSTRAINT invoices__tenant_key UNIQUE (tenant_id, id), 
	CONSTRAINT invoices__customer__fkey FOREIGN KEY(tenant_id, customer_id) REFERENCES s_acme.customers (tenant_id, id) ON DELETE CASCADE
);
RESET ROLE;
REVOKE ALL ON "s_acme"."customers" FROM PUBLIC;
REVOKE ALL ON "s_acme"."invoices" FROM PUBLIC;
REVOKE ALL ON SCHEMA "s_acme" FROM PUBLIC;
GRANT USAGE ON SCHEMA "s_acme" TO "r_acme";
