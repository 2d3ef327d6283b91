-- collector:collect_overdue.find_open
WITH acl__step AS 
(SELECT data.invoices.id AS id, data.invoices.customer_id AS customer_id, data.invoices.amount_cents AS amount_cents, data.invoices.currency AS currency, CAST(NULL AS TEXT) AS note, data.customers.name AS "customers.name", CAST(NULL AS TEXT) AS "customers.email" 
FROM data.invoices JOIN data.customers ON data.invoices.tenant_id = data.customers.tenant_id AND data.invoices.customer_id = data.customers.id AND data.customers.tenant_id = %(acl_tenant)s::VARCHAR 
WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.status = %(param_2)s::VARCHAR AND data.invoices.amount_cents >= %(p_min_amount)s::BIGINT ORDER BY data.invoices.id 
 LIMIT %(param_3)s::INTEGER)
 SELECT acl__step.id, acl__step.customer_id, acl__step.amount_cents, acl__step.currency, acl__step.note, acl__step."customers.name", acl__step."customers.email", acl.check_rows(count(*) OVER (), %(param_1)s::BIGINT, %(acl_rows_left)s::BIGINT) AS acl__rows 
FROM acl__step;

-- collector:collect_overdue.flag
WITH acl__step AS 
(UPDATE data.invoices SET status=%(param_2)s::VARCHAR WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.id = %(p_invoice_id)s::BIGINT AND data.invoices.status = %(param_3)s::VARCHAR RETURNING data.invoices.id AS id, data.invoices.status AS status)
 SELECT acl__step.id, acl__step.status, acl.check_rows(count(*) OVER (), %(param_1)s::BIGINT, %(acl_rows_left)s::BIGINT) AS acl__rows 
FROM acl__step;

-- collector:escalate.flag_customer
WITH acl__step AS 
(UPDATE data.invoices SET status=%(param_2)s::VARCHAR WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.customer_id = %(p_customer_id)s::BIGINT AND data.invoices.status = %(param_3)s::VARCHAR RETURNING data.invoices.id AS id)
 SELECT acl__step.id, acl.check_rows(count(*) OVER (), %(param_1)s::BIGINT, %(acl_rows_left)s::BIGINT) AS acl__rows 
FROM acl__step;

-- support_bot:support.lookup
WITH acl__step AS 
(SELECT data.customers.id AS id, data.customers.name AS name, data.customers.email AS email 
FROM data.customers 
WHERE data.customers.tenant_id = %(acl_tenant)s::VARCHAR AND data.customers.name = %(p_name)s::VARCHAR ORDER BY data.customers.id 
 LIMIT %(param_2)s::INTEGER)
 SELECT acl__step.id, acl__step.name, acl__step.email, acl.check_rows(count(*) OVER (), %(param_1)s::BIGINT, %(acl_rows_left)s::BIGINT) AS acl__rows 
FROM acl__step;

-- support_bot:support.open_invoice
WITH acl__step AS 
(INSERT INTO data.invoices (tenant_id, customer_id, amount_cents) VALUES (%(acl_tenant)s::VARCHAR, %(p_customer_id)s::BIGINT, %(p_amount_cents)s::BIGINT) RETURNING data.invoices.id AS id)
 SELECT acl__step.id, acl.check_rows(count(*) OVER (), %(param_1)s::BIGINT, %(acl_rows_left)s::BIGINT) AS acl__rows 
FROM acl__step;

-- support_bot:void.void_invoice
WITH acl__step AS 
(DELETE FROM data.invoices WHERE data.invoices.tenant_id = %(acl_tenant)s::VARCHAR AND data.invoices.id = %(p_invoice_id)s::BIGINT RETURNING 1)
 SELECT acl.check_rows(count(*), %(param_1)s::BIGINT, %(acl_rows_left)s::BIGINT) AS acl__rows 
FROM acl__step;

