"""A bench-only Django site for bench/verify_load.py (a package so `make bench` skips it)."""
