"""Personal data: erasure on request and retention limits."""
