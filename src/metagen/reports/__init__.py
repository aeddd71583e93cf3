"""Evaluation protocols run end to end on a trained run or a peer model, and the reports they write
(``report.json`` with every number, ``report.md`` with tables and figures)."""
