"""Sharing: departments apply for catalog resources; an authorised application is a share grant.

- :mod:`~catalog.sharing.terms`: what an applicant fills in, the share modes, what a grant holds;
- :mod:`~catalog.sharing.workflow`: which step leads from which status to which, and which
  verb of the policy each step needs (pure rules);
- :mod:`~catalog.sharing.applications`: applying and every later step, each by an allowed
  principal, with a comment, as one event and one audit row;
- :mod:`~catalog.sharing.grants`: the grant rows and the one question every share path asks,
  which active grant lets an organisation read a dataset in a mode, now.
"""
