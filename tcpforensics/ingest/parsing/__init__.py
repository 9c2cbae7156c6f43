"""The helper library of the text formats (``tcpforensics/ingest/formats/``).

- ``columns``: pyarrow string columns to numpy and pandas (clean lines, RE2 matches, ordered
  rule tables, group extraction, categoricals, integers, hexadecimal, states);
- ``endpoints``: printed endpoints to addresses, port numbers and address families;
- ``vocab``: the state words of every tool and language, mapped to the canonical states;
- ``records``: the collectors' exports (delimited tables under a header, ``Key : Value``
  blocks, fixed-width table views), their time stamps, and socket rows from named fields;
- ``json_records``: JSON lines or one pretty-printed document, read into a frame of wanted keys.

A format module takes its helpers from here and from nowhere else in ``ingest``; besides
them it imports only its interface, ``ingest/base.py`` (``Lines``, ``Parsed``).
"""
