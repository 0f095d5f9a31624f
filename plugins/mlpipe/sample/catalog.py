"""The sample business's vocabulary and behaviour parameters, in one place.

Rates are per customer and day unless said otherwise. Changing any value changes the generated data
(the state fingerprint does not cover these: run ``python -m mlpipe.sample reset`` after editing).
"""

from __future__ import annotations

# ---------------------------------------------------------------- products and places
PLANS = ("basic", "standard", "premium")
PLAN_PROBS = (0.45, 0.40, 0.15)
PLAN_PRICES = (7.99, 12.99, 19.99)
DRIFT_PRICE_FACTOR = 1.2  # drift: every active subscription is repriced on the drift date

COUNTRIES = ("US", "GB", "DE", "FR", "CA", "NL", "ES", "BR")
COUNTRY_PROBS = (0.42, 0.16, 0.13, 0.10, 0.08, 0.06, 0.05, 0.0)
DRIFT_COUNTRY = "BR"  # a new market launched on the drift date
DRIFT_NEW_COUNTRY_SHARE = 0.5
CURRENCY = {"US": "USD", "CA": "CAD", "GB": "GBP", "BR": "BRL"}  # others: EUR

DEVICES = ("web", "ios", "android")
DEVICE_PROBS = (0.55, 0.25, 0.20)
DRIFT_DEVICE_PROBS = (0.20, 0.42, 0.38)
DEVICE_LOYALTY = 0.8  # share of a customer's events on their own device

FIRST_NAMES = ("Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger",
               "Radia", "Guido", "Hedy", "Tim", "Katherine", "John", "Sophie", "Niklaus", "Anita", "Bjarne")
LAST_NAMES = ("Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
              "Dijkstra", "Perlman", "Rossum", "Lamarr", "Berners-Lee", "Johnson", "McCarthy", "Wilson", "Wirth",
              "Borg", "Stroustrup")

# ---------------------------------------------------------------- clickstream
EVENT_TYPES = ("page_view", "search", "add_to_cart", "purchase", "support_contact", "account_settings",
               "cancel_flow_view")
# event-type mix by satisfaction bucket: low (< -0.75), mid, high (> 0.75)
EVENT_TYPE_PROBS = (
    (0.50, 0.14, 0.05, 0.02, 0.13, 0.07, 0.09),
    (0.55, 0.20, 0.10, 0.05, 0.04, 0.04, 0.02),
    (0.50, 0.22, 0.13, 0.10, 0.02, 0.025, 0.005),
)
SAT_BUCKET_EDGES = (-0.75, 0.75)
PAGE_BY_TYPE = ("/browse", "/search", "/title/{n}", "/checkout", "/help/contact", "/account", "/account/cancel")
PAGE_VIEW_PAGES = ("/home", "/browse", "/new", "/top10", "/title/{n}", "/title/{n}")
TITLES = 500
SESSION_SECONDS = 1800
EVENTS_PER_SESSION = 6
ENGAGEMENT_SAT = 1.1  # events rate ~ exp(ENGAGEMENT_SAT * satisfaction)
ENGAGEMENT_PLAN = (0.8, 1.0, 1.3)
ENGAGEMENT_NEW_CUSTOMER = 1.4  # first 30 days
DRIFT_EVENTS_FACTOR = 0.6

# ---------------------------------------------------------------- latent satisfaction (AR(1) random walk)
SAT_PERSISTENCE = 0.985
SAT_NOISE = 0.17
SAT_PAYMENT_FAILURE_SHOCK = -0.3

# ---------------------------------------------------------------- lifecycle
SIGNUP_RATE = 0.0035  # new customers per day, as a share of the initial customer count
DRIFT_SIGNUP_FACTOR = 2.0
INITIAL_MAX_TENURE_DAYS = 730
BILLING_PERIOD_DAYS = 30
# churn hazard: logit = CHURN_BASE + CHURN_SAT * sat + CHURN_NEW * (tenure < 45) + CHURN_PLAN[plan]
#                       + CHURN_RECENT_FAILURE * (payment failed within 14 days)
# Tenure, plan and payment failures drive churn independently of satisfaction (which shows only through
# engagement), so no single feature explains the label: a model using all of them beats the best
# single-feature rule clearly (test AUC +0.04..+0.09 over it across seeds in a simulation without the lake).
CHURN_BASE = -6.9
CHURN_SAT = -1.1
CHURN_NEW = 2.5
CHURN_PLAN = (1.0, 0.0, -0.8)
CHURN_RECENT_FAILURE = 1.6
# payment failure: logit = FAIL_BASE + FAIL_SAT * sat
FAIL_BASE = -2.9
FAIL_SAT = -0.9
RETRY_AFTER_DAYS = (3, 4)  # first and second retry of a failed payment; after that: involuntary churn
RETRY_SUCCESS = 0.6
REFUND_WINDOW_DAYS = 5
REFUND_PROB = 0.5
PLAN_CHANGE_RATE = 0.002
EMAIL_CHANGE_RATE = 0.001
OPT_IN_FLIP_RATE = 0.0015
ERASURE_RATE = 0.01  # GDPR erasure, per cancelled customer and day, from 14 days after cancelling
ERASURE_AFTER_DAYS = 14
VOID_RATE = 0.01  # share of a day's billing payments voided (deleted) the same day

# ---------------------------------------------------------------- partner (CRM enrichment)
INDUSTRIES = ("software", "retail", "finance", "healthcare", "education", "manufacturing", "media", "public")
CREDIT_BANDS = ("A", "B", "C", "D", "E")
CREDIT_CHANGE_RATE = 0.003
COMPANY_SIZE_CHANGE_RATE = 0.001
CREDIT_WORSENS_ON_FAILURE = 0.3
