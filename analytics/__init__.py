"""Search analytics: query and feedback events, their store, and Kendra's GetSnapshots metrics.

Modules: ``events`` (the event values), ``store`` (SQLite), ``capture`` (the non-blocking buffer
between the query path and the store), ``snapshots`` (intervals and metrics), ``service`` (the
SubmitFeedback / GetSnapshots handlers and the query recorder the app wires in).
"""
