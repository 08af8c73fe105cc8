"""Market regulation's penalty notices: the seeded website, its spider, their standardisation."""
