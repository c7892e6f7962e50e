"""Call records: typed call events, the queue and the spool, records and attribution."""
