"""Village affairs: notices and village news, village affairs disclosures reviewed by the supervision
committee, and online appointments with the offices. Staff pages and the portal's public pages."""
