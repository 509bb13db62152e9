"""Pages of village affairs: the residents' pages (public.py) and the staff pages (staff.py, qr.py)."""
