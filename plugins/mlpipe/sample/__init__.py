"""The embedded sample business: a seeded simulation that writes the local stack's three sources.

* an OLTP database (customers, subscriptions, payments) with change capture installed,
* clickstream JSON lines on a file share (``<share>/YYYY/MM/DD/events-NNNN.jsonl``),
* a partner's daily CSV drop in a landing directory,

with optional defects per date and a distribution drift. Usage::

    from mlpipe.sample import generate, reset
    report = generate(cfg, [date(2026, 11, 1), date(2026, 11, 2)], defects={date(2026, 11, 2): {"nulls"}})
    print(report.summary())

CLI: ``python -m mlpipe.sample generate --start 2026-11-01 --end 2026-11-03`` (see ``--help``).
"""

from mlpipe.sample.defects import DEFECTS
from mlpipe.sample.generator import GenerationReport, generate, reset
from mlpipe.sample.partner import deliver_late_drop

__all__ = ["DEFECTS", "GenerationReport", "deliver_late_drop", "generate", "reset"]
