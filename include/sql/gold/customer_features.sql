-- gold.customer_features: features per customer_id as of each date in as_of_dates (rendered from the job spec, spark dialect)
WITH snap0 AS (
  SELECT t.customer_id, a.i,
         MAX(CASE WHEN CAST(t.started_at AS DATE) <= a.as_of AND (t.cancelled_at IS NULL OR CAST(t.cancelled_at AS DATE) > a.as_of) THEN 1 ELSE 0 END) AS __member,
         max_by(t.plan, CASE WHEN CAST(t.started_at AS DATE) <= a.as_of THEN t.started_at END) AS plan,
         max_by(t.monthly_price, CASE WHEN CAST(t.started_at AS DATE) <= a.as_of THEN t.started_at END) AS monthly_price,
         MAX(CASE WHEN CAST(t.cancelled_at AS DATE) > a.as_of AND CAST(t.cancelled_at AS DATE) <= date_add(a.as_of, 30) THEN 1 ELSE 0 END) AS __y
  FROM subscriptions t
  CROSS JOIN as_of_dates a
  WHERE t.customer_id IS NOT NULL
  GROUP BY t.customer_id, a.i
),
spine AS (
  SELECT e.customer_id, a.i, a.as_of, a.split
  FROM customers e
  JOIN as_of_dates a ON CAST(e.signup_ts AS DATE) <= a.as_of
  JOIN snap0 q ON q.customer_id = e.customer_id AND q.i = a.i AND q.__member = 1
),
bounds0 AS (
  SELECT * FROM (VALUES (0, 0, 0, 0, 1, 15), (1, 30, 2, 2, 6, 19), (2, 37, 3, 3, 8, 20), (3, 44, 4, 4, 10, 21), (4, 51, 5, 5, 12, 22), (5, 58, 6, 7, 14, 23), (6, 65, 8, 9, 16, 24), (7, 72, 10, 11, 17, 25), (8, 79, 12, 13, 18, 26)) AS b(i, o, lo, hi7, hi30, hi90)
),
seg0 AS (
  SELECT __k, __seg,
         COUNT(*) AS m0,
         SUM(CASE WHEN (event_type = 'support_contact') THEN 1 ELSE 0 END) AS m1,
         SUM(CASE WHEN (event_type = 'cancel_flow_view') THEN 1 ELSE 0 END) AS m2,
         MIN(__delta) AS m3
  FROM (SELECT *, CASE WHEN __delta >= 169 THEN 27 ELSE element_at(array(0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 7, 7, 7, 7, 7, 8, 8, 9, 9, 9, 9, 9, 10, 10, 11, 11, 11, 11, 11, 12, 12, 13, 13, 13, 13, 13, 14, 14, 15, 15, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 20, 20, 20, 20, 20, 20, 20, 21, 21, 21, 21, 21, 21, 21, 22, 22, 22, 22, 22, 22, 22, 23, 23, 23, 23, 23, 23, 23, 24, 24, 24, 24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25, 26, 26, 26, 26, 26, 26, 26), __delta + 1) END AS __seg
        FROM (SELECT *, customer_id AS __k, (SELECT ds_day FROM run_params) - CAST(floor(unix_micros(event_ts) / 86400000000D) AS INT) AS __delta
              FROM events
              WHERE customer_id IS NOT NULL AND event_ts IS NOT NULL) x
        WHERE __delta >= 0) y
  GROUP BY __k, __seg
),
agg0 AS (
  SELECT t.__k, b.i,
         SUM(CASE WHEN t.__seg <= b.hi7 THEN t.m0 END) AS events_7d,
         SUM(CASE WHEN t.__seg <= b.hi30 THEN t.m0 END) AS events_30d,
         SUM(CASE WHEN t.__seg <= b.hi90 THEN t.m0 END) AS events_90d,
         SUM(CASE WHEN t.__seg <= b.hi30 THEN t.m1 END) AS support_events_30d,
         SUM(CASE WHEN t.__seg <= b.hi30 THEN t.m2 END) AS cancel_page_views_30d,
         MIN(t.m3) - b.o AS days_since_last_event
  FROM seg0 t
  JOIN bounds0 b ON t.__seg >= b.lo
  GROUP BY t.__k, b.i, b.o
),
bounds1 AS (
  SELECT * FROM (VALUES (0, 0, 0, 0, 13), (1, 30, 1, 5, 17), (2, 37, 2, 7, 18), (3, 44, 3, 9, 19), (4, 51, 4, 11, 20), (5, 58, 5, 12, 21), (6, 65, 7, 14, 22), (7, 72, 9, 15, 23), (8, 79, 11, 16, 24)) AS b(i, o, lo, hi30, hi90)
),
seg1 AS (
  SELECT __k, __seg,
         MIN(CASE WHEN (status = 'succeeded') THEN __delta END) AS m0,
         SUM(CASE WHEN (status = 'succeeded') THEN 1 ELSE 0 END) AS m1,
         SUM(CASE WHEN (status = 'succeeded') THEN CAST(amount AS DOUBLE) END) AS m2,
         SUM(CASE WHEN (status = 'failed') THEN 1 ELSE 0 END) AS m3
  FROM (SELECT *, CASE WHEN __delta >= 169 THEN 25 ELSE element_at(array(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 6, 6, 6, 6, 6, 7, 7, 8, 8, 8, 8, 8, 9, 9, 10, 10, 10, 10, 10, 11, 11, 12, 12, 12, 12, 12, 12, 12, 13, 13, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 20, 20, 20, 20, 20, 20, 20, 21, 21, 21, 21, 21, 21, 21, 22, 22, 22, 22, 22, 22, 22, 23, 23, 23, 23, 23, 23, 23, 24, 24, 24, 24, 24, 24, 24), __delta + 1) END AS __seg
        FROM (SELECT *, customer_id AS __k, (SELECT ds_day FROM run_params) - CAST(floor(unix_micros(paid_at) / 86400000000D) AS INT) AS __delta
              FROM payments
              WHERE customer_id IS NOT NULL AND paid_at IS NOT NULL) x
        WHERE __delta >= 0) y
  GROUP BY __k, __seg
),
agg1 AS (
  SELECT t.__k, b.i,
         MIN(t.m0) - b.o AS days_since_last_payment,
         SUM(CASE WHEN t.__seg <= b.hi90 THEN t.m1 END) AS payments_90d,
         SUM(CASE WHEN t.__seg <= b.hi90 THEN t.m2 END) AS monetary_90d,
         SUM(CASE WHEN t.__seg <= b.hi30 THEN t.m3 END) AS payment_failures_30d,
         SUM(CASE WHEN t.__seg <= b.hi90 THEN t.m3 END) AS payment_failures_90d
  FROM seg1 t
  JOIN bounds1 b ON t.__seg >= b.lo
  GROUP BY t.__k, b.i, b.o
)
SELECT s.customer_id,
       s.as_of,
       s.split,
       CAST(datediff(s.as_of, CAST(v0.signup_ts AS DATE)) AS INT) AS tenure_days,
       CAST(p0.plan AS STRING) AS plan,
       CAST(p0.monthly_price AS DOUBLE) AS monthly_price,
       CAST(v0.country AS STRING) AS country,
       CAST(COALESCE(r0.events_7d, 0) AS BIGINT) AS events_7d,
       CAST(COALESCE(r0.events_30d, 0) AS BIGINT) AS events_30d,
       CAST(COALESCE(r0.events_90d, 0) AS BIGINT) AS events_90d,
       CAST(COALESCE(r0.support_events_30d, 0) AS BIGINT) AS support_events_30d,
       CAST(COALESCE(r0.cancel_page_views_30d, 0) AS BIGINT) AS cancel_page_views_30d,
       CAST(r0.days_since_last_event AS INT) AS days_since_last_event,
       CAST(r1.days_since_last_payment AS INT) AS days_since_last_payment,
       CAST(COALESCE(r1.payments_90d, 0) AS BIGINT) AS payments_90d,
       CAST(COALESCE(r1.monetary_90d, 0) AS DOUBLE) AS monetary_90d,
       CAST(COALESCE(r1.payment_failures_30d, 0) AS BIGINT) AS payment_failures_30d,
       CAST(COALESCE(r1.payment_failures_90d, 0) AS BIGINT) AS payment_failures_90d,
       CAST(v2.company_size AS BIGINT) AS company_size,
       CAST(v2.industry AS STRING) AS industry,
       CAST(v2.credit_band AS STRING) AS credit_band,
       CAST(CASE WHEN s.split = 'train' THEN COALESCE(p0.__y, 0) END AS INT) AS churned
FROM spine s
LEFT JOIN agg0 r0 ON r0.__k = s.customer_id AND r0.i = s.i
LEFT JOIN agg1 r1 ON r1.__k = s.customer_id AND r1.i = s.i
LEFT JOIN customers v0 ON v0.customer_id = s.customer_id AND CAST(v0.signup_ts AS DATE) <= s.as_of
LEFT JOIN accounts v2 ON v2.customer_id = s.customer_id AND CAST(v2.updated_date AS DATE) <= s.as_of
LEFT JOIN snap0 p0 ON p0.customer_id = s.customer_id AND p0.i = s.i
