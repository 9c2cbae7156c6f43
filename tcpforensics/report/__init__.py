"""Reporters: the Report model (``model``), its renderers (``render``: table, Markdown, CSV,
JSON), flow tables (``zeek``), the streamed event table (``event_stream``) and plots."""
