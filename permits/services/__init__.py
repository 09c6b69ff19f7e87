"""Writes for permits: one module per part of the workflow (style habit 1).

staff.py (staff lists), requests.py (requests and their review), keys.py (signing keys),
issuance.py (issuing and revoking permits), printing.py (print jobs).
"""
