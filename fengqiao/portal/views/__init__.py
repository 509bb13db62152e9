"""The residents' pages (thin: parse input, call one selector or service, render)."""
