"""Calls sent back to the ad platforms as conversions: Google Ads (the Data Manager API)
and GA4 (the Measurement Protocol).

``rules.py`` decides which calls count; ``log.py`` listens to the calls' hooks and writes
the upload log; ``send.py`` sends it from jobs (``google_ads.py``, ``ga4.py``);
``destinations.py`` connects a client's platforms; ``pausing.py`` pauses one whose
credentials stopped working.
"""
