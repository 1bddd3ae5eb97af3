"""The SegmentQL grammar, as Lark grammar files: data, not code."""
