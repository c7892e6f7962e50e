"""Every HTTP door: the snippet's API, carrier webhooks, the admin API and the dashboard."""
