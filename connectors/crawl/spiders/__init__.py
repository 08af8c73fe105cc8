"""Spiders: the declarative one built from conf, and hand-written ones for particular sites."""
