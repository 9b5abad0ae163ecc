"""Live delivery: a pure core (core, wire), the pub/sub broker, the writer, the hub and two transport adapters."""
