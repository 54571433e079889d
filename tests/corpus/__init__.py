"""The broken-and-odd input corpus: built from ``../shared/data`` at test time, never committed."""
