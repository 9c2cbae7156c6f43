"""The input formats, one module (or package) each: every module here is a format.

``tcpforensics/ingest/registry.py`` finds them by listing this package (names starting with
``_`` are left out) and reads what each declares: see its docstring for the declarations, and
docs/architecture.md for how to add a format.
"""
