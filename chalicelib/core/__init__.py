"""What every other package stands on: settings, errors, the clock, the PynamoDB models,
and the one Logger, Metrics and Tracer."""
