"""Models of village affairs."""
