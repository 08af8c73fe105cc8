"""The enterprise credit profile: the fusion of registry, payments and penalties by credit code."""
