"""Search analytics: query and feedback events, their store, metrics, suggestions and learning.

Modules: ``events`` (the event values), ``store`` (SQLite), ``capture`` (the non-blocking buffer
between the query path and the store), ``stream`` (the Redis stream of distributed mode),
``snapshots`` (intervals and metrics), ``trends`` (the KensakuGetTrends extension),
``suggestions`` (suggestion rules and the prefix index), ``suggest_service`` (GetQuerySuggestions,
its config and block lists), ``blocklists`` (reading block-list files), ``learning`` (learning from
clicks), ``service`` (the handlers and the query recorder the app wires in).
"""
