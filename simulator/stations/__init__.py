"""Simulated dial-in stations: HJ 212 monitors and 4G DTU sites that connect to the hub like real ones."""
