"""Identity: organisations, users and services, roles, grants, login, and the one policy check.

- :mod:`~services.identity.policy`: ``authorize`` / ``require``, asked by every command, API
  route and DAG task; the role-verb table it reads is :mod:`~services.identity.roles`, the
  securables and their owners :mod:`~services.identity.securables`;
- :mod:`~services.identity.authentication`: login (lockout), token verification, logout, own
  password change; :mod:`~services.identity.tokens` signs and reads the tokens,
  :mod:`~services.identity.passwords` holds the password policy and Argon2id hashing,
  :mod:`~services.identity.settings` the lockout and lifetime settings and the clock;
- :mod:`~services.identity.user_admin`: the first platform administrator, then users and
  services added, listed, locked, disabled and given new passwords;
- :mod:`~services.identity.delegation`: role assignments and grants, never beyond the
  authority of whoever makes them, with separation of duties for the auditor;
- rows: :mod:`~services.identity.accounts`, :mod:`~services.identity.assignments`,
  :mod:`~services.identity.grants`, and :mod:`~services.identity.organisations` (the tree from
  conf and its copy in the platform DB);
- :mod:`~services.identity.trail`: the audit row of every identity action and every refusal.
"""
