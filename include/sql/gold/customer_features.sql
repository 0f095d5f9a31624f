-- gold.customer_features: features per customer_id as of each date in as_of_dates (rendered from the job spec, spark dialect)
WITH population AS (
  SELECT DISTINCT p.customer_id, a.as_of
  FROM subscriptions p
  JOIN as_of_dates a ON CAST(p.started_at AS DATE) <= a.as_of AND (p.cancelled_at IS NULL OR CAST(p.cancelled_at AS DATE) > a.as_of)
),
spine AS (
  SELECT e.customer_id, a.i, a.as_of, a.split
  FROM customers e
  JOIN as_of_dates a ON CAST(e.signup_ts AS DATE) <= a.as_of
  JOIN population q ON q.customer_id = e.customer_id AND q.as_of = a.as_of
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
wide0 AS (
  SELECT __k,
         SUM(CASE WHEN __seg BETWEEN 0 AND 0 THEN m0 END) AS events_7d__0,
         SUM(CASE WHEN __seg BETWEEN 2 AND 2 THEN m0 END) AS events_7d__1,
         SUM(CASE WHEN __seg BETWEEN 3 AND 3 THEN m0 END) AS events_7d__2,
         SUM(CASE WHEN __seg BETWEEN 4 AND 4 THEN m0 END) AS events_7d__3,
         SUM(CASE WHEN __seg BETWEEN 5 AND 5 THEN m0 END) AS events_7d__4,
         SUM(CASE WHEN __seg BETWEEN 6 AND 7 THEN m0 END) AS events_7d__5,
         SUM(CASE WHEN __seg BETWEEN 8 AND 9 THEN m0 END) AS events_7d__6,
         SUM(CASE WHEN __seg BETWEEN 10 AND 11 THEN m0 END) AS events_7d__7,
         SUM(CASE WHEN __seg BETWEEN 12 AND 13 THEN m0 END) AS events_7d__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 1 THEN m0 END) AS events_30d__0,
         SUM(CASE WHEN __seg BETWEEN 2 AND 6 THEN m0 END) AS events_30d__1,
         SUM(CASE WHEN __seg BETWEEN 3 AND 8 THEN m0 END) AS events_30d__2,
         SUM(CASE WHEN __seg BETWEEN 4 AND 10 THEN m0 END) AS events_30d__3,
         SUM(CASE WHEN __seg BETWEEN 5 AND 12 THEN m0 END) AS events_30d__4,
         SUM(CASE WHEN __seg BETWEEN 6 AND 14 THEN m0 END) AS events_30d__5,
         SUM(CASE WHEN __seg BETWEEN 8 AND 16 THEN m0 END) AS events_30d__6,
         SUM(CASE WHEN __seg BETWEEN 10 AND 17 THEN m0 END) AS events_30d__7,
         SUM(CASE WHEN __seg BETWEEN 12 AND 18 THEN m0 END) AS events_30d__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 15 THEN m0 END) AS events_90d__0,
         SUM(CASE WHEN __seg BETWEEN 2 AND 19 THEN m0 END) AS events_90d__1,
         SUM(CASE WHEN __seg BETWEEN 3 AND 20 THEN m0 END) AS events_90d__2,
         SUM(CASE WHEN __seg BETWEEN 4 AND 21 THEN m0 END) AS events_90d__3,
         SUM(CASE WHEN __seg BETWEEN 5 AND 22 THEN m0 END) AS events_90d__4,
         SUM(CASE WHEN __seg BETWEEN 6 AND 23 THEN m0 END) AS events_90d__5,
         SUM(CASE WHEN __seg BETWEEN 8 AND 24 THEN m0 END) AS events_90d__6,
         SUM(CASE WHEN __seg BETWEEN 10 AND 25 THEN m0 END) AS events_90d__7,
         SUM(CASE WHEN __seg BETWEEN 12 AND 26 THEN m0 END) AS events_90d__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 1 THEN m1 END) AS support_events_30d__0,
         SUM(CASE WHEN __seg BETWEEN 2 AND 6 THEN m1 END) AS support_events_30d__1,
         SUM(CASE WHEN __seg BETWEEN 3 AND 8 THEN m1 END) AS support_events_30d__2,
         SUM(CASE WHEN __seg BETWEEN 4 AND 10 THEN m1 END) AS support_events_30d__3,
         SUM(CASE WHEN __seg BETWEEN 5 AND 12 THEN m1 END) AS support_events_30d__4,
         SUM(CASE WHEN __seg BETWEEN 6 AND 14 THEN m1 END) AS support_events_30d__5,
         SUM(CASE WHEN __seg BETWEEN 8 AND 16 THEN m1 END) AS support_events_30d__6,
         SUM(CASE WHEN __seg BETWEEN 10 AND 17 THEN m1 END) AS support_events_30d__7,
         SUM(CASE WHEN __seg BETWEEN 12 AND 18 THEN m1 END) AS support_events_30d__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 1 THEN m2 END) AS cancel_page_views_30d__0,
         SUM(CASE WHEN __seg BETWEEN 2 AND 6 THEN m2 END) AS cancel_page_views_30d__1,
         SUM(CASE WHEN __seg BETWEEN 3 AND 8 THEN m2 END) AS cancel_page_views_30d__2,
         SUM(CASE WHEN __seg BETWEEN 4 AND 10 THEN m2 END) AS cancel_page_views_30d__3,
         SUM(CASE WHEN __seg BETWEEN 5 AND 12 THEN m2 END) AS cancel_page_views_30d__4,
         SUM(CASE WHEN __seg BETWEEN 6 AND 14 THEN m2 END) AS cancel_page_views_30d__5,
         SUM(CASE WHEN __seg BETWEEN 8 AND 16 THEN m2 END) AS cancel_page_views_30d__6,
         SUM(CASE WHEN __seg BETWEEN 10 AND 17 THEN m2 END) AS cancel_page_views_30d__7,
         SUM(CASE WHEN __seg BETWEEN 12 AND 18 THEN m2 END) AS cancel_page_views_30d__8,
         MIN(CASE WHEN __seg >= 0 THEN m3 END) - 0 AS days_since_last_event__0,
         MIN(CASE WHEN __seg >= 2 THEN m3 END) - 30 AS days_since_last_event__1,
         MIN(CASE WHEN __seg >= 3 THEN m3 END) - 37 AS days_since_last_event__2,
         MIN(CASE WHEN __seg >= 4 THEN m3 END) - 44 AS days_since_last_event__3,
         MIN(CASE WHEN __seg >= 5 THEN m3 END) - 51 AS days_since_last_event__4,
         MIN(CASE WHEN __seg >= 6 THEN m3 END) - 58 AS days_since_last_event__5,
         MIN(CASE WHEN __seg >= 8 THEN m3 END) - 65 AS days_since_last_event__6,
         MIN(CASE WHEN __seg >= 10 THEN m3 END) - 72 AS days_since_last_event__7,
         MIN(CASE WHEN __seg >= 12 THEN m3 END) - 79 AS days_since_last_event__8
  FROM seg0
  GROUP BY __k
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
wide1 AS (
  SELECT __k,
         MIN(CASE WHEN __seg >= 0 THEN m0 END) - 0 AS days_since_last_payment__0,
         MIN(CASE WHEN __seg >= 1 THEN m0 END) - 30 AS days_since_last_payment__1,
         MIN(CASE WHEN __seg >= 2 THEN m0 END) - 37 AS days_since_last_payment__2,
         MIN(CASE WHEN __seg >= 3 THEN m0 END) - 44 AS days_since_last_payment__3,
         MIN(CASE WHEN __seg >= 4 THEN m0 END) - 51 AS days_since_last_payment__4,
         MIN(CASE WHEN __seg >= 5 THEN m0 END) - 58 AS days_since_last_payment__5,
         MIN(CASE WHEN __seg >= 7 THEN m0 END) - 65 AS days_since_last_payment__6,
         MIN(CASE WHEN __seg >= 9 THEN m0 END) - 72 AS days_since_last_payment__7,
         MIN(CASE WHEN __seg >= 11 THEN m0 END) - 79 AS days_since_last_payment__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 13 THEN m1 END) AS payments_90d__0,
         SUM(CASE WHEN __seg BETWEEN 1 AND 17 THEN m1 END) AS payments_90d__1,
         SUM(CASE WHEN __seg BETWEEN 2 AND 18 THEN m1 END) AS payments_90d__2,
         SUM(CASE WHEN __seg BETWEEN 3 AND 19 THEN m1 END) AS payments_90d__3,
         SUM(CASE WHEN __seg BETWEEN 4 AND 20 THEN m1 END) AS payments_90d__4,
         SUM(CASE WHEN __seg BETWEEN 5 AND 21 THEN m1 END) AS payments_90d__5,
         SUM(CASE WHEN __seg BETWEEN 7 AND 22 THEN m1 END) AS payments_90d__6,
         SUM(CASE WHEN __seg BETWEEN 9 AND 23 THEN m1 END) AS payments_90d__7,
         SUM(CASE WHEN __seg BETWEEN 11 AND 24 THEN m1 END) AS payments_90d__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 13 THEN m2 END) AS monetary_90d__0,
         SUM(CASE WHEN __seg BETWEEN 1 AND 17 THEN m2 END) AS monetary_90d__1,
         SUM(CASE WHEN __seg BETWEEN 2 AND 18 THEN m2 END) AS monetary_90d__2,
         SUM(CASE WHEN __seg BETWEEN 3 AND 19 THEN m2 END) AS monetary_90d__3,
         SUM(CASE WHEN __seg BETWEEN 4 AND 20 THEN m2 END) AS monetary_90d__4,
         SUM(CASE WHEN __seg BETWEEN 5 AND 21 THEN m2 END) AS monetary_90d__5,
         SUM(CASE WHEN __seg BETWEEN 7 AND 22 THEN m2 END) AS monetary_90d__6,
         SUM(CASE WHEN __seg BETWEEN 9 AND 23 THEN m2 END) AS monetary_90d__7,
         SUM(CASE WHEN __seg BETWEEN 11 AND 24 THEN m2 END) AS monetary_90d__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 0 THEN m3 END) AS payment_failures_30d__0,
         SUM(CASE WHEN __seg BETWEEN 1 AND 5 THEN m3 END) AS payment_failures_30d__1,
         SUM(CASE WHEN __seg BETWEEN 2 AND 7 THEN m3 END) AS payment_failures_30d__2,
         SUM(CASE WHEN __seg BETWEEN 3 AND 9 THEN m3 END) AS payment_failures_30d__3,
         SUM(CASE WHEN __seg BETWEEN 4 AND 11 THEN m3 END) AS payment_failures_30d__4,
         SUM(CASE WHEN __seg BETWEEN 5 AND 12 THEN m3 END) AS payment_failures_30d__5,
         SUM(CASE WHEN __seg BETWEEN 7 AND 14 THEN m3 END) AS payment_failures_30d__6,
         SUM(CASE WHEN __seg BETWEEN 9 AND 15 THEN m3 END) AS payment_failures_30d__7,
         SUM(CASE WHEN __seg BETWEEN 11 AND 16 THEN m3 END) AS payment_failures_30d__8,
         SUM(CASE WHEN __seg BETWEEN 0 AND 13 THEN m3 END) AS payment_failures_90d__0,
         SUM(CASE WHEN __seg BETWEEN 1 AND 17 THEN m3 END) AS payment_failures_90d__1,
         SUM(CASE WHEN __seg BETWEEN 2 AND 18 THEN m3 END) AS payment_failures_90d__2,
         SUM(CASE WHEN __seg BETWEEN 3 AND 19 THEN m3 END) AS payment_failures_90d__3,
         SUM(CASE WHEN __seg BETWEEN 4 AND 20 THEN m3 END) AS payment_failures_90d__4,
         SUM(CASE WHEN __seg BETWEEN 5 AND 21 THEN m3 END) AS payment_failures_90d__5,
         SUM(CASE WHEN __seg BETWEEN 7 AND 22 THEN m3 END) AS payment_failures_90d__6,
         SUM(CASE WHEN __seg BETWEEN 9 AND 23 THEN m3 END) AS payment_failures_90d__7,
         SUM(CASE WHEN __seg BETWEEN 11 AND 24 THEN m3 END) AS payment_failures_90d__8
  FROM seg1
  GROUP BY __k
),
latest1 AS (
  SELECT s.customer_id, s.as_of,
         max_by(t.plan, t.started_at) AS plan,
         max_by(t.monthly_price, t.started_at) AS monthly_price
  FROM spine s
  JOIN subscriptions t ON t.customer_id = s.customer_id AND CAST(t.started_at AS DATE) <= s.as_of
  GROUP BY s.customer_id, s.as_of
),
label AS (
  SELECT s.customer_id, s.as_of,
         MAX(CASE WHEN CAST(t.cancelled_at AS DATE) > s.as_of AND CAST(t.cancelled_at AS DATE) <= date_add(s.as_of, 30) THEN 1 ELSE 0 END) AS y
  FROM spine s
  JOIN subscriptions t ON t.customer_id = s.customer_id
  WHERE s.split = 'train' AND t.cancelled_at IS NOT NULL
  GROUP BY s.customer_id, s.as_of
)
SELECT s.customer_id,
       s.as_of,
       s.split,
       CAST(datediff(s.as_of, CAST(v0.signup_ts AS DATE)) AS INT) AS tenure_days,
       CAST(v1.plan AS STRING) AS plan,
       CAST(v1.monthly_price AS DOUBLE) AS monthly_price,
       CAST(v0.country AS STRING) AS country,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w0.events_7d__0 WHEN 1 THEN w0.events_7d__1 WHEN 2 THEN w0.events_7d__2 WHEN 3 THEN w0.events_7d__3 WHEN 4 THEN w0.events_7d__4 WHEN 5 THEN w0.events_7d__5 WHEN 6 THEN w0.events_7d__6 WHEN 7 THEN w0.events_7d__7 WHEN 8 THEN w0.events_7d__8 END, 0) AS BIGINT) AS events_7d,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w0.events_30d__0 WHEN 1 THEN w0.events_30d__1 WHEN 2 THEN w0.events_30d__2 WHEN 3 THEN w0.events_30d__3 WHEN 4 THEN w0.events_30d__4 WHEN 5 THEN w0.events_30d__5 WHEN 6 THEN w0.events_30d__6 WHEN 7 THEN w0.events_30d__7 WHEN 8 THEN w0.events_30d__8 END, 0) AS BIGINT) AS events_30d,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w0.events_90d__0 WHEN 1 THEN w0.events_90d__1 WHEN 2 THEN w0.events_90d__2 WHEN 3 THEN w0.events_90d__3 WHEN 4 THEN w0.events_90d__4 WHEN 5 THEN w0.events_90d__5 WHEN 6 THEN w0.events_90d__6 WHEN 7 THEN w0.events_90d__7 WHEN 8 THEN w0.events_90d__8 END, 0) AS BIGINT) AS events_90d,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w0.support_events_30d__0 WHEN 1 THEN w0.support_events_30d__1 WHEN 2 THEN w0.support_events_30d__2 WHEN 3 THEN w0.support_events_30d__3 WHEN 4 THEN w0.support_events_30d__4 WHEN 5 THEN w0.support_events_30d__5 WHEN 6 THEN w0.support_events_30d__6 WHEN 7 THEN w0.support_events_30d__7 WHEN 8 THEN w0.support_events_30d__8 END, 0) AS BIGINT) AS support_events_30d,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w0.cancel_page_views_30d__0 WHEN 1 THEN w0.cancel_page_views_30d__1 WHEN 2 THEN w0.cancel_page_views_30d__2 WHEN 3 THEN w0.cancel_page_views_30d__3 WHEN 4 THEN w0.cancel_page_views_30d__4 WHEN 5 THEN w0.cancel_page_views_30d__5 WHEN 6 THEN w0.cancel_page_views_30d__6 WHEN 7 THEN w0.cancel_page_views_30d__7 WHEN 8 THEN w0.cancel_page_views_30d__8 END, 0) AS BIGINT) AS cancel_page_views_30d,
       CAST(CASE s.i WHEN 0 THEN w0.days_since_last_event__0 WHEN 1 THEN w0.days_since_last_event__1 WHEN 2 THEN w0.days_since_last_event__2 WHEN 3 THEN w0.days_since_last_event__3 WHEN 4 THEN w0.days_since_last_event__4 WHEN 5 THEN w0.days_since_last_event__5 WHEN 6 THEN w0.days_since_last_event__6 WHEN 7 THEN w0.days_since_last_event__7 WHEN 8 THEN w0.days_since_last_event__8 END AS INT) AS days_since_last_event,
       CAST(CASE s.i WHEN 0 THEN w1.days_since_last_payment__0 WHEN 1 THEN w1.days_since_last_payment__1 WHEN 2 THEN w1.days_since_last_payment__2 WHEN 3 THEN w1.days_since_last_payment__3 WHEN 4 THEN w1.days_since_last_payment__4 WHEN 5 THEN w1.days_since_last_payment__5 WHEN 6 THEN w1.days_since_last_payment__6 WHEN 7 THEN w1.days_since_last_payment__7 WHEN 8 THEN w1.days_since_last_payment__8 END AS INT) AS days_since_last_payment,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w1.payments_90d__0 WHEN 1 THEN w1.payments_90d__1 WHEN 2 THEN w1.payments_90d__2 WHEN 3 THEN w1.payments_90d__3 WHEN 4 THEN w1.payments_90d__4 WHEN 5 THEN w1.payments_90d__5 WHEN 6 THEN w1.payments_90d__6 WHEN 7 THEN w1.payments_90d__7 WHEN 8 THEN w1.payments_90d__8 END, 0) AS BIGINT) AS payments_90d,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w1.monetary_90d__0 WHEN 1 THEN w1.monetary_90d__1 WHEN 2 THEN w1.monetary_90d__2 WHEN 3 THEN w1.monetary_90d__3 WHEN 4 THEN w1.monetary_90d__4 WHEN 5 THEN w1.monetary_90d__5 WHEN 6 THEN w1.monetary_90d__6 WHEN 7 THEN w1.monetary_90d__7 WHEN 8 THEN w1.monetary_90d__8 END, 0) AS DOUBLE) AS monetary_90d,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w1.payment_failures_30d__0 WHEN 1 THEN w1.payment_failures_30d__1 WHEN 2 THEN w1.payment_failures_30d__2 WHEN 3 THEN w1.payment_failures_30d__3 WHEN 4 THEN w1.payment_failures_30d__4 WHEN 5 THEN w1.payment_failures_30d__5 WHEN 6 THEN w1.payment_failures_30d__6 WHEN 7 THEN w1.payment_failures_30d__7 WHEN 8 THEN w1.payment_failures_30d__8 END, 0) AS BIGINT) AS payment_failures_30d,
       CAST(COALESCE(CASE s.i WHEN 0 THEN w1.payment_failures_90d__0 WHEN 1 THEN w1.payment_failures_90d__1 WHEN 2 THEN w1.payment_failures_90d__2 WHEN 3 THEN w1.payment_failures_90d__3 WHEN 4 THEN w1.payment_failures_90d__4 WHEN 5 THEN w1.payment_failures_90d__5 WHEN 6 THEN w1.payment_failures_90d__6 WHEN 7 THEN w1.payment_failures_90d__7 WHEN 8 THEN w1.payment_failures_90d__8 END, 0) AS BIGINT) AS payment_failures_90d,
       CAST(v2.company_size AS BIGINT) AS company_size,
       CAST(v2.industry AS STRING) AS industry,
       CAST(v2.credit_band AS STRING) AS credit_band,
       CAST(CASE WHEN s.split = 'train' THEN COALESCE(l.y, 0) END AS INT) AS churned
FROM spine s
LEFT JOIN wide0 w0 ON w0.__k = s.customer_id
LEFT JOIN wide1 w1 ON w1.__k = s.customer_id
LEFT JOIN customers v0 ON v0.customer_id = s.customer_id AND CAST(v0.signup_ts AS DATE) <= s.as_of
LEFT JOIN latest1 v1 ON v1.customer_id = s.customer_id AND v1.as_of = s.as_of
LEFT JOIN accounts v2 ON v2.customer_id = s.customer_id AND CAST(v2.updated_date AS DATE) <= s.as_of
LEFT JOIN label l ON l.customer_id = s.customer_id AND l.as_of = s.as_of
