"""Market regulation's enterprise registry: contract, standardisation, directory, seed."""
