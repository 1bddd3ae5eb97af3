"""The one evaluation entry: `prepare` an expression (text, JSON form or a saved
definition) once, then count, list, sample, page or chunk its members with the functions
of `run`. See store/query/prepare.py."""

from store.query.planner import plan
from store.query.prepare import PreparedQuery, prepare, prepare_segment
from store.query.run import chunks, count, first, members, page

__all__ = ["PreparedQuery", "chunks", "count", "first", "members", "page", "plan", "prepare",
           "prepare_segment"]
