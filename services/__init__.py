"""Platform services under the catalog: who is who, what they may do, and what they did.

Identity (organisations, users, roles, grants, login), the one policy check, and the audit
ledger. Services read and write the platform DB through the runtime they are given; the
catalog and the entry points above them call them, the engine below never does
(docs/adr/0011-layers.md).
"""
