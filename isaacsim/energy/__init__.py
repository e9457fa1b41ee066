"""Energy: event counts x component tables -> breakdowns (and peak power/area from the tables alone)."""
