"""The dashboard's CSS and scripts: shipped inside the wheel as ``ringtrail.static``."""
