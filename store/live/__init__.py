"""Live segments: every saved, non-binned segment's membership kept current as contacts,
lists and events are written and as time passes, with its entries and exits recorded
(docs/live-segments.md).

One concern per module: `clock` (the live time of a database), `registry` (the live
segments and what they read), `evaluation` (one contact against one segment), `membership`
(the maintained membership and its differences), `changes` (the change records),
`maintenance` (writes → re-evaluation, crash-safe), `rebuild` (a definition changed),
`sweep` (time passing, with leases), `webhooks` (delivery), `entry` (the one place that
evaluates a whole segment with the pipeline).
"""
