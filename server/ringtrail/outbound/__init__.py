"""What leaves Ringtrail after a call: signed webhooks, notifications (e-mail, Slack) and
conversions for the ad platforms. Each listens to :mod:`ringtrail.calls.hooks`, writes
rows in the transaction that changed the call, and sends them later from jobs."""
