"""Reports: queries, CSV exports, traffic counters, pool sizing and the simulator."""
