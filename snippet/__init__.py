"""The website snippet: shipped inside the wheel as ``ringtrail.snippet``."""
