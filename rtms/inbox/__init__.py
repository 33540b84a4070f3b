"""The inbox: every Zoom event, from either channel, on its way to state. The modules follow one event:

1. ``webhook``: ``POST /zoom/webhook`` verifies the signature (the event WebSocket client,
   rtms/management/commands/zoom_events.py, is the other way in);
2. ``receive``: parses the body and hands it to the store, then to the publisher after commit;
3. ``store``: one upsert under the dedupe key, so the first copy from either channel wins;
4. ``publish``: sends tasks by their stable names (route, apply, start), batched by a background thread;
5. ``route`` (worker, queue ``control``): decides the owning region by the residency rules, or quarantines;
6. ``apply`` (worker, the region's queue): moves meetings and streams through the state machines;
7. ``facts``: what an event says about its meeting (uuid, account, residency facts), used by both;
8. ``sweep``: re-enqueues rows left pending (lost publish, killed process), so the inbox, not the broker,
   is the source of truth; ``reroute`` sends quarantined events back through routing after a rule change.

``attempts`` counts every route and apply try outside its transaction and fails a row at
INBOX_MAX_ATTEMPTS, so no event can poison the inbox; ``gauges`` is what /metrics says about the inbox.

The Celery tasks themselves are thin adapters in rtms/tasks.py.
"""
