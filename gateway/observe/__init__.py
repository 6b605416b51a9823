"""What every layer reports through: logs (one line per event, naming the message and project
it concerns) and the process's Prometheus counters; the ops endpoints serve them (runtime/)."""
