"""Metering: what chargers' MeterValues mean, in the units people automate (issue 9).

parse.py reads one meterValue into normalised quantities (kWh, kW, A, V, Hz, %, °C); the derived
elements (Metering.*) build on it.
"""
