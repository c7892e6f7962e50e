"""Visits and leases: the session API's logic, the snippet, pools, visits and classification."""
