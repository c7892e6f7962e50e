"""The dashboard for people: settings, reports and privacy pages."""
