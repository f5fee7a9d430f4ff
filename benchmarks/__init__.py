"""``make bench``: the figures that show how fast the system is (never asserted in tests)."""
