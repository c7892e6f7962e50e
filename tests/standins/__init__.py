"""Local stand-ins for third parties, on 127.0.0.1, speaking their real protocols."""
