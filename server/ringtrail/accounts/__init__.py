"""People and configuration: principals, keys, tenancy, audit, rate limits, config services."""
