"""The service's records besides jobs: lotes and their lines, line errors, rule-set
versions. Domain objects in, domain objects out; no HTTP shapes."""
