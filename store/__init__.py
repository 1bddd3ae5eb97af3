"""Everything that touches MongoDB (PyMongo's async API): see docs/data-model.md."""
