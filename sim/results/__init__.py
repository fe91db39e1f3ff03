"""What a run produced: per-case and per-station records, statistics, the run result and
the one table of KPIs (name, unit, label, direction, format) every output reads."""
