"""Models of resident portal."""
