-- collector:collect_overdue.find_open masked=['note', 'customers.email'] sha256=927fd3962e539a102081d3a9bd70f914dfc1528b7ab09c8870f0baaea974270f
SELECT data.invoices.id AS id, data.invoices.customer_id AS customer_id, data.invoices.amount_cents AS amount_cents, data.invoices.currency AS currency, CAST(NULL AS TEXT) AS note, data.customers.name AS "customers.name", CAST(NULL AS TEXT) AS "customers.email" 
FROM data.invoices JOIN data.customers ON data.invoices.tenant_id = data.customers.tenant_id AND data.invoices.customer_id = data.customers.id AND data.customers.tenant_id = %(acl_tenant)s::VARCHAR 
WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.status = %(param_1)s::VARCHAR AND data.invoices.amount_cents >= %(p_min_amount)s::BIGINT ORDER BY data.invoices.id 
 LIMIT %(param_2)s::INTEGER;

-- collector:collect_overdue.flag masked=[] sha256=d4a02ffa4d028e4d91fd1e6ab73b48e19257c869d069008f75266bdd6f2a9bc8
UPDATE data.invoices SET status=%(status)s::VARCHAR WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.id = %(p_invoice_id)s::BIGINT AND data.invoices.status = %(param_1)s::VARCHAR RETURNING data.invoices.id AS id, data.invoices.status AS status;

-- collector:escalate.flag_customer masked=[] sha256=25473624be89d20a5196007d6bd65a9b1b7a0487c3b766e5b697ec6558a15868
UPDATE data.invoices SET status=%(status)s::VARCHAR WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.customer_id = %(p_customer_id)s::BIGINT AND data.invoices.status = %(param_1)s::VARCHAR RETURNING data.invoices.id AS id;

-- support_bot:support.lookup masked=[] sha256=f31aac145f422c65cfdb2715f38cd351dd1c092a52ffdf1b5aa3f6a58d27c013
SELECT data.customers.id AS id, data.customers.name AS name, data.customers.email AS email 
FROM data.customers 
WHERE data.customers.tenant_id = %(acl_tenant)s::VARCHAR AND data.customers.name = %(p_name)s::VARCHAR ORDER BY data.customers.id 
 LIMIT %(param_1)s::INTEGER;

-- support_bot:support.open_invoice masked=[] sha256=d1867d72077a6efc8389f3560dcb03bb1b0a1b8330c99396567eabe26560ee23
INSERT INTO data.invoices (tenant_id, customer_id, amount_cents) VALUES (%(acl_tenant)s::VARCHAR, %(p_customer_id)s::BIGINT, %(p_amount_cents)s::BIGINT) RETURNING data.invoices.id AS id;

-- support_bot:void.void_invoice masked=[] sha256=fa09e153bc93f8f999c83e2ff30a964a1092aaa6ec31c087d9d81e7e750f50ea
DELETE FROM data.invoices WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.id = %(p_invoice_id)s::BIGINT;

