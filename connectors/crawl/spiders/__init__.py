"""The declarative spider built from conf; hand-written ones live in ``subjects/<subject>/``."""
