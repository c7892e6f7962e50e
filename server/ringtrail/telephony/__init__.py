"""Carrier calls: webhook handling, call planning, TwiML, consent, the carrier's REST client."""
